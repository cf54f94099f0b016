//! SQLite specifics: WAL with `synchronous=FULL`, so a committed write survives a crash
//! of the process or the machine, and a busy timeout so the CLI can write while the
//! server runs. `LIKE` is case-sensitive, as on PostgreSQL.

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AnyPool, Connection, Executor};

use super::connect_errors::sqlite_open_error;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Set on every connection.
const PRAGMAS: &str = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON;";

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> anyhow::Result<AnyPool> {
    probe(url).await?;
    let pool = options
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(PRAGMAS).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("{}", sqlite_open_error(url, &e)))?;
    // WAL is a property of the file, and `probe` set it: it holds for every connection
    // of the pool.
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// The database file a `sqlite:` URL names; `None` for an in-memory database.
pub(super) fn file_of(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.starts_with(":memory:") && !url.contains("mode=memory"))
        .then(|| std::path::PathBuf::from(path))
}

/// One connection as the pool would make it, so a file that cannot be opened or written
/// fails once, with its path and the OS error, rather than through the pool's retries.
async fn probe(url: &str) -> anyhow::Result<()> {
    let attempt = async {
        let mut conn = SqliteConnection::connect(url).await?;
        conn.execute(PRAGMAS).await?;
        // The first write (SQLite opens a file it may only read without complaint), and
        // the journal mode every later connection inherits from the file.
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.close().await
    };
    attempt
        .await
        .map_err(|e| anyhow::anyhow!("{}", sqlite_open_error(url, &e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Durability rests on WAL with `synchronous=FULL`: a new file is in WAL mode for
    /// every connection of the pool, though only the probe asks for it.
    #[tokio::test]
    async fn a_new_database_is_in_wal_mode_on_every_pooled_connection() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        let pool = connect(&url, AnyPoolOptions::new()).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = pool.acquire().await.unwrap();
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            held.push(conn);
        }
    }
}
