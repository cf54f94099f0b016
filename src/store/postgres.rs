//! PostgreSQL specifics. Durability is PostgreSQL's own: with the default
//! `synchronous_commit = on` a commit returns only once its WAL is flushed.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> anyhow::Result<AnyPool> {
    let pool = options
        .max_connections(16)
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
