//! SQLite specifics: WAL with `synchronous=FULL`, so a committed write survives a crash
//! of the process or the machine, and a busy timeout so the CLI can write while the
//! server runs. `LIKE` is case-sensitive, as on PostgreSQL.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> anyhow::Result<AnyPool> {
    let pool = options
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open SQLite database: {e}"))?;
    // WAL is a property of the file: set once, it holds for every later connection.
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&pool)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
