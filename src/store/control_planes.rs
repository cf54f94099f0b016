//! Control plane rows and their labels, written together in one transaction.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row};
use uuid::Uuid;

use super::{
    Backend, Change, Sql, Store, StoreError, StoreResult, from_json, notify_on, parse_uuid,
};
use crate::domain::Timestamp;
use crate::domain::control_plane::{ControlPlane, ControlPlaneFilter, ProxyUrl};
use crate::domain::paging::PageRequest;

const COLUMNS: &str = "id, name, description, cluster_type, auth_type, cloud_gateway, proxy_urls, created_at, updated_at";
const NAME_CLASH: &str = "a control plane with this name";

/// PostgreSQL's channel for a control plane being deleted (payload: its id), so that
/// every node answers 404 for it at once.
pub const DELETING_CHANNEL: &str = "konnektd_deleting";

fn deleting_notification(id: Uuid) -> super::Notification {
    super::Notification {
        channel: DELETING_CHANNEL,
        payload: id.to_string(),
    }
}

/// Rows per transaction of a chunked delete: long enough to pay for its commit,
/// short enough (milliseconds) that other writers barely wait.
const CHUNK: i64 = 2000;

fn control_plane_from_row(row: &AnyRow) -> StoreResult<ControlPlane> {
    let proxy_urls: String = row.try_get("proxy_urls")?;
    Ok(ControlPlane {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        labels: BTreeMap::new(),
        cluster_type: row.try_get("cluster_type")?,
        auth_type: row.try_get("auth_type")?,
        cloud_gateway: row.try_get::<i64, _>("cloud_gateway")? != 0,
        proxy_urls: from_json::<Vec<ProxyUrlRow>>(&proxy_urls)?
            .into_iter()
            .map(ProxyUrl::from)
            .collect(),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

/// The stored JSON form of a proxy URL, kept apart from the domain type.
#[derive(serde::Serialize, serde::Deserialize)]
struct ProxyUrlRow {
    host: String,
    port: u16,
    protocol: String,
}

impl From<ProxyUrlRow> for ProxyUrl {
    fn from(r: ProxyUrlRow) -> Self {
        ProxyUrl {
            host: r.host,
            port: r.port,
            protocol: r.protocol,
        }
    }
}

fn proxy_urls_json(urls: &[ProxyUrl]) -> String {
    let rows: Vec<_> = urls
        .iter()
        .map(|u| ProxyUrlRow {
            host: u.host.clone(),
            port: u.port,
            protocol: u.protocol.clone(),
        })
        .collect();
    serde_json::to_string(&rows).expect("proxy urls serialise")
}

/// `%`, `_` and the escape character itself match literally in a LIKE pattern.
fn like_contains(needle: &str) -> String {
    let mut escaped = String::with_capacity(needle.len() + 2);
    escaped.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

fn push_filter(q: &mut Sql, filter: &ControlPlaneFilter) {
    // A control plane being deleted (SQLite, see `delete_control_plane`) is gone already.
    q.push(" WHERE deleting IS NULL");
    if let Some(ids) = &filter.ids {
        q.push(" AND id IN ")
            .bind_text_list(ids.iter().map(Uuid::to_string));
    }
    if let Some(ids) = &filter.visible_to {
        q.push(" AND id IN ")
            .bind_text_list(ids.iter().map(Uuid::to_string));
    }
    if let Some(name) = &filter.name_eq {
        q.push(" AND name = ").bind_text(name);
    }
    if let Some(name) = &filter.name_neq {
        q.push(" AND name <> ").bind_text(name);
    }
    if let Some(needle) = &filter.name_contains {
        q.push(" AND lower(name) LIKE ")
            .bind_text(like_contains(needle))
            .push(" ESCAPE '\\'");
    }
    if let Some(types) = &filter.cluster_types {
        q.push(" AND cluster_type IN ")
            .bind_text_list(types.iter().cloned());
    }
    if let Some(t) = &filter.cluster_type_neq {
        q.push(" AND cluster_type <> ").bind_text(t);
    }
    if let Some(cloud) = filter.cloud_gateway {
        q.push(" AND cloud_gateway = ").bind_int(i64::from(cloud));
    }
    for (key, value) in &filter.labels {
        q.push(" AND EXISTS (SELECT 1 FROM control_plane_labels l WHERE l.control_plane_id = control_planes.id AND l.key = ")
            .bind_text(key);
        if let Some(value) = value {
            q.push(" AND l.value = ").bind_text(value);
        }
        q.push(")");
    }
}

impl Store {
    pub async fn insert_control_plane(&self, cp: &ControlPlane) -> StoreResult<()> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO control_planes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(cp.id.to_string())
        .bind(&cp.name)
        .bind(&cp.description)
        .bind(&cp.cluster_type)
        .bind(&cp.auth_type)
        .bind(i64::from(cp.cloud_gateway))
        .bind(proxy_urls_json(&cp.proxy_urls))
        .bind(cp.created_at.millis())
        .bind(cp.updated_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, NAME_CLASH))?;
        insert_labels(&mut tx, cp).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn control_plane(&self, id: Uuid) -> StoreResult<Option<ControlPlane>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM control_planes WHERE id = $1 AND deleting IS NULL"
        )))
        .bind(id.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut cp = control_plane_from_row(&row)?;
        self.attach_labels(std::slice::from_mut(&mut cp)).await?;
        Ok(Some(cp))
    }

    /// Whether the control plane exists: one indexed lookup, no labels.
    pub async fn control_plane_exists(&self, id: Uuid) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM control_planes WHERE id = $1 AND deleting IS NULL")
                .bind(id.to_string())
                .fetch_optional(&mut *self.connection().await?)
                .await?;
        Ok(found.is_some())
    }

    /// One page of the control planes matching `filter`, and how many match in all.
    pub async fn list_control_planes(
        &self,
        filter: &ControlPlaneFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<ControlPlane>, u64)> {
        let mut count = Sql::new("SELECT COUNT(*) FROM control_planes");
        push_filter(&mut count, filter);
        let total: i64 = count
            .query_scalar()
            .fetch_one(&mut *self.connection().await?)
            .await?;

        let mut q = Sql::new(format!("SELECT {COLUMNS} FROM control_planes"));
        push_filter(&mut q, filter);
        let order = if filter.newest_first { "DESC" } else { "ASC" };
        q.push(&format!(" ORDER BY created_at {order}, id {order} LIMIT "))
            .bind_int(i64::from(page.size))
            .push(" OFFSET ")
            .bind_int(page.offset() as i64);
        let rows = q.query().fetch_all(&mut *self.connection().await?).await?;
        let mut cps = rows
            .iter()
            .map(control_plane_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        self.attach_labels(&mut cps).await?;
        Ok((cps, total as u64))
    }

    /// Replaces the stored control plane with `cp`; `false` when it no longer exists.
    pub async fn update_control_plane(&self, cp: &ControlPlane) -> StoreResult<bool> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let done = sqlx::query(
            "UPDATE control_planes SET name = $1, description = $2, auth_type = $3, proxy_urls = $4, updated_at = $5 WHERE id = $6 AND deleting IS NULL",
        )
        .bind(&cp.name)
        .bind(&cp.description)
        .bind(&cp.auth_type)
        .bind(proxy_urls_json(&cp.proxy_urls))
        .bind(cp.updated_at.millis())
        .bind(cp.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx(e, NAME_CLASH))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM control_plane_labels WHERE control_plane_id = $1")
            .bind(cp.id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_labels(&mut tx, cp).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a control plane and, by cascade, everything it holds; publishes
    /// [`Change::Certificates`] when it existed, as its pinned certificates went with it.
    ///
    /// Its cost is linear in the rows it removes, and it never holds other control
    /// planes' writes for longer than a short transaction: a first transaction hides the
    /// control plane from every read, frees its name and removes what data planes and
    /// schemas hang on it; then its entities go in chunks of [`CHUNK`] rows, each its own
    /// transaction that lets other writers in between, and last the row itself. The
    /// chunks run in a task of their own, which a dropped request does not stop, and a
    /// restart finishes a delete a crash interrupted ([`Store::resume_deletions`]):
    /// nothing is left half-deleted and visible. SQLite answers once the rows are gone
    /// (seconds at 100,000 entities); PostgreSQL, whose chunks cost a round trip and an
    /// fsync each, answers once the control plane is hidden and finishes in the
    /// background.
    pub async fn delete_control_plane(&self, id: Uuid) -> StoreResult<bool> {
        if !self.hide_control_plane(id).await? {
            return Ok(false);
        }
        if self.backend == Backend::Postgres {
            self.finish_in_background(id, "a");
            return Ok(true);
        }
        // Its own task, so a client that goes away does not stop the delete half-way.
        let store = self.clone();
        tokio::spawn(async move { store.finish_deletion(id).await })
            .await
            .map_err(|e| StoreError::Corrupt(format!("deleting a control plane: {e}")))??;
        Ok(true)
    }

    /// Runs [`Store::finish_deletion`] in a task of its own, logging how it ended
    /// (`which` names the delete in the log: "a" or "an interrupted").
    fn finish_in_background(&self, id: Uuid, which: &'static str) {
        let store = self.clone();
        tokio::spawn(async move {
            match store.finish_deletion(id).await {
                Ok(()) => tracing::info!(control_plane = %id, "finished {which} delete"),
                Err(e) => {
                    tracing::warn!(control_plane = %id, error = %e, "could not finish {which} delete; the next start does")
                }
            }
        });
    }

    /// The first step: marks the control plane as being deleted (every read leaves it
    /// out from now on, on every node), frees its name, and removes its labels, schemas,
    /// data-plane certificates and nodes, so no data plane is admitted to it any more.
    async fn hide_control_plane(&self, id: Uuid) -> StoreResult<bool> {
        let cp = id.to_string();
        {
            let _writer = self.sqlite_writer().await;
            let mut connection = self.connection().await?;
            let mut tx = sqlx::Connection::begin(&mut *connection).await?;
            let done = sqlx::query(
                "UPDATE control_planes SET deleting = $1, name = $2 WHERE id = $3 AND deleting IS NULL",
            )
            .bind(Timestamp::now().millis())
            .bind(format!("\u{1}deleting {cp}"))
            .bind(&cp)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            for table in [
                "control_plane_labels",
                "plugin_schemas",
                "dp_client_certificates",
                "data_plane_nodes",
            ] {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE control_plane_id = $1"
                )))
                .bind(&cp)
                .execute(&mut *tx)
                .await?;
            }
            // Other nodes (PostgreSQL): its schemas and certificates went, and it is
            // being deleted.
            let notification = super::plugin_schemas::schemas_changed(id);
            notify_on(&mut *tx, self.backend, &notification).await?;
            notify_on(&mut *tx, self.backend, &deleting_notification(id)).await?;
            self.announce(&mut tx, Change::Certificates).await?;
            tx.commit().await?;
        }
        self.deleting.lock().expect("not poisoned").insert(id);
        self.forget_plugin_schemas(Some(id));
        self.publish(Change::Certificates);
        Ok(true)
    }

    /// Another node hid `id` ([`DELETING_CHANNEL`]): this one answers 404 for it too.
    pub(super) fn heard_deleting(&self, id: Uuid) {
        self.deleting.lock().expect("not poisoned").insert(id);
    }

    /// Removes a hidden control plane's entities chunk by chunk, references first (a
    /// reference must not outlive its target), then the row itself.
    async fn finish_deletion(&self, id: Uuid) -> StoreResult<()> {
        let cp = id.to_string();
        let statements: &[&str] = match self.backend {
            Backend::Sqlite => &[
                "DELETE FROM core_entity_refs WHERE rowid IN (SELECT rowid FROM core_entity_refs WHERE control_plane_id = $1 LIMIT $2)",
                "DELETE FROM core_entities WHERE rowid IN (SELECT rowid FROM core_entities WHERE control_plane_id = $1 LIMIT $2)",
            ],
            // Keys and tags set by set too, rather than by each entity's cascade.
            Backend::Postgres => &[
                "DELETE FROM core_entity_refs WHERE ctid = ANY(ARRAY(SELECT ctid FROM core_entity_refs WHERE control_plane_id = $1 LIMIT $2))",
                "DELETE FROM core_entity_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM core_entity_keys WHERE control_plane_id = $1 LIMIT $2))",
                "DELETE FROM core_entity_tags WHERE ctid = ANY(ARRAY(SELECT ctid FROM core_entity_tags WHERE control_plane_id = $1 LIMIT $2))",
                "DELETE FROM core_entities WHERE ctid = ANY(ARRAY(SELECT ctid FROM core_entities WHERE control_plane_id = $1 LIMIT $2))",
            ],
        };
        for statement in statements {
            loop {
                let _writer = self.sqlite_writer().await;
                let done = sqlx::query(*statement)
                    .bind(&cp)
                    .bind(CHUNK)
                    .execute(&mut *self.connection().await?)
                    .await?;
                if done.rows_affected() == 0 {
                    break;
                }
            }
        }
        {
            let _writer = self.sqlite_writer().await;
            // Anything another node wrote meanwhile goes by cascade.
            sqlx::query("DELETE FROM control_planes WHERE id = $1")
                .bind(&cp)
                .execute(&mut *self.connection().await?)
                .await?;
        }
        self.deleting.lock().expect("not poisoned").remove(&id);
        Ok(())
    }

    /// Finishes, in the background, the deletes a stop or crash interrupted.
    pub async fn resume_deletions(&self) -> StoreResult<()> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM control_planes WHERE deleting IS NOT NULL")
                .fetch_all(&mut *self.connection().await?)
                .await?;
        for id in ids {
            let id = parse_uuid(&id)?;
            self.deleting.lock().expect("not poisoned").insert(id);
            self.finish_in_background(id, "an interrupted");
        }
        Ok(())
    }

    /// Whether the control plane's rows are still going (this node deletes them, or
    /// another node said it does). Routes under it answer 404 meanwhile; one lock, no
    /// database.
    pub fn is_being_deleted(&self, id: Uuid) -> bool {
        let deleting = self.deleting.lock().expect("not poisoned");
        !deleting.is_empty() && deleting.contains(&id)
    }

    async fn attach_labels(&self, cps: &mut [ControlPlane]) -> StoreResult<()> {
        if cps.is_empty() {
            return Ok(());
        }
        let mut q = Sql::new(
            "SELECT control_plane_id, key, value FROM control_plane_labels WHERE control_plane_id IN ",
        );
        q.bind_text_list(cps.iter().map(|cp| cp.id.to_string()));
        let rows = q.query().fetch_all(&mut *self.connection().await?).await?;
        for row in rows {
            let id = parse_uuid(&row.try_get::<String, _>("control_plane_id")?)?;
            if let Some(cp) = cps.iter_mut().find(|cp| cp.id == id) {
                cp.labels.insert(row.try_get("key")?, row.try_get("value")?);
            }
        }
        Ok(())
    }
}

async fn insert_labels(tx: &mut sqlx::Transaction<'_, Any>, cp: &ControlPlane) -> StoreResult<()> {
    for (key, value) in &cp.labels {
        sqlx::query(
            "INSERT INTO control_plane_labels (control_plane_id, key, value) VALUES ($1, $2, $3)",
        )
        .bind(cp.id.to_string())
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
