//! PostgreSQL specifics. Durability is PostgreSQL's own: with the default
//! `synchronous_commit = on` a commit returns only once its WAL is flushed. `LISTEN`
//! carries the other konnektd nodes' changes to this one.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{AnyPool, Connection};
use uuid::Uuid;

use super::connect_errors::redact_url;
use super::control_planes::DELETING_CHANNEL;
use super::{Backend, CONFIG_CHANNEL, PLUGIN_SCHEMAS_CHANNEL, Store, TOKENS_CHANNEL};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long the first connection may take before startup gives up on the server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> anyhow::Result<AnyPool> {
    probe(url).await?;
    let pool = options
        .max_connections(16)
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL at {}: {e}", redact_url(url)))?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// One plain connection first: its error is the cause (connection refused, password
/// authentication failed, database does not exist), where the pool would only time out.
async fn probe(url: &str) -> anyhow::Result<()> {
    let failed = |cause: String| {
        anyhow::anyhow!(
            "cannot connect to PostgreSQL at {}: {cause}",
            redact_url(url)
        )
    };
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        // PostgreSQL's own words, without sqlx's source-line suffix.
        Ok(Err(sqlx::Error::Database(e))) => Err(failed(e.message().to_string())),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

impl Store {
    /// Hears the other konnektd nodes on this PostgreSQL: their config changes reach this
    /// node's change listeners as [`Change`]s (its own notifications skipped), and their
    /// plugin-schema writes make it forget the sources it cached. Reconnects on failure.
    /// Returns once listening (or after `wait` at most), so a started node misses no
    /// change; does nothing on SQLite. Register the listeners ([`Store::on_change`])
    /// first.
    pub async fn listen_to_other_nodes(&self, database_url: String, wait: Duration) {
        if self.backend != Backend::Postgres {
            return;
        }
        let store = self.clone();
        let (listening, ready) = tokio::sync::oneshot::channel::<()>();
        let mut listening = Some(listening);
        tokio::spawn(async move {
            loop {
                if let Err(e) = store.listen(&database_url, &mut listening).await {
                    tracing::warn!(error = %e, "LISTEN for config changes failed");
                }
                // Revocations go unheard until the next LISTEN: read every token meanwhile.
                store.hearing_token_changes(false);
                // Whatever was missed meanwhile is caught by the hub's safety poll.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let _ = tokio::time::timeout(wait, ready).await;
    }

    /// Listens on one connection until it fails.
    async fn listen(
        &self,
        database_url: &str,
        listening: &mut Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect(database_url).await?;
        listener
            .listen_all([
                CONFIG_CHANNEL,
                PLUGIN_SCHEMAS_CHANNEL,
                TOKENS_CHANNEL,
                DELETING_CHANNEL,
            ])
            .await?;
        self.hearing_token_changes(true);
        if let Some(listening) = listening.take() {
            let _ = listening.send(());
        }
        // Schema changes may have gone unheard until now.
        self.forget_plugin_schemas(None);
        loop {
            match listener.try_recv().await? {
                Some(notification) => self.heard(notification.channel(), notification.payload()),
                // The connection dropped: what was sent meanwhile is lost. Listen anew,
                // caching no token until then.
                None => {
                    self.forget_plugin_schemas(None);
                    return Ok(());
                }
            }
        }
    }

    /// Acts on another node's notification.
    fn heard(&self, channel: &str, payload: &str) {
        if channel == TOKENS_CHANNEL {
            self.forget_tokens();
        } else if channel == DELETING_CHANNEL {
            if let Ok(cp) = Uuid::parse_str(payload) {
                self.heard_deleting(cp);
            }
        } else if channel == PLUGIN_SCHEMAS_CHANNEL {
            if let Ok(cp) = Uuid::parse_str(payload) {
                self.forget_plugin_schemas(Some(cp));
            }
        } else if let Some(change) = self.changes.heard(payload) {
            self.publish(change);
        }
    }
}
