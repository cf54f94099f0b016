//! SQLite's entity writes, committed in groups. SQLite has one writer, and each commit
//! waits for an fsync of the WAL (`synchronous=FULL`): one writer task takes every write
//! queued while the last commit was on its way to disk and commits them together, one
//! transaction and one fsync for all. Each write runs in a savepoint of its own, so one
//! that a rule refuses is rolled back alone and the others commit. Each caller hears of
//! its write only once the commit that holds it has returned, so a 2xx still survives a
//! crash.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::changes::EntityKey;
use super::core_entities::{EntityRecord, WriteError, write_rows};
use super::{Change, Store, StoreError};

/// At most this many writes share a commit: enough to ride out a slow fsync, few enough
/// that one transaction never holds the writer for long.
const MAX_GROUP: usize = 64;

/// Writes waiting for the writer task; a caller beyond it waits to queue.
const QUEUE: usize = 1024;

struct Job {
    control_plane: Uuid,
    record: EntityRecord,
    replace: bool,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// The queue to the writer task. The task ends when the last [`Store`] holding this goes.
#[derive(Debug)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on `store`, which must not itself hold a [`GroupCommit`]
    /// (else the task would keep its own queue open).
    pub(super) fn start(store: Store) -> Self {
        debug_assert!(store.group.is_none());
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, queue));
        GroupCommit { jobs }
    }

    /// Queues one write and waits until it is committed (or refused).
    pub(super) async fn write(
        &self,
        control_plane: Uuid,
        record: EntityRecord,
        replace: bool,
    ) -> Result<(), WriteError> {
        let (done, answer) = oneshot::channel();
        let job = Job {
            control_plane,
            record,
            replace,
            done,
        };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> WriteError {
    WriteError::Store(StoreError::Unavailable(sqlx::Error::PoolClosed))
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let outcomes = match store.commit_group(&group).await {
            Ok(outcomes) => outcomes,
            Err(e) => group.iter().map(|_| Err(copy_of(&e))).collect(),
        };
        // One change per control plane, naming the rows its writes touched.
        let mut changed: HashMap<Uuid, Vec<EntityKey>> = HashMap::new();
        for (job, outcome) in group.iter().zip(&outcomes) {
            if outcome.is_ok() {
                changed
                    .entry(job.control_plane)
                    .or_default()
                    .push(job.record.key());
            }
        }
        for (control_plane, touched) in changed {
            store.publish(Change::Entities(control_plane, touched.into()));
        }
        for (job, outcome) in group.drain(..).zip(outcomes) {
            // A caller that went away (its request dropped) still had its write committed.
            let _ = job.done.send(outcome);
        }
    }
}

impl Store {
    /// One transaction for the group, a savepoint per write (a write alone pays one too:
    /// an in-process statement, nothing beside the fsync). The outcome of each write, or
    /// the error that failed the whole commit.
    async fn commit_group(
        &self,
        group: &[Job],
    ) -> Result<Vec<Result<(), WriteError>>, sqlx::Error> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let mut outcomes = Vec::with_capacity(group.len());
        for job in group {
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            let cp = job.control_plane.to_string();
            let outcome = write_rows(&mut savepoint, &cp, &job.record, job.replace).await;
            if outcome.is_ok() {
                savepoint.commit().await?;
            } else {
                savepoint.rollback().await?;
            }
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// The error that failed a whole group, for each of its writes (`sqlx::Error` is not
/// `Clone`): an I/O failure stays one, so it still answers 503.
fn copy_of(e: &sqlx::Error) -> WriteError {
    let copy = match e {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::Protocol(other.to_string()),
    };
    WriteError::Store(StoreError::from(copy))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::domain::control_plane::{ControlPlane, NewControlPlane};

    fn service(id: &str, name: &str) -> EntityRecord {
        EntityRecord {
            kind: "services",
            id: id.into(),
            name: Some(name.into()),
            body: "{}".into(),
            keys: vec![("name".into(), name.into())],
            refs: vec![],
            tags: vec![],
            created_at: Default::default(),
            updated_at: Default::default(),
        }
    }

    fn job(cp: Uuid, record: EntityRecord) -> (Job, oneshot::Receiver<Result<(), WriteError>>) {
        let (done, answer) = oneshot::channel();
        let job = Job {
            control_plane: cp,
            record,
            replace: false,
            done,
        };
        (job, answer)
    }

    /// One group, one commit: the write a rule refuses (its key taken by an earlier one
    /// of the same group) is rolled back alone, rows and all, and the others are stored.
    #[tokio::test]
    async fn a_refused_write_in_a_group_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::default_database_url(dir.path());
        let store = Store::open(&url).await.unwrap();
        let request = NewControlPlane::parse(&serde_json::json!({"name": "cp"})).unwrap();
        let cp = ControlPlane::create(request, Default::default());
        store.insert_control_plane(&cp).await.unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        store.on_change(Arc::new(move |c| sink.lock().unwrap().push(c)));

        let (queue, jobs) = mpsc::channel(8);
        let mut answers = Vec::new();
        for (id, name) in [("a", "one"), ("b", "one"), ("c", "two")] {
            let (job, answer) = job(cp.id, service(id, name));
            queue.send(job).await.unwrap();
            answers.push(answer);
        }
        drop(queue);
        // The writer task's own handle, as `GroupCommit::start` gives it one.
        let mut plain = store.clone();
        plain.group = None;
        run(plain, jobs).await;

        let outcomes: Vec<_> = futures_util::future::join_all(answers).await;
        assert!(matches!(outcomes[0], Ok(Ok(()))), "{:?}", outcomes[0]);
        assert!(
            matches!(&outcomes[1], Ok(Err(WriteError::KeyTaken { key, value })) if key == "name" && value == "one"),
            "{:?}",
            outcomes[1]
        );
        assert!(matches!(outcomes[2], Ok(Ok(()))), "{:?}", outcomes[2]);
        assert!(
            store
                .entity_body(cp.id, "services", "a")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .entity_body(cp.id, "services", "b")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .entity_body(cp.id, "services", "c")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store
                .entity_id_by_key(cp.id, "services", "name", "two")
                .await
                .unwrap(),
            Some("c".to_string())
        );
        // One change for the control plane, however many of its writes the group held,
        // naming the rows committed and not the refused one.
        let committed = [
            ("services".to_string(), "a".to_string()),
            ("services".to_string(), "c".to_string()),
        ];
        assert_eq!(
            *heard.lock().unwrap(),
            [Change::Entities(cp.id, committed.into())]
        );
        store.close().await;
    }

    /// A queue longer than `MAX_GROUP` is committed in groups of at most that many:
    /// 2 x MAX_GROUP + 2 queued writes make three commits, each heard as one change.
    #[tokio::test]
    async fn no_group_holds_more_than_max_group_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::default_database_url(dir.path());
        let store = Store::open(&url).await.unwrap();
        let request = NewControlPlane::parse(&serde_json::json!({"name": "cp"})).unwrap();
        let cp = ControlPlane::create(request, Default::default());
        store.insert_control_plane(&cp).await.unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        store.on_change(Arc::new(move |c| sink.lock().unwrap().push(c)));

        let total = 2 * MAX_GROUP + 2;
        let (queue, jobs) = mpsc::channel(total);
        let mut answers = Vec::new();
        for i in 0..total {
            let (job, answer) = job(cp.id, service(&format!("s{i}"), &format!("n{i}")));
            queue.send(job).await.unwrap();
            answers.push(answer);
        }
        drop(queue);
        let mut plain = store.clone();
        plain.group = None;
        run(plain, jobs).await;

        for answer in futures_util::future::join_all(answers).await {
            assert!(matches!(answer, Ok(Ok(()))), "{answer:?}");
        }
        let sizes: Vec<usize> = heard
            .lock()
            .unwrap()
            .iter()
            .map(|change| match change {
                Change::Entities(_, touched) => touched.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sizes, [MAX_GROUP, MAX_GROUP, 2]);
    }
}
