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

use super::export::{Snapshot, build_snapshot, export_config};
use super::hash::{ConfigHashes, config_hashes};
use crate::store::{Notification, Store, StoreResult};

/// The PostgreSQL channel changes travel on between konnektd nodes.
pub const NOTIFY_CHANNEL: &str = "konnektd_config";
/// How often a control plane with connected data planes is re-exported anyway, in case
/// a notification was lost.
const SAFETY_POLL: Duration = Duration::from_secs(5);

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
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Hub {
            store,
            node: Uuid::new_v4(),
            channels: Mutex::new(HashMap::new()),
            snapshots_built: AtomicU64::new(0),
        })
    }

    /// Snapshots built since start (one per change and control plane with listeners).
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
            match export_config(&self.store, control_plane).await {
                Ok(table) => {
                    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
                    let snapshot = build_snapshot(table, now);
                    self.snapshots_built.fetch_add(1, Ordering::Relaxed);
                    sender.send_if_modified(|current| {
                        let changed = current
                            .as_ref()
                            .is_none_or(|c| c.hashes.config != snapshot.hashes.config);
                        if changed {
                            *current = Some(Arc::new(snapshot));
                        }
                        changed
                    });
                }
                Err(e) => {
                    tracing::warn!(cp.id = %control_plane, error = %e, "config export failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
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

    /// Listens for other nodes' changes on PostgreSQL, reconnecting on failure.
    pub fn listen_to_other_nodes(self: &Arc<Self>, database_url: String) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&database_url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
                            tracing::warn!(error = %e, "cannot LISTEN for config changes");
                        } else {
                            while let Ok(notification) = listener.recv().await {
                                // `<node>:<control plane>`; this node already rebuilt its own.
                                let Some((node, cp)) = notification.payload().split_once(':')
                                else {
                                    continue;
                                };
                                if node != hub.node.to_string()
                                    && let Ok(cp) = Uuid::parse_str(cp)
                                {
                                    hub.changed_locally(cp);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect to LISTEN for config changes")
                    }
                }
                // Whatever was missed meanwhile is caught by the safety poll.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
