//! Whether each connected data plane runs its control plane's current config, for
//! `/metrics`: in sync (its last ping reported the expected hash), out of sync, or
//! incompatible (it gets no config: missing plugins, a payload over its limit). Sessions
//! keep their node's hash and compatibility here as they change; the state is worked out
//! at scrape time against the hash of the snapshot being served, so it cannot go stale
//! when a new snapshot is published.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::store::data_planes::Node;

/// Kong's compatibility state of a data plane that gets the config.
const FULLY_COMPATIBLE: &str = "COMPATIBILITY_STATE_FULLY_COMPATIBLE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    InSync,
    OutOfSync,
    Incompatible,
}

impl SyncState {
    pub const ALL: [SyncState; 3] = [
        SyncState::InSync,
        SyncState::OutOfSync,
        SyncState::Incompatible,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SyncState::InSync => "in_sync",
            SyncState::OutOfSync => "out_of_sync",
            SyncState::Incompatible => "incompatible",
        }
    }
}

/// What the state depends on, as the session last recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    control_plane: Uuid,
    config_hash: String,
    compatible: bool,
}

impl Seen {
    fn of(control_plane: Uuid, node: &Node) -> Self {
        Seen {
            control_plane,
            config_hash: node.config_hash.clone(),
            compatible: node.compatibility["state"] == FULLY_COMPATIBLE,
        }
    }

    /// `expected` is `None` while no snapshot was built yet: nobody is in sync then.
    fn state(&self, expected: Option<&str>) -> SyncState {
        if !self.compatible {
            SyncState::Incompatible
        } else if expected == Some(self.config_hash.as_str()) {
            SyncState::InSync
        } else {
            SyncState::OutOfSync
        }
    }
}

/// Every live session's [`Seen`], by a session number rather than the node id: a data
/// plane reconnecting may overlap its old session, whose end must not remove the new one.
#[derive(Debug, Default)]
pub struct LiveNodes {
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, Seen>>,
}

impl LiveNodes {
    /// Registers a session; it stays counted until the returned guard drops, whichever
    /// way the session ends.
    pub fn join(self: &Arc<Self>, control_plane: Uuid, node: &Node) -> LiveNode {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Seen::of(control_plane, node));
        LiveNode {
            nodes: self.clone(),
            id,
        }
    }

    /// Data planes per control plane and state; `expected` gives a control plane's
    /// current hash. Every state of a control plane with sessions is present, zeros too.
    pub fn states(
        &self,
        expected: impl Fn(Uuid) -> Option<String>,
    ) -> HashMap<Uuid, HashMap<SyncState, usize>> {
        let mut out: HashMap<Uuid, HashMap<SyncState, usize>> = HashMap::new();
        let mut hashes: HashMap<Uuid, Option<String>> = HashMap::new();
        for seen in self.lock().values() {
            let hash = hashes
                .entry(seen.control_plane)
                .or_insert_with(|| expected(seen.control_plane));
            let counts = out
                .entry(seen.control_plane)
                .or_insert_with(|| SyncState::ALL.iter().map(|s| (*s, 0)).collect());
            *counts.entry(seen.state(hash.as_deref())).or_default() += 1;
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Seen>> {
        self.sessions.lock().expect("live nodes lock")
    }
}

/// One session's entry in [`LiveNodes`]; dropping it removes the entry.
#[derive(Debug)]
pub struct LiveNode {
    nodes: Arc<LiveNodes>,
    id: u64,
}

impl LiveNode {
    /// Records the node's hash and compatibility as they are now.
    pub fn update(&self, control_plane: Uuid, node: &Node) {
        let seen = Seen::of(control_plane, node);
        if let Some(entry) = self.nodes.lock().get_mut(&self.id) {
            *entry = seen;
        }
    }
}

impl Drop for LiveNode {
    fn drop(&mut self) {
        self.nodes.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(hash: &str, compatible: bool) -> Seen {
        Seen {
            control_plane: Uuid::nil(),
            config_hash: hash.into(),
            compatible,
        }
    }

    #[test]
    fn states_follow_the_hash_and_compatibility() {
        assert_eq!(seen("a", true).state(Some("a")), SyncState::InSync);
        assert_eq!(seen("a", true).state(Some("b")), SyncState::OutOfSync);
        assert_eq!(seen("a", true).state(None), SyncState::OutOfSync);
        assert_eq!(seen("a", false).state(Some("a")), SyncState::Incompatible);
    }
}
