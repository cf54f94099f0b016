//! Opening a store that `konnektd serve` made: the CLI's commands act on the server's
//! database, so one that is not there (a wrong `--data-dir`, another working directory,
//! a mistyped database name) is refused instead of being created empty, where a token
//! would be minted that the running server has never heard of.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnectOptions;

use super::connect_errors::redact_url;
use super::{Backend, Store};

/// Why [`Store::open_existing`] did not open a store.
#[derive(Debug, thiserror::Error)]
pub enum NotOpened {
    /// No konnektd store where the URL points; the text says what was looked for.
    #[error("{0}")]
    Missing(String),
    /// The store may be there, but opening it failed (unreachable, no permission, ...).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Store {
    /// Opens the store at `url` only if it exists and carries every migration of this
    /// konnektd: never creates a SQLite file or runs a migration (that is `serve`'s job).
    pub async fn open_existing(url: &str) -> Result<Self, NotOpened> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| {
            anyhow::anyhow!("database URL must start with sqlite:// or postgres://")
        })?;
        let applied = match backend {
            Backend::Sqlite => sqlite_migrations(url).await?,
            Backend::Postgres => postgres_migrations(url).await?,
        };
        let Some(applied) = applied else {
            return Err(NotOpened::Missing(format!(
                "{} has no konnektd tables",
                redact_url(url)
            )));
        };
        let migrator = match backend {
            Backend::Sqlite => &super::sqlite::MIGRATOR,
            Backend::Postgres => &super::postgres::MIGRATOR,
        };
        let pending: Vec<i64> = migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        if !pending.is_empty() {
            return Err(NotOpened::Missing(format!(
                "{} lacks migrations {pending:?} of this konnektd version",
                redact_url(url)
            )));
        }
        // Everything is applied, so the ordinary open migrates nothing; it keeps one
        // connecting path (pool settings, pragmas) for the server and the CLI.
        Ok(Store::open(url).await?)
    }
}

/// The migrations applied to an existing SQLite file; `None` when it has no konnektd
/// tables. Opened without `create_if_missing`, so a missing file stays missing.
async fn sqlite_migrations(url: &str) -> Result<Option<Vec<i64>>, NotOpened> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("bad SQLite URL {url}: {e}"))?
        .create_if_missing(false);
    let path = PathBuf::from(options.get_filename());
    if !path.is_file() {
        return Err(NotOpened::Missing(format!(
            "no SQLite database at {}",
            path.display()
        )));
    }
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open SQLite database {}: {e}", path.display()))?;
    let has_table: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(anyhow::Error::from)?;
    let applied = if has_table {
        Some(
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut conn)
                .await
                .map_err(anyhow::Error::from)?,
        )
    } else {
        None
    };
    let _ = conn.close().await;
    Ok(applied)
}

/// The migrations applied to an existing PostgreSQL database; `None` when it has no
/// konnektd tables. A database that does not exist is [`NotOpened::Missing`].
async fn postgres_migrations(url: &str) -> Result<Option<Vec<i64>>, NotOpened> {
    let shown = redact_url(url);
    let mut conn = match sqlx::PgConnection::connect(url).await {
        Ok(conn) => conn,
        // invalid_catalog_name: the server is there, the database is not.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            return Err(NotOpened::Missing(format!(
                "no PostgreSQL database {shown}"
            )));
        }
        Err(e) => {
            return Err(anyhow::anyhow!("cannot connect to PostgreSQL at {shown}: {e}").into());
        }
    };
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .map_err(anyhow::Error::from)?;
    let applied = if has_table {
        Some(
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut conn)
                .await
                .map_err(anyhow::Error::from)?,
        )
    } else {
        None
    };
    let _ = conn.close().await;
    Ok(applied)
}
