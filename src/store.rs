//! Durable state behind one API, on SQLite (the embedded default) or PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: `$N` placeholders, text
//! ids, integer timestamps and JSON kept as text work alike on both. What differs per
//! backend (connecting, pragmas, migrations) lives in [`sqlite`] and [`postgres`].
//! Every write commits before it returns, so a 2xx built on it survives a crash, and
//! every write that changes what data planes get publishes itself ([`changes`]).
//!
//! Points in time are [`Timestamp`](crate::domain::Timestamp)s above the store and
//! integers in its tables, in one unit per table, converted where rows are bound and
//! read: milliseconds in `tokens`, `control_planes` and `plugin_schemas`; whole seconds
//! (Kong's unit) in `core_entities`, `dp_client_certificates` and `data_plane_nodes`.

mod changes;
mod connect_errors;
mod control_planes;
pub mod core_entities;
pub mod data_planes;
pub mod entity_reads;
pub mod existing;
mod group_commit;
mod plugin_schemas;
pub mod postgres;
mod server_keys;
pub mod sqlite;
mod token_cache;
mod tokens;

pub use changes::{CONFIG_CHANNEL, Change, ChangeListener, EntityKey, EntityRow};
pub use plugin_schemas::PLUGIN_SCHEMAS_CHANNEL;
pub use token_cache::TOKENS_CHANNEL;

use std::path::Path;

use prometheus_client::metrics::histogram::Histogram;
use sqlx::AnyPool;
use sqlx::any::Any;
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write; the text names what clashed.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database could not be reached or answered with a transient failure.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    fn from_sqlx(e: sqlx::Error, what_clashed: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(what_clashed)
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| is_transient(&c)) => {
                StoreError::Unavailable(e)
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
            _ => StoreError::Database(e),
        }
    }
}

/// PostgreSQL's SQLSTATEs for a server that is going away or not taking connections: a
/// pooled connection hears "terminating connection due to administrator command"
/// (57P01) at its next query after a restart began. They are worth a retry, not a 500.
fn is_transient(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from_sqlx(e, "record")
    }
}

/// The handle every part of konnektd uses for persistence. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time; queueing ours here beats spinning on its lock.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Plugin-schema sources as plugin writes look them up.
    sources: std::sync::Arc<plugin_schemas::SourceCache>,
    /// This node's id on the change channel, and who hears of committed changes.
    changes: std::sync::Arc<changes::Changes>,
    /// How long each query waited for a pooled connection, for `/metrics`.
    acquire_wait: Histogram,
    /// Tokens as authentication reads them.
    tokens: std::sync::Arc<token_cache::TokenCache>,
    /// Control planes whose rows are still being deleted, by this node or another.
    deleting: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>>,
    /// SQLite's entity writes, committed in groups by one writer task (`None` in that
    /// task's own handle, and on PostgreSQL).
    group: Option<std::sync::Arc<group_commit::GroupCommit>>,
}

/// A PostgreSQL `NOTIFY` sent inside a write's transaction, so other konnektd nodes hear
/// of the change exactly when it commits. Ignored on SQLite.
#[derive(Debug, Clone)]
struct Notification {
    channel: &'static str,
    payload: String,
}

/// How long a query waits for a connection by default: short enough that a request
/// during a database outage gets its 503 within 2 s (docs/threat-model.md, "Limits").
pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// How long a pooled connection may sit idle before it is pinged again at its next use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(1);

/// The database URL used when none is configured: a SQLite file in the data dir.
pub fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("konnektd.db").display()
    )
}

impl Store {
    /// Connects, prepares the backend and applies pending migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Store::open_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Store::open`], with how long a query may wait for a connection before it fails
    /// as unavailable (a database that is down, or a pool that stays exhausted).
    pub async fn open_with(
        url: &str,
        acquire_timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            anyhow::anyhow!("database URL must start with sqlite:// or postgres://")
        })?;
        // sqlx pings a connection when it goes back to the pool, and by default again when
        // it is taken out: a round trip per acquire that a busy server does not need. A
        // connection that sat idle long enough for the database to have gone away in the
        // meantime is still pinged before use.
        let options = AnyPoolOptions::new()
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    // A connection that fails its ping is dropped quietly and another taken.
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        return Ok(sqlx::Connection::ping(conn).await.is_ok());
                    }
                    Ok(true)
                })
            });
        let pool = match backend {
            Backend::Sqlite => sqlite::connect(url, options).await?,
            Backend::Postgres => postgres::connect(url, options).await?,
        };
        let mut store = Store {
            pool,
            backend,
            writer: Default::default(),
            sources: Default::default(),
            // Each opened store is one konnektd node on the change channel.
            changes: std::sync::Arc::new(changes::Changes::new(uuid::Uuid::new_v4())),
            acquire_wait: crate::metrics::wait_histogram(),
            deleting: Default::default(),
            tokens: std::sync::Arc::new(token_cache::TokenCache::new(match backend {
                Backend::Sqlite => sqlite::file_of(url),
                Backend::Postgres => None,
            })),
            group: None,
        };
        if backend == Backend::Sqlite {
            let group = group_commit::GroupCommit::start(store.clone());
            store.group = Some(std::sync::Arc::new(group));
        }
        Ok(store)
    }

    /// A pooled connection; every query takes one here, so the wait is measured.
    async fn connection(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        let started = std::time::Instant::now();
        let connection = self.pool.acquire().await;
        self.acquire_wait.observe(started.elapsed().as_secs_f64());
        connection
    }

    /// The waits for a pooled connection so far (shared, not copied), for `/metrics`.
    pub fn acquire_waits(&self) -> Histogram {
        self.acquire_wait.clone()
    }

    /// Registers `listener` for every committed [`Change`]: this node's writes, right
    /// after they commit, and other nodes' once [`Store::listen_to_other_nodes`] runs.
    pub fn on_change(&self, listener: ChangeListener) {
        self.changes.listen(listener);
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections open in the pool, and how many of them sit idle (for `/metrics`).
    pub fn pool_connections(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Whether the database answers a trivial query right now.
    pub async fn is_reachable(&self) -> bool {
        let Ok(mut connection) = self.connection().await else {
            return false;
        };
        sqlx::query("SELECT 1")
            .execute(&mut *connection)
            .await
            .is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Sends the notification of `change` in the write's transaction `tx`, so that the
    /// other nodes hear of it when it commits. Pair it with [`Store::publish`].
    async fn announce(
        &self,
        tx: &mut sqlx::AnyConnection,
        change: Change,
    ) -> Result<(), sqlx::Error> {
        notify_on(tx, self.backend, &self.changes.notification(change)).await
    }

    /// Tells this node's listeners of `change`, once the transaction that
    /// [announced](Store::announce) it has committed.
    fn publish(&self, change: Change) {
        self.changes.publish(change);
    }
}

/// Sends `notification` in a transaction, so that it goes out when the transaction commits.
async fn notify_on<'e, E>(
    executor: E,
    backend: Backend,
    notification: &Notification,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(notification.channel)
            .bind(notification.payload.clone())
            .execute(executor)
            .await?;
    }
    Ok(())
}

/// Reads a JSON text column into a value, flagging corrupt rows instead of panicking.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_uuid(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A value bound to a [`Sql`] statement.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// Dynamic SQL with `$N` placeholders. sqlx's `QueryBuilder` writes `?` for the `Any`
/// driver, which PostgreSQL rejects; `$N` works on both backends.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            binds: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }

    fn bind_text(&mut self, value: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(value.into()))
    }

    fn bind_int(&mut self, value: i64) -> &mut Self {
        self.bind(Bind::Int(value))
    }

    /// `(v1, v2, ...)` of text values; `(NULL)`, which `IN` matches with nothing, for
    /// none (PostgreSQL refuses `IN ()`).
    fn bind_text_list<I: IntoIterator<Item = String>>(&mut self, values: I) -> &mut Self {
        self.push("(");
        let mut empty = true;
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind_text(value);
            empty = false;
        }
        if empty {
            self.push("NULL");
        }
        self.push(")")
    }

    fn query(&self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for bind in &self.binds {
            query = match bind {
                Bind::Text(s) => query.bind(s.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }

    fn query_scalar<T>(
        &self,
    ) -> sqlx::query::QueryScalar<'static, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: Send + Unpin,
        (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(self.text.clone()));
        for bind in &self.binds {
            query = match bind {
                Bind::Text(s) => query.bind(s.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }
}
