//! One snapshot per control plane, whatever the number of data planes: each committed
//! change marks the control plane dirty, a builder task re-exports once (bursts
//! coalesce into one rebuild that reads the latest state, so the last write is always
//! delivered) and publishes on a `watch` channel every session of that control plane
//! reads. On PostgreSQL, `NOTIFY` carries changes to the other konnektd nodes; a slow
//! re-export is the safety net.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::export::{Snapshot, build_snapshot_hashed, export_config};
use super::hash::{ConfigHashes, config_hashes};
use crate::store::PLUGIN_SCHEMAS_CHANNEL;
use crate::store::data_planes::Node;
use crate::store::{Notification, Store, StoreResult};

/// The PostgreSQL channel changes travel on between konnektd nodes.
pub const NOTIFY_CHANNEL: &str = "konnektd_config";
/// How often a control plane with connected data planes is re-exported anyway, in case
/// a notification was lost.
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Node status rows queued within this time are written in one transaction, so a change
/// fanned out to a thousand data planes (each pinging its new hash) costs a handful of
/// writes, not a thousand.
const STATUS_BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// How many data-plane handshakes and certificate re-checks may query the store at once.
/// A control-plane restart reconnects every data plane, a certificate change wakes every
/// live session: a thousand of them querying together would hold the pool from the API
/// until its requests time out with 503.
const STORE_TURNS: usize = 4;
/// How long a handshake or re-check waits for a store turn.
const TURN_WAIT: Duration = Duration::from_secs(2);
/// The payload other nodes receive when dp-client-certificates change.
const CERTIFICATES: &str = "certificates";

pub type SnapshotReceiver = watch::Receiver<Option<Arc<Snapshot>>>;

struct Channel {
    sender: watch::Sender<Option<Arc<Snapshot>>>,
    dirty: Arc<Notify>,
}

pub struct Hub {
    store: Store,
    /// This konnektd process, so it can skip its own notifications.
    node: Uuid,
    channels: Mutex<HashMap<Uuid, Channel>>,
    snapshots_built: AtomicU64,
    /// The latest status row per node, waiting for the writer: bounded by the number of
    /// nodes, however fast they ping.
    statuses: Arc<PendingStatuses>,
    /// Bumped whenever pinned certificates change, so live sessions re-check theirs.
    certificates: watch::Sender<u64>,
    /// Handshakes and re-checks querying the store at this moment.
    store_turns: tokio::sync::Semaphore,
    /// Every data-plane session, so that a stopping server closes them.
    sessions: tokio_util::task::TaskTracker,
    closing: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Needs a tokio runtime: it starts the status writer.
    pub fn new(store: Store) -> Arc<Self> {
        let statuses = Arc::new(PendingStatuses::default());
        tokio::spawn(write_statuses(store.clone(), statuses.clone()));
        Arc::new(Hub {
            store,
            node: Uuid::new_v4(),
            channels: Mutex::new(HashMap::new()),
            snapshots_built: AtomicU64::new(0),
            statuses,
            certificates: watch::channel(0).0,
            store_turns: tokio::sync::Semaphore::new(STORE_TURNS),
            sessions: Default::default(),
            closing: Default::default(),
        })
    }

    /// Queues a node's status row for the next batch.
    pub fn record_status(&self, control_plane: Uuid, node: Node) {
        let key = (control_plane, node.id.clone());
        self.statuses
            .rows
            .lock()
            .expect("status lock")
            .insert(key, node);
        self.statuses.ready.notify_one();
    }

    /// Tells live sessions (here and on the other nodes) that pinned certificates changed.
    pub async fn certificates_changed(&self) {
        self.certificates.send_modify(|n| *n += 1);
        let notification = Notification {
            channel: NOTIFY_CHANNEL,
            payload: format!("{}:{CERTIFICATES}", self.node),
        };
        if let Err(e) = self.store.notify(&notification).await {
            tracing::warn!(error = %e, "cannot tell other nodes of a certificate change");
        }
    }

    pub fn certificate_changes(&self) -> watch::Receiver<u64> {
        self.certificates.subscribe()
    }

    /// Runs a data-plane session as one the server closes when it stops.
    pub fn track_session<F>(&self, session: F) -> impl Future<Output = F::Output> + use<F>
    where
        F: Future,
    {
        self.sessions.track_future(session)
    }

    /// Cancelled when the server stops: sessions close with 1001 "going away", so data
    /// planes reconnect (to another node) at once instead of at their next ping.
    pub fn closing(&self) -> tokio_util::sync::CancellationToken {
        self.closing.clone()
    }

    /// Closes every session and waits for them to finish, `grace` at most.
    pub async fn close_sessions(&self, grace: Duration) {
        self.closing.cancel();
        self.sessions.close();
        if tokio::time::timeout(grace, self.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                sessions = self.sessions.len(),
                "data-plane sessions still open after the shutdown grace"
            );
        }
    }

    /// A turn for a handshake or a certificate re-check to query the store (see
    /// [`STORE_TURNS`]), or `None` when none comes free within [`TURN_WAIT`]: the store is
    /// slow or down, and waiting longer would only queue more work behind it.
    pub async fn store_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        tokio::time::timeout(TURN_WAIT, self.store_turns.acquire())
            .await
            .ok()
            .map(|permit| permit.expect("the semaphore is never closed"))
    }

    /// Snapshots built and published since start: one per change of a control plane
    /// with listeners, whatever the number of listeners.
    pub fn snapshots_built(&self) -> u64 {
        self.snapshots_built.load(Ordering::Relaxed)
    }

    /// The snapshots of a control plane; the current one arrives at once.
    pub fn subscribe(self: &Arc<Self>, control_plane: Uuid) -> SnapshotReceiver {
        let mut channels = self.channels.lock().expect("hub lock");
        if let Some(channel) = channels.get(&control_plane) {
            return channel.sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        let dirty = Arc::new(Notify::new());
        channels.insert(
            control_plane,
            Channel {
                sender: sender.clone(),
                dirty: dirty.clone(),
            },
        );
        let hub = self.clone();
        tokio::spawn(async move { hub.build_loop(control_plane, sender, dirty).await });
        receiver
    }

    /// The notification a write sends in its transaction, so the other konnektd nodes
    /// on this PostgreSQL rebuild when it commits (this node skips its own).
    pub fn notification(&self, control_plane: Uuid) -> Notification {
        Notification {
            channel: NOTIFY_CHANNEL,
            payload: format!("{}:{control_plane}", self.node),
        }
    }

    /// A change seen by this node (its own, or announced by another).
    pub fn changed_locally(&self, control_plane: Uuid) {
        if let Some(channel) = self.channels.lock().expect("hub lock").get(&control_plane) {
            channel.dirty.notify_one();
        }
    }

    /// The hashes data planes of this control plane should report.
    pub async fn expected_hashes(&self, control_plane: Uuid) -> StoreResult<ConfigHashes> {
        let current = self
            .channels
            .lock()
            .expect("hub lock")
            .get(&control_plane)
            .and_then(|c| c.sender.borrow().as_ref().map(|s| s.hashes.clone()));
        match current {
            Some(hashes) => Ok(hashes),
            None => Ok(config_hashes(
                &export_config(&self.store, control_plane).await?,
            )),
        }
    }

    async fn build_loop(
        self: Arc<Self>,
        control_plane: Uuid,
        sender: watch::Sender<Option<Arc<Snapshot>>>,
        dirty: Arc<Notify>,
    ) {
        loop {
            // A deleted control plane's data planes keep their last config; their
            // sessions close, as its certificates went with it.
            match self.store.control_plane_exists(control_plane).await {
                Ok(false) => {}
                Ok(true) => match export_config(&self.store, control_plane).await {
                    Ok(table) => {
                        // The safety poll mostly finds nothing new: compare hashes before
                        // paying for the gzip.
                        let hashes = config_hashes(&table);
                        let unchanged = sender
                            .borrow()
                            .as_ref()
                            .is_some_and(|c| c.hashes.config == hashes.config);
                        if !unchanged {
                            let now = crate::domain::now_seconds();
                            let snapshot = Arc::new(build_snapshot_hashed(table, hashes, now));
                            self.snapshots_built.fetch_add(1, Ordering::Relaxed);
                            sender.send_replace(Some(snapshot));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(cp.id = %control_plane, error = %e, "config export failed");
                    }
                },
                Err(e) => {
                    tracing::warn!(cp.id = %control_plane, error = %e, "config export failed")
                }
            }
            tokio::select! {
                _ = dirty.notified() => {}
                _ = tokio::time::sleep(SAFETY_POLL) => {}
            }
            let mut channels = self.channels.lock().expect("hub lock");
            if sender.receiver_count() == 0 {
                // No data plane listens any more: stop exporting until one returns.
                channels.remove(&control_plane);
                return;
            }
        }
    }

    /// Listens for other nodes' changes on PostgreSQL, reconnecting on failure. Returns
    /// once listening (or after `wait` at most), so a started node misses no change.
    pub async fn listen_to_other_nodes(self: &Arc<Self>, database_url: String, wait: Duration) {
        let hub = self.clone();
        let (listening, ready) = tokio::sync::oneshot::channel::<()>();
        let mut listening = Some(listening);
        tokio::spawn(async move {
            loop {
                if let Err(e) = hub.listen(&database_url, &mut listening).await {
                    tracing::warn!(error = %e, "LISTEN for config changes failed");
                }
                // Whatever was missed meanwhile is caught by the safety poll.
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
        let mut listener = sqlx::postgres::PgListener::connect(database_url).await?;
        listener
            .listen_all([NOTIFY_CHANNEL, PLUGIN_SCHEMAS_CHANNEL])
            .await?;
        if let Some(listening) = listening.take() {
            let _ = listening.send(());
        }
        // Schema changes may have gone unheard until now.
        self.store.forget_plugin_schemas(None);
        loop {
            match listener.try_recv().await? {
                Some(notification) => self.heard(notification.channel(), notification.payload()),
                // The connection dropped and sqlx reconnects on the next call: what was
                // sent meanwhile is lost.
                None => self.store.forget_plugin_schemas(None),
            }
        }
    }

    /// Acts on another node's notification.
    fn heard(&self, channel: &str, payload: &str) {
        if channel == PLUGIN_SCHEMAS_CHANNEL {
            if let Ok(cp) = Uuid::parse_str(payload) {
                self.store.forget_plugin_schemas(Some(cp));
            }
            return;
        }
        // `<node>:<control plane>`; this node already rebuilt its own.
        let Some((node, cp)) = payload.split_once(':') else {
            return;
        };
        if Uuid::parse_str(node) == Ok(self.node) {
            return;
        }
        if cp == CERTIFICATES {
            self.certificates.send_modify(|n| *n += 1);
        } else if let Ok(cp) = Uuid::parse_str(cp) {
            self.changed_locally(cp);
        }
    }
}

#[derive(Default)]
struct PendingStatuses {
    rows: Mutex<HashMap<(Uuid, String), Node>>,
    ready: Notify,
}

/// Writes pending node rows: at once when idle, then whatever gathered meanwhile, one
/// transaction per batch.
async fn write_statuses(store: Store, pending: Arc<PendingStatuses>) {
    loop {
        pending.ready.notified().await;
        let rows: Vec<(Uuid, Node)> =
            std::mem::take(&mut *pending.rows.lock().expect("status lock"))
                .into_iter()
                .map(|((cp, _), node)| (cp, node))
                .collect();
        if rows.is_empty() {
            continue;
        }
        if let Err(e) = store.upsert_nodes(&rows).await {
            tracing::warn!(error = %e, rows = rows.len(), "cannot record data plane status");
        }
        tokio::time::sleep(STATUS_BATCH_INTERVAL).await;
    }
}
