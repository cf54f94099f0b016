//! Every committed change publishes itself: a write that changes what data planes get
//! sends a PostgreSQL `NOTIFY` inside its own transaction (so the other konnektd nodes
//! hear of it exactly when it commits), and after the commit tells this process's change
//! listeners (the cluster hub) at once, in the writer's own task. Other nodes'
//! notifications arrive at the same listeners (see `Store::listen_to_other_nodes`).

use std::sync::{Arc, RwLock};

use sqlx::Row;
use uuid::Uuid;

use super::{Notification, Sql, Store, StoreResult};

/// An entity as the change feed names it: its kind (`services`, ...) and id.
pub type EntityKey = (String, String);

/// A stored entity row for the data-plane export: its kind, id and JSON body as stored.
pub type EntityRow = (String, String, String);

/// Keys per statement when reading touched entities back, under both backends' limits on
/// bound parameters.
const KEYS_PER_READ: usize = 300;

/// The PostgreSQL channel config changes travel on between konnektd nodes, as
/// `<node>:<control plane>` or `<node>:certificates`.
pub const CONFIG_CHANNEL: &str = "konnektd_config";

/// The payload's second half when pinned dp-client-certificates changed.
const CERTIFICATES: &str = "certificates";

/// A committed change, here or on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// What a control plane's data planes receive changed, in ways not known here
    /// (another node's write): the whole config must be compared.
    Config(Uuid),
    /// This node wrote or deleted exactly these entities of a control plane (a cascade
    /// names every row it removed), so its export can be updated in place.
    Entities(Uuid, Arc<[EntityKey]>),
    /// Pinned dp-client-certificates were replaced or removed (or a control plane with
    /// its certificates deleted): live sessions re-check theirs.
    Certificates,
}

/// Told of every [`Change`], synchronously, right after it commits: it must not block.
pub type ChangeListener = Arc<dyn Fn(Change) + Send + Sync>;

/// This node's identity on the channel and its listeners.
pub(super) struct Changes {
    /// This konnektd process, so that it skips its own notifications.
    node: Uuid,
    listeners: RwLock<Vec<ChangeListener>>,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Changes {
    pub(super) fn new(node: Uuid) -> Self {
        Changes {
            node,
            listeners: RwLock::new(Vec::new()),
        }
    }

    pub(super) fn listen(&self, listener: ChangeListener) {
        self.listeners
            .write()
            .expect("change listeners lock")
            .push(listener);
    }

    /// Tells every listener of `change`.
    pub(super) fn publish(&self, change: Change) {
        for listener in self.listeners.read().expect("change listeners lock").iter() {
            listener(change.clone());
        }
    }

    /// The notification a write sends in its transaction for the other nodes.
    pub(super) fn notification(&self, change: Change) -> Notification {
        let subject = match change {
            Change::Config(control_plane) | Change::Entities(control_plane, _) => {
                control_plane.to_string()
            }
            Change::Certificates => CERTIFICATES.to_string(),
        };
        Notification {
            channel: CONFIG_CHANNEL,
            payload: format!("{}:{subject}", self.node),
        }
    }

    /// The change another node announced on [`CONFIG_CHANNEL`]; `None` for this node's
    /// own (it already acted on it) and for payloads it cannot read.
    pub(super) fn heard(&self, payload: &str) -> Option<Change> {
        let (node, subject) = payload.split_once(':')?;
        if Uuid::parse_str(node).ok()? == self.node {
            return None;
        }
        if subject == CERTIFICATES {
            return Some(Change::Certificates);
        }
        Uuid::parse_str(subject).ok().map(Change::Config)
    }
}

impl Store {
    /// Every entity row of a control plane, bodies as stored (the export compares and
    /// parses only what changed).
    pub async fn entity_rows(&self, control_plane: Uuid) -> StoreResult<Vec<EntityRow>> {
        let rows = sqlx::query(
            "SELECT entity_type, id, body FROM core_entities WHERE control_plane_id = $1",
        )
        .bind(control_plane.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The rows of these entities that still exist (a deleted one is simply absent).
    pub async fn entity_rows_of(
        &self,
        control_plane: Uuid,
        keys: &[EntityKey],
    ) -> StoreResult<Vec<EntityRow>> {
        let cp = control_plane.to_string();
        let mut out = Vec::new();
        let mut connection = self.connection().await?;
        for batch in keys.chunks(KEYS_PER_READ) {
            let mut sql = Sql::new(
                "SELECT entity_type, id, body FROM core_entities WHERE control_plane_id = ",
            );
            sql.bind_text(cp.clone()).push(" AND (");
            for (i, (kind, id)) in batch.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { " OR (" })
                    .push("entity_type = ")
                    .bind_text(kind.clone())
                    .push(" AND id = ")
                    .bind_text(id.clone())
                    .push(")");
            }
            sql.push(")");
            for r in sql.query().fetch_all(&mut *connection).await? {
                out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_node_then_subject_and_own_ones_are_skipped() {
        let (here, there) = (Changes::new(Uuid::new_v4()), Changes::new(Uuid::new_v4()));
        let cp = Uuid::new_v4();
        let config = here.notification(Change::Config(cp));
        assert_eq!(config.channel, "konnektd_config");
        assert_eq!(config.payload, format!("{}:{cp}", here.node));
        let certificates = here.notification(Change::Certificates);
        assert_eq!(certificates.payload, format!("{}:certificates", here.node));

        assert_eq!(there.heard(&config.payload), Some(Change::Config(cp)));
        assert_eq!(
            there.heard(&certificates.payload),
            Some(Change::Certificates)
        );
        assert_eq!(here.heard(&config.payload), None, "its own change");
        for garbage in ["", "no-colon", "not-a-node:certificates"] {
            assert_eq!(there.heard(garbage), None, "{garbage}");
        }
        assert_eq!(there.heard(&format!("{}:not-a-cp", here.node)), None);
    }

    #[test]
    fn every_listener_hears_every_change() {
        let changes = Changes::new(Uuid::new_v4());
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        for _ in 0..2 {
            let heard = heard.clone();
            changes.listen(Arc::new(move |c| heard.lock().unwrap().push(c)));
        }
        changes.publish(Change::Certificates);
        assert_eq!(
            *heard.lock().unwrap(),
            [Change::Certificates, Change::Certificates]
        );
    }
}

/// The store's writes on SQLite: each committed change reaches the listeners once, and a
/// write that fails or changes nothing reaches them not at all.
#[cfg(test)]
mod publishing {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::control_plane::{ControlPlane, NewControlPlane};
    use crate::domain::entity_kind::OnDelete;
    use crate::store::Store;
    use crate::store::core_entities::{EntityRecord, WriteError};
    use crate::store::data_planes::DpCertificate;

    fn service(id: &str) -> EntityRecord {
        EntityRecord {
            kind: "services",
            id: id.into(),
            name: Some(id.into()),
            body: "{}".into(),
            keys: vec![],
            refs: vec![],
            tags: vec![],
            created_at: Default::default(),
            updated_at: Default::default(),
        }
    }

    fn certificate(id: Uuid, cert: &str) -> DpCertificate {
        DpCertificate {
            id,
            cert: cert.into(),
            fingerprint: cert.into(),
            subject: "CN=x".into(),
            created_at: Default::default(),
            updated_at: Default::default(),
        }
    }

    #[tokio::test]
    async fn each_committed_change_is_published_once_and_a_failed_write_never() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::default_database_url(dir.path());
        let store = Store::open(&url).await.unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        store.on_change(Arc::new(move |c| sink.lock().unwrap().push(c)));
        let take = || std::mem::take(&mut *heard.lock().unwrap());

        let request = NewControlPlane::parse(&serde_json::json!({"name": "cp"})).unwrap();
        let cp = ControlPlane::create(request, Default::default());
        store.insert_control_plane(&cp).await.unwrap();
        assert_eq!(take(), [], "a new control plane has no data planes yet");
        let written = |kind: &str, id: &str| {
            Change::Entities(cp.id, [(kind.to_string(), id.to_string())].into())
        };

        store
            .write_entity(cp.id, &service("a"), false)
            .await
            .unwrap();
        assert_eq!(take(), [written("services", "a")]);
        let taken = store.write_entity(cp.id, &service("a"), false).await;
        assert!(matches!(taken, Err(WriteError::IdTaken)), "{taken:?}");
        let missing = store
            .write_entity(Uuid::new_v4(), &service("b"), false)
            .await;
        assert!(
            matches!(missing, Err(WriteError::NoControlPlane)),
            "{missing:?}"
        );
        assert_eq!(take(), [], "failed writes");
        store
            .write_entity(cp.id, &service("a"), true)
            .await
            .unwrap();
        assert_eq!(take(), [written("services", "a")]);

        let rule = |_: &str, _: &str| OnDelete::Restrict;
        assert!(
            store
                .delete_entity(cp.id, "services", "a", rule)
                .await
                .unwrap()
        );
        assert_eq!(
            take(),
            [written("services", "a")],
            "the deleted row is named"
        );
        assert!(
            !store
                .delete_entity(cp.id, "services", "a", rule)
                .await
                .unwrap()
        );
        assert_eq!(take(), [], "nothing was deleted");

        let id = Uuid::new_v4();
        store
            .put_dp_certificate(cp.id, &certificate(id, "one"))
            .await
            .unwrap();
        assert_eq!(take(), [], "a new pin revokes nothing");
        store
            .put_dp_certificate(cp.id, &certificate(id, "two"))
            .await
            .unwrap();
        assert_eq!(take(), [Change::Certificates], "a replaced pin");
        assert_eq!(
            store.dp_certificate(cp.id, id).await.unwrap().unwrap().cert,
            "two"
        );
        assert!(store.delete_dp_certificate(cp.id, id).await.unwrap());
        assert_eq!(take(), [Change::Certificates]);
        assert!(!store.delete_dp_certificate(cp.id, id).await.unwrap());
        assert_eq!(take(), []);

        assert!(store.delete_control_plane(cp.id).await.unwrap());
        assert_eq!(take(), [Change::Certificates]);
        assert!(!store.delete_control_plane(cp.id).await.unwrap());
        assert_eq!(take(), []);
        store.close().await;
    }
}
