//! One snapshot per control plane, whatever the number of data planes: each committed
//! change marks the control plane dirty with the entities it touched, a builder task
//! (off the request path, its CPU work on the blocking pool) reads those rows back,
//! updates the control plane's kept [`ExportState`] and encodes once (bursts coalesce
//! into one rebuild that reads the latest state, so the last write is always delivered)
//! and publishes on a `watch` channel every session of that control plane reads. The hub
//! learns of changes from the store, which publishes every committed one (this node's
//! with their entities; the other nodes', on PostgreSQL, without: those compare the whole
//! config); a slow full comparison is the safety net.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::export::{Snapshot, export_config};
use super::export_state::ExportState;
use super::hash::{ConfigHashes, config_hashes};
use super::snapshot_metrics::SnapshotMetrics;
use super::sync_state::{LiveNode, LiveNodes, SyncState};
use crate::domain::Timestamp;
use crate::store::data_planes::Node;
use crate::store::{Change, EntityKey, Store, StoreResult};

/// How often a control plane with connected data planes is compared whole with the
/// store anyway, in case a notification was lost; at least [`SAFETY_SHARE`] times what
/// the last comparison took, so a large config spends at most 2% of a core on it.
const SAFETY_POLL: Duration = Duration::from_secs(5);
const SAFETY_SHARE: u32 = 50;
/// Touched entities gathered beyond this are not read back one by one: the whole config
/// is compared instead (a cascade of thousands of rows, a burst of writes).
const MAX_TOUCHED: usize = 5_000;
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

/// Wakes a control plane's builder, gathering what changed until it runs: when the
/// oldest change not yet built was heard (one timestamp per rebuild, however many
/// changes a burst coalesces) and which entities, or that it is not known.
#[derive(Default)]
struct Dirty {
    notify: Notify,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    since: Option<Instant>,
    touched: std::collections::HashSet<EntityKey>,
    /// Compare the whole config (a change from another node, too many touched rows).
    whole: bool,
}

impl Dirty {
    /// `touched` is `None` when the change's entities are not known.
    fn mark(&self, touched: Option<&[EntityKey]>) {
        let mut pending = self.pending.lock().expect("dirty lock");
        pending.since.get_or_insert_with(Instant::now);
        match touched {
            Some(keys) if !pending.whole && pending.touched.len() + keys.len() <= MAX_TOUCHED => {
                pending.touched.extend(keys.iter().cloned())
            }
            _ => {
                pending.whole = true;
                pending.touched.clear();
            }
        }
        drop(pending);
        self.notify.notify_one();
    }

    /// What gathered since the last call.
    fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock().expect("dirty lock"))
    }

    /// A round failed: compare everything next time.
    fn retry_whole(&self) {
        self.pending.lock().expect("dirty lock").whole = true;
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
            Change::Config(control_plane) => self.mark_dirty(control_plane, None),
            Change::Entities(control_plane, touched) => {
                self.mark_dirty(control_plane, Some(&touched))
            }
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
    /// bring its export up to date.
    fn mark_dirty(&self, control_plane: Uuid, touched: Option<&[EntityKey]>) {
        if let Some(channel) = self.channels.lock().expect("hub lock").get(&control_plane) {
            channel.dirty.mark(touched);
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
        // Held by this task alone, and dropped with it when no data plane listens.
        let mut state = Some(ExportState::new(control_plane));
        let mut compared = false;
        let mut next_comparison = Instant::now();
        loop {
            // A deleted control plane's data planes keep their last config; their
            // sessions close, as its certificates went with it.
            let started = Instant::now();
            // Taken before the rows are read, so what they hold includes those changes;
            // a change heard later marks the channel again for the next round.
            let pending = dirty.take();
            let whole = !compared || pending.whole || started >= next_comparison;
            match self.store.control_plane_exists(control_plane).await {
                Ok(false) => self.snapshot_metrics.forget(control_plane),
                Ok(true) => {
                    let touched: Vec<EntityKey> = pending.touched.into_iter().collect();
                    let rows = if whole {
                        self.store.entity_rows(control_plane).await
                    } else {
                        self.store.entity_rows_of(control_plane, &touched).await
                    };
                    match rows {
                        Ok(rows) => {
                            let current = sender.borrow().as_ref().map(|c| c.hashes.config.clone());
                            let mut taken = state.take().expect("state is back after each round");
                            let round = tokio::task::spawn_blocking(move || {
                                if whole {
                                    taken.sync_all(rows);
                                } else {
                                    taken.sync_some(&touched, rows);
                                }
                                // The safety comparison mostly finds nothing new: compare
                                // hashes before paying for the frame.
                                let snapshot = (current.as_deref()
                                    != Some(taken.hashes().config.as_str()))
                                .then(|| Snapshot::from_encoded(taken.encode(Timestamp::now())));
                                let kept = taken.heap_bytes();
                                (taken, snapshot, kept)
                            })
                            .await;
                            // A bug in the export must not leave this control plane's data
                            // planes waiting for good: start again from all rows at the
                            // next change or safety poll (not at once, in case it repeats).
                            let exported = round.is_ok();
                            let (back, snapshot, kept) = round.unwrap_or_else(|e| {
                                tracing::error!(cp.id = %control_plane, error = %e, "config export panicked; rebuilding it from all rows");
                                (ExportState::new(control_plane), None, 0)
                            });
                            self.snapshot_metrics.state_bytes(control_plane, kept);
                            state = Some(back);
                            if whole || !exported {
                                compared = exported;
                                next_comparison = Instant::now()
                                    + SAFETY_POLL.max(started.elapsed() * SAFETY_SHARE);
                            }
                            if let Some(mut snapshot) = snapshot {
                                snapshot.changed_at = pending.since;
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
                            dirty.retry_whole();
                            tracing::warn!(cp.id = %control_plane, error = %e, "config export failed");
                        }
                    }
                }
                Err(e) => {
                    dirty.retry_whole();
                    tracing::warn!(cp.id = %control_plane, error = %e, "config export failed")
                }
            }
            tokio::select! {
                _ = dirty.notify.notified() => {}
                _ = tokio::time::sleep_until(next_comparison.max(Instant::now() + Duration::from_millis(100)).into()) => {}
            }
            let mut channels = self.channels.lock().expect("hub lock");
            if sender.receiver_count() == 0 {
                // No data plane listens any more: stop exporting until one returns (the
                // kept state goes with this task).
                channels.remove(&control_plane);
                self.snapshot_metrics.state_bytes(control_plane, 0);
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
