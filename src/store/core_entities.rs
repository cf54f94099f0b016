//! Core entities of every kind in one generic shape: the validated body, plus the rows
//! that make Kong's database rules hold in one transaction: unique keys, foreign
//! references (checked on write, applied on delete) and tags for filtering.

use serde_json::Value;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use super::{Backend, Change, Sql, Store, StoreError, StoreResult, from_json};
use crate::domain::Timestamp;
use crate::domain::entity_kind::OnDelete;

/// One entity as written: its body and what the store must enforce about it.
#[derive(Debug, Clone)]
pub struct EntityRecord {
    pub kind: &'static str,
    pub id: String,
    /// Indexed for lookups and filters (a service's name, a plugin's name).
    pub name: Option<String>,
    /// The entity as JSON text.
    pub body: String,
    /// `(key, value)` pairs unique per control plane and kind.
    pub keys: Vec<(String, String)>,
    pub refs: Vec<EntityRef>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl EntityRecord {
    /// The `(kind, id)` a change names this entity by.
    pub fn key(&self) -> super::changes::EntityKey {
        (self.kind.to_string(), self.id.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRef {
    pub field: &'static str,
    pub target: &'static str,
    pub id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("an entity with this id exists")]
    IdTaken,
    #[error("{key} '{value}' is taken")]
    KeyTaken { key: String, value: String },
    #[error("{} '{}' does not exist", .0.target, .0.id)]
    MissingTarget(EntityRef),
    /// The control plane was not there (its foreign key said so).
    #[error("control plane not found")]
    NoControlPlane,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError::Store(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Kong: `an existing '<kind>' entity references this '<target>' entity`.
    #[error("an existing '{0}' entity references this entity")]
    Referenced(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DeleteError {
    fn from(e: sqlx::Error) -> Self {
        DeleteError::Store(e.into())
    }
}

/// Which entities of a kind a list returns.
#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    /// Only those whose foreign `field` points at this id (nested collections).
    pub parent: Option<(&'static str, String)>,
    /// Kong's `tags`: `a,b` needs all, `a/b` any.
    pub tags: Option<TagFilter>,
    pub name_eq: Option<String>,
    pub name_contains: Option<String>,
    /// Only those a link entity joins to one target (a group's consumers).
    pub linked: Option<Link>,
}

/// Entities joined by a link kind: `kind`'s rows whose `own_field` points at the listed
/// entity and whose `other_field` points at `other_id` (`consumer_group_consumers` with
/// `consumer` and `consumer_group`).
#[derive(Debug, Clone)]
pub struct Link {
    pub kind: &'static str,
    pub own_field: &'static str,
    pub other_field: &'static str,
    pub other_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub tags: Vec<String>,
    pub all: bool,
}

/// One page: bodies in id order, and the id to continue after if more remain.
#[derive(Debug, Clone)]
pub struct EntityPage {
    pub items: Vec<Value>,
    pub next_after: Option<String>,
}

/// Keys and tags longer than this are indexed by their digest (PostgreSQL caps btree
/// entries).
const MAX_INDEXED_KEY: usize = 256;

/// The stored form of a unique key's value.
pub(super) fn key_value(value: &str) -> String {
    if value.len() <= MAX_INDEXED_KEY {
        value.to_string()
    } else {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(value.as_bytes()))
        )
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

impl Store {
    /// Inserts (`replace = false`) or replaces an entity with its keys, references and
    /// tags, atomically. A taken id, a taken unique key or a missing target fails the
    /// whole write. Publishes [`Change::Entities`] when it commits.
    ///
    /// SQLite: through the group commit (`group_commit.rs`), one fsync for every write
    /// queued meanwhile. PostgreSQL: an insert is one statement, so one round trip.
    pub async fn write_entity(
        &self,
        control_plane: Uuid,
        record: &EntityRecord,
        replace: bool,
    ) -> Result<(), WriteError> {
        if let Some(group) = &self.group {
            return group.write(control_plane, record.clone(), replace).await;
        }
        if self.backend == Backend::Postgres && !replace {
            match self.insert_in_one_statement(control_plane, record).await {
                Ok(()) => {
                    self.publish(Change::Entities(control_plane, [record.key()].into()));
                    return Ok(());
                }
                // A refused row: the statement by statement write below says which rule
                // refused it (or succeeds, if what clashed went meanwhile).
                Err(e) if is_unique_violation(&e) || is_foreign_key_violation(&e) => {}
                Err(e) => return Err(StoreError::from(e).into()),
            }
        }
        let cp = control_plane.to_string();
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        write_rows(&mut tx, &cp, record, replace).await?;
        self.announce(&mut tx, Change::Config(control_plane))
            .await?;
        tx.commit().await?;
        self.publish(Change::Entities(control_plane, [record.key()].into()));
        Ok(())
    }

    /// [`Store::write_entity`] for several entities, and deletes of entities nothing
    /// references, in one transaction (a certificate and the SNIs of its `snis`
    /// shorthand). The first refusal fails the whole write.
    pub async fn write_entities(
        &self,
        control_plane: Uuid,
        writes: &[(EntityRecord, bool)],
        deletes: &[(&str, &str)],
    ) -> Result<(), WriteError> {
        let cp = control_plane.to_string();
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        for (kind, id) in deletes {
            sqlx::query("DELETE FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3")
                .bind(&cp)
                .bind(*kind)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        for (record, replace) in writes {
            write_rows(&mut tx, &cp, record, *replace).await?;
        }
        self.announce(&mut tx, Change::Config(control_plane))
            .await?;
        tx.commit().await?;
        let touched = writes
            .iter()
            .map(|(record, _)| record.key())
            .chain(
                deletes
                    .iter()
                    .map(|(kind, id)| (kind.to_string(), id.to_string())),
            )
            .collect();
        self.publish(Change::Entities(control_plane, touched));
        Ok(())
    }

    /// PostgreSQL's insert of a new entity as one autocommitted statement: the row, its
    /// keys, references and tags in data-modifying `WITH` clauses (their foreign keys are
    /// checked at the statement's end, so they see the row), and the notification.
    /// Replaces the five to seven round trips of a transaction statement by statement.
    async fn insert_in_one_statement(
        &self,
        control_plane: Uuid,
        record: &EntityRecord,
    ) -> Result<(), sqlx::Error> {
        use std::fmt::Write;
        let notification = self.changes.notification(Change::Config(control_plane));
        let mut tags: Vec<String> = record.tags.iter().map(|t| key_value(t)).collect();
        tags.sort();
        tags.dedup();
        let mut text = String::from(
            "WITH entity AS (INSERT INTO core_entities (control_plane_id, entity_type, id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7))",
        );
        let mut n = 7;
        // Each VALUES row's placeholders follow on from the last.
        let mut next = || {
            n += 1;
            n
        };
        if !record.keys.is_empty() {
            text.push_str(", entity_keys AS (INSERT INTO core_entity_keys (control_plane_id, entity_type, key_name, key_value, id) VALUES ");
            for i in 0..record.keys.len() {
                let sep = if i > 0 { ", " } else { "" };
                let _ = write!(text, "{sep}($1, $2, ${}, ${}, $3)", next(), next());
            }
            text.push(')');
        }
        if !record.refs.is_empty() {
            text.push_str(", entity_refs AS (INSERT INTO core_entity_refs (control_plane_id, entity_type, id, field, target_type, target_id) VALUES ");
            for i in 0..record.refs.len() {
                let sep = if i > 0 { ", " } else { "" };
                let _ = write!(
                    text,
                    "{sep}($1, $2, $3, ${}, ${}, ${})",
                    next(),
                    next(),
                    next()
                );
            }
            text.push(')');
        }
        if !tags.is_empty() {
            text.push_str(", entity_tags AS (INSERT INTO core_entity_tags (control_plane_id, entity_type, id, tag) VALUES ");
            for i in 0..tags.len() {
                let sep = if i > 0 { ", " } else { "" };
                let _ = write!(text, "{sep}($1, $2, $3, ${})", next());
            }
            text.push(')');
        }
        let _ = write!(text, " SELECT pg_notify(${}, ${})", next(), next());

        let mut query = sqlx::query(sqlx::AssertSqlSafe(text))
            .bind(control_plane.to_string())
            .bind(record.kind)
            .bind(record.id.as_str())
            .bind(record.name.as_deref())
            .bind(record.body.as_str())
            .bind(record.created_at.seconds())
            .bind(record.updated_at.seconds());
        for (key, value) in &record.keys {
            query = query.bind(key.as_str()).bind(key_value(value));
        }
        for reference in &record.refs {
            query = query
                .bind(reference.field)
                .bind(reference.target)
                .bind(reference.id.as_str());
        }
        for tag in tags {
            query = query.bind(tag);
        }
        query = query.bind(notification.channel).bind(notification.payload);
        query.execute(&mut *self.connection().await?).await?;
        Ok(())
    }

    pub(super) async fn sqlite_writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.lock().await),
            Backend::Postgres => None,
        }
    }

    /// The stored body of one entity (its `created_at` with it).
    pub async fn entity_body(
        &self,
        control_plane: Uuid,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<Value>> {
        let row = sqlx::query("SELECT body FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3")
            .bind(control_plane.to_string())
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        row.map(|r| from_json(&r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// The id of the entity holding a unique key (`name`, `username`, ...).
    pub async fn entity_id_by_key(
        &self,
        control_plane: Uuid,
        kind: &str,
        key: &str,
        value: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM core_entity_keys WHERE control_plane_id = $1 AND entity_type = $2 AND key_name = $3 AND key_value = $4")
            .bind(control_plane.to_string())
            .bind(kind)
            .bind(key)
            .bind(key_value(value))
            .fetch_optional(&mut *self.connection().await?)
            .await?)
    }

    /// How many entities of `kind` are named `name` (e.g. plugins using a schema).
    pub async fn count_entities_named(
        &self,
        control_plane: Uuid,
        kind: &str,
        name: &str,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND name = $3")
            .bind(control_plane.to_string())
            .bind(kind)
            .bind(name)
            .fetch_one(&mut *self.connection().await?)
            .await?)
    }

    /// A page of entities in id order, after `after` (exclusive).
    pub async fn list_entities(
        &self,
        control_plane: Uuid,
        kind: &str,
        filter: &EntityFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<EntityPage> {
        let cp = control_plane.to_string();
        let mut sql =
            Sql::new("SELECT e.id, e.body FROM core_entities e WHERE e.control_plane_id = ");
        sql.bind_text(cp.clone())
            .push(" AND e.entity_type = ")
            .bind_text(kind);
        if let Some((field, id)) = &filter.parent {
            sql.push(
                " AND e.id IN (SELECT r.id FROM core_entity_refs r WHERE r.control_plane_id = ",
            )
            .bind_text(cp.clone())
            .push(" AND r.entity_type = ")
            .bind_text(kind)
            .push(" AND r.field = ")
            .bind_text(*field)
            .push(" AND r.target_id = ")
            .bind_text(id.clone())
            .push(")");
        }
        if let Some(link) = &filter.linked {
            sql.push(" AND e.id IN (SELECT a.target_id FROM core_entity_refs a JOIN core_entity_refs b ON b.control_plane_id = a.control_plane_id AND b.entity_type = a.entity_type AND b.id = a.id WHERE a.control_plane_id = ")
                .bind_text(cp.clone())
                .push(" AND a.entity_type = ")
                .bind_text(link.kind)
                .push(" AND a.field = ")
                .bind_text(link.own_field)
                .push(" AND b.field = ")
                .bind_text(link.other_field)
                .push(" AND b.target_id = ")
                .bind_text(link.other_id.clone())
                .push(")");
        }
        if let Some(tags) = &filter.tags {
            sql.push(
                " AND e.id IN (SELECT t.id FROM core_entity_tags t WHERE t.control_plane_id = ",
            )
            .bind_text(cp.clone())
            .push(" AND t.entity_type = ")
            .bind_text(kind)
            .push(" AND t.tag IN ")
            .bind_text_list(tags.tags.iter().map(|t| key_value(t)))
            .push(" GROUP BY t.id");
            if tags.all {
                sql.push(" HAVING COUNT(DISTINCT t.tag) = ")
                    .bind_int(tags.tags.len() as i64);
            }
            sql.push(")");
        }
        if let Some(name) = &filter.name_eq {
            sql.push(" AND e.name = ").bind_text(name.clone());
        }
        if let Some(part) = &filter.name_contains {
            // The part is data, not a pattern: LIKE's wildcards in it are escaped.
            let escaped = part
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            sql.push(" AND e.name LIKE ")
                .bind_text(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        if let Some(after) = after {
            sql.push(" AND e.id > ").bind_text(after);
        }
        sql.push(" ORDER BY e.id LIMIT ").bind_int(limit as i64 + 1);
        let rows = sql
            .query()
            .fetch_all(&mut *self.connection().await?)
            .await?;
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut last = None;
        for row in rows.iter().take(limit) {
            last = Some(row.try_get::<String, _>("id")?);
            items.push(from_json(&row.try_get::<String, _>("body")?)?);
        }
        Ok(EntityPage {
            next_after: if rows.len() > limit { last } else { None },
            items,
        })
    }

    /// Every entity of a control plane by kind, each in id order, read in one statement
    /// so the data-plane export is one consistent snapshot.
    pub async fn all_entities_by_kind(
        &self,
        control_plane: Uuid,
    ) -> StoreResult<std::collections::HashMap<String, Vec<Value>>> {
        let rows = sqlx::query("SELECT entity_type, body FROM core_entities WHERE control_plane_id = $1 ORDER BY entity_type, id")
            .bind(control_plane.to_string())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        let mut by_kind: std::collections::HashMap<String, Vec<Value>> = Default::default();
        for row in &rows {
            let kind: String = row.try_get("entity_type")?;
            by_kind
                .entry(kind)
                .or_default()
                .push(from_json(&row.try_get::<String, _>("body")?)?);
        }
        Ok(by_kind)
    }

    /// Deletes an entity, first applying each referencing field's rule: cascades are
    /// deleted with it, a restricting reference fails the whole delete. Returns whether
    /// the entity existed; when it did, publishes [`Change::Entities`] naming every row
    /// it removed.
    pub async fn delete_entity(
        &self,
        control_plane: Uuid,
        kind: &str,
        id: &str,
        rule: fn(&str, &str) -> OnDelete,
    ) -> Result<bool, DeleteError> {
        let cp = control_plane.to_string();
        let _writer = self.sqlite_writer().await;
        // It reads before it writes: on SQLite take the write lock up front, or another
        // writer's commit in between fails this one (SQLITE_BUSY_SNAPSHOT).
        let mut connection = self.connection().await?;
        let mut tx = match self.backend {
            Backend::Sqlite => {
                sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await?
            }
            Backend::Postgres => sqlx::Connection::begin(&mut *connection).await?,
        };
        if !exists(&mut tx, &cp, kind, id).await? {
            return Ok(false);
        }
        // Breadth-first over what points at what is being deleted.
        let mut doomed: Vec<(String, String)> = vec![(kind.to_string(), id.to_string())];
        // What is already in `doomed`, so a cascade of many rows costs linear time.
        let mut seen: std::collections::HashSet<(String, String)> =
            doomed.iter().cloned().collect();
        let mut next = 0;
        while next < doomed.len() {
            let (target_kind, target_id) = doomed[next].clone();
            next += 1;
            let referrers = sqlx::query("SELECT entity_type, id, field FROM core_entity_refs WHERE control_plane_id = $1 AND target_type = $2 AND target_id = $3")
                .bind(&cp)
                .bind(&target_kind)
                .bind(&target_id)
                .fetch_all(&mut *tx)
                .await?;
            for row in referrers {
                let (ref_kind, ref_id, field): (String, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                match rule(&ref_kind, &field) {
                    OnDelete::Cascade => {
                        if seen.insert((ref_kind.clone(), ref_id.clone())) {
                            doomed.push((ref_kind, ref_id));
                        }
                    }
                    OnDelete::Restrict => return Err(DeleteError::Referenced(ref_kind)),
                }
            }
        }
        // Referrers first, so no reference outlives its target.
        for (doomed_kind, doomed_id) in doomed.iter().rev() {
            sqlx::query("DELETE FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3")
                .bind(&cp)
                .bind(doomed_kind)
                .bind(doomed_id)
                .execute(&mut *tx)
                .await?;
        }
        self.announce(&mut tx, Change::Config(control_plane))
            .await?;
        tx.commit().await?;
        self.publish(Change::Entities(control_plane, doomed.into()));
        Ok(true)
    }
}

/// The rows of one entity write (the entity, its keys, references and tags), in the
/// caller's transaction, each refusal named by the rule that refused it.
pub(super) async fn write_rows(
    tx: &mut sqlx::AnyConnection,
    cp: &str,
    record: &EntityRecord,
    replace: bool,
) -> Result<(), WriteError> {
    if replace {
        for table in ["core_entity_keys", "core_entity_refs", "core_entity_tags"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3"
            )))
            .bind(cp)
            .bind(record.kind)
            .bind(&record.id)
            .execute(&mut *tx)
            .await?;
        }
    }
    let upsert = if replace {
        " ON CONFLICT (control_plane_id, entity_type, id) DO UPDATE SET name = excluded.name, body = excluded.body, updated_at = excluded.updated_at"
    } else {
        ""
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO core_entities (control_plane_id, entity_type, id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7){upsert}"
    )))
    .bind(cp)
    .bind(record.kind)
    .bind(&record.id)
    .bind(record.name.clone())
    .bind(record.body.as_str())
    .bind(record.created_at.seconds())
    .bind(record.updated_at.seconds())
    .execute(&mut *tx)
    .await
    .map_err(|e| match &e {
        _ if is_unique_violation(&e) => WriteError::IdTaken,
        // The row's one foreign key is its control plane.
        _ if is_foreign_key_violation(&e) => WriteError::NoControlPlane,
        _ => StoreError::from(e).into(),
    })?;
    for (key, value) in &record.keys {
        sqlx::query("INSERT INTO core_entity_keys (control_plane_id, entity_type, key_name, key_value, id) VALUES ($1, $2, $3, $4, $5)")
            .bind(cp)
            .bind(record.kind)
            .bind(key)
            .bind(key_value(value))
            .bind(&record.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    WriteError::KeyTaken {
                        key: key.clone(),
                        value: value.clone(),
                    }
                } else {
                    StoreError::from(e).into()
                }
            })?;
    }
    for reference in &record.refs {
        // The foreign key on the target does the existence check, in the same trip.
        sqlx::query("INSERT INTO core_entity_refs (control_plane_id, entity_type, id, field, target_type, target_id) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(cp)
            .bind(record.kind)
            .bind(&record.id)
            .bind(reference.field)
            .bind(reference.target)
            .bind(&reference.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    WriteError::MissingTarget(reference.clone())
                } else {
                    StoreError::from(e).into()
                }
            })?;
    }
    for tag in &record.tags {
        sqlx::query("INSERT INTO core_entity_tags (control_plane_id, entity_type, id, tag) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(cp)
            .bind(record.kind)
            .bind(&record.id)
            .bind(key_value(tag))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn exists(
    tx: &mut Transaction<'_, Any>,
    cp: &str,
    kind: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3")
        .bind(cp)
        .bind(kind)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}
