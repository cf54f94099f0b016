//! One snapshot per control plane, whatever the number of data planes: each committed
//! change marks the control plane dirty, a builder task re-exports once (bursts
//! coalesce into one rebuild that reads the latest state, so the last write is always
//! delivered) and publishes on a `watch` channel every session of that control plane
//! reads. The hub learns of changes from the store, which publishes every committed one
//! (this node's and, on PostgreSQL, the other nodes'); a slow re-export is the safety net.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::export::{Snapshot, build_snapshot_hashed, export_config};
use super::hash::{ConfigHashes, config_hashes};
use super::snapshot_metrics::SnapshotMetrics;
use super::sync_state::{LiveNode, LiveNodes, SyncState};
use crate::domain::Timestamp;
use crate::store::data_planes::Node;
use crate::store::{Change, Store, StoreResult};

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

pub type SnapshotReceiver = watch::Receiver<Option<Arc<Snapshot>>>;

struct Channel {
    sender: watch::Sender<Option<Arc<Snapshot>>>,
    dirty: Arc<Dirty>,
}

/// Wakes a control plane's builder, remembering when the oldest change not yet built
/// was heard: one timestamp per rebuild, however many changes a burst coalesces.
#[derive(Default)]
struct Dirty {
    notify: Notify,
    since: Mutex<Option<Instant>>,
}

impl Dirty {
    fn mark(&self) {
        self.since
            .lock()
            .expect("dirty lock")
            .get_or_insert_with(Instant::now);
        self.notify.notify_one();
    }

    /// The oldest change heard since the last call, if any.
    fn take_since(&self) -> Option<Instant> {
        self.since.lock().expect("dirty lock").take()
    }
}

pub struct Hub {
    store: Store,
    channels: Mutex<HashMap<Uuid, Channel>>,
    /// Snapshots built, their build time (from the start of an export to the snapshot
    /// published) and size, and push latencies (observed by the sessions).
    snapshot_metrics: SnapshotMetrics,
    /// The hash and compatibility of every live session's data plane, for `/metrics`.
    live: Arc<LiveNodes>,
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
    /// Needs a tokio runtime: it starts the status writer. Hears of every change the
    /// store publishes from now on.
    pub fn new(store: Store) -> Arc<Self> {
        let statuses = Arc::new(PendingStatuses::default());
        tokio::spawn(write_statuses(store.clone(), statuses.clone()));
        let hub = Arc::new(Hub {
            store: store.clone(),
            channels: Mutex::new(HashMap::new()),
            snapshot_metrics: SnapshotMetrics::default(),
            live: Default::default(),
            statuses,
            certificates: watch::channel(0).0,
            store_turns: tokio::sync::Semaphore::new(STORE_TURNS),
            sessions: Default::default(),
            closing: Default::default(),
        });
        // Weak, or the store the hub holds would keep the hub alive for ever.
        let listener = Arc::downgrade(&hub);
        store.on_change(Arc::new(move |change| {
            if let Some(hub) = listener.upgrade() {
                hub.on_change(change);
            }
        }));
        hub
    }

    /// Reacts to a committed change (this node's or, on PostgreSQL, another's), in the
    /// task that heard it: marks the control plane's snapshot dirty, or makes live
    /// sessions re-check their certificates.
    fn on_change(&self, change: Change) {
        match change {
            Change::Config(control_plane) => self.mark_dirty(control_plane),
            Change::Certificates => self.certificates.send_modify(|n| *n += 1),
        }
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
        self.snapshot_metrics.total_built()
    }

    pub fn snapshot_metrics(&self) -> &SnapshotMetrics {
        &self.snapshot_metrics
    }

    /// Where a session of `control_plane` records its push latencies: from a change
    /// committed here, or heard from another node, to its frame written.
    pub fn push_histogram(&self, control_plane: Uuid) -> Histogram {
        self.snapshot_metrics.push_histogram(control_plane)
    }

    /// Data planes receiving each control plane's snapshots at this moment: every
    /// session holds one receiver of its control plane's channel.
    pub fn connected_data_planes(&self) -> Vec<(Uuid, usize)> {
        self.channels
            .lock()
            .expect("hub lock")
            .iter()
            .map(|(cp, channel)| (*cp, channel.sender.receiver_count()))
            .collect()
    }

    /// Counts a session's data plane in [`Hub::data_plane_states`] until the guard drops.
    pub fn live_node(&self, control_plane: Uuid, node: &Node) -> LiveNode {
        self.live.join(control_plane, node)
    }

    /// Connected data planes per control plane and [`SyncState`], against the hash of
    /// the snapshot each control plane serves now.
    pub fn data_plane_states(&self) -> HashMap<Uuid, HashMap<SyncState, usize>> {
        self.live.states(|cp| {
            self.channels
                .lock()
                .expect("hub lock")
                .get(&cp)
                .and_then(|c| c.sender.borrow().as_ref().map(|s| s.hashes.config.clone()))
        })
    }

    /// Data planes connected now, over every control plane.
    pub fn connected_data_planes_total(&self) -> usize {
        self.connected_data_planes().iter().map(|(_, n)| n).sum()
    }

    /// The snapshots of a control plane; the current one arrives at once.
    pub fn subscribe(self: &Arc<Self>, control_plane: Uuid) -> SnapshotReceiver {
        let mut channels = self.channels.lock().expect("hub lock");
        if let Some(channel) = channels.get(&control_plane) {
            return channel.sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        let dirty = Arc::new(Dirty::default());
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

    /// Wakes the builder of a control plane's snapshot, if any data plane listens, to
    /// re-export it.
    fn mark_dirty(&self, control_plane: Uuid) {
        if let Some(channel) = self.channels.lock().expect("hub lock").get(&control_plane) {
            channel.dirty.mark();
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
        dirty: Arc<Dirty>,
    ) {
        loop {
            // A deleted control plane's data planes keep their last config; their
            // sessions close, as its certificates went with it.
            let started = Instant::now();
            // Taken before the export, so what it reads includes that change; a change
            // heard later marks the channel again for the next round.
            let changed_at = dirty.take_since();
            match self.store.control_plane_exists(control_plane).await {
                Ok(false) => self.snapshot_metrics.forget(control_plane),
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
                            let now = Timestamp::now();
                            let mut snapshot = build_snapshot_hashed(table, hashes, now);
                            snapshot.changed_at = changed_at;
                            let snapshot = Arc::new(snapshot);
                            self.snapshot_metrics.built(
                                control_plane,
                                started.elapsed().as_secs_f64(),
                                snapshot.payload.len(),
                            );
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
                _ = dirty.notify.notified() => {}
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
