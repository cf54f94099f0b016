//! Data-plane client certificates (pinned or issuing anchors) and the data-plane nodes
//! that connected, per control plane.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Change, Store, StoreResult, from_json, parse_uuid};
use crate::domain::Timestamp;

/// Node status rows per transaction in [`Store::upsert_nodes`]: SQLite writes 500 in a
/// few milliseconds, so an API write waits at most that long behind a batch.
pub const NODES_PER_TRANSACTION: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct DpCertificate {
    pub id: Uuid,
    pub cert: String,
    pub fingerprint: String,
    pub subject: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A data plane as the control plane last saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    pub version: String,
    pub config_hash: String,
    pub labels: Value,
    pub compatibility: Value,
    pub last_error: Option<Value>,
    pub cert_fingerprint: String,
    pub cert_expiry: Timestamp,
    pub last_ping: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn seconds(row: &AnyRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_seconds(row.try_get(column)?))
}

fn certificate_from_row(row: &AnyRow) -> StoreResult<DpCertificate> {
    Ok(DpCertificate {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        cert: row.try_get("cert")?,
        fingerprint: row.try_get("fingerprint")?,
        subject: row.try_get("subject")?,
        created_at: seconds(row, "created_at")?,
        updated_at: seconds(row, "updated_at")?,
    })
}

fn node_from_row(row: &AnyRow) -> StoreResult<Node> {
    let last_error: Option<String> = row.try_get("last_error")?;
    Ok(Node {
        id: row.try_get("id")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        config_hash: row.try_get("config_hash")?,
        labels: from_json(&row.try_get::<String, _>("labels")?)?,
        compatibility: from_json(&row.try_get::<String, _>("compatibility")?)?,
        last_error: last_error.as_deref().map(from_json).transpose()?,
        cert_fingerprint: row.try_get("cert_fingerprint")?,
        cert_expiry: seconds(row, "cert_expiry")?,
        last_ping: seconds(row, "last_ping")?,
        created_at: seconds(row, "created_at")?,
        updated_at: seconds(row, "updated_at")?,
    })
}

const CERT_COLUMNS: &str = "id, cert, fingerprint, subject, created_at, updated_at";
const NODE_COLUMNS: &str = "id, hostname, version, config_hash, labels, compatibility, last_error, cert_fingerprint, cert_expiry, last_ping, created_at, updated_at";

impl Store {
    /// Creates or replaces a certificate (by id). Replacing one publishes
    /// [`Change::Certificates`]: the data planes of the old certificate may no longer be
    /// admitted. A new pin publishes nothing, so that adding data planes one by one does
    /// not make every live session re-check its certificate each time (the periodic
    /// re-check still runs).
    pub async fn put_dp_certificate(
        &self,
        control_plane: Uuid,
        cert: &DpCertificate,
    ) -> StoreResult<()> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let replaced = sqlx::query("UPDATE dp_client_certificates SET cert = $1, fingerprint = $2, subject = $3, updated_at = $4 WHERE control_plane_id = $5 AND id = $6")
            .bind(cert.cert.clone())
            .bind(cert.fingerprint.clone())
            .bind(cert.subject.clone())
            .bind(cert.updated_at.seconds())
            .bind(control_plane.to_string())
            .bind(cert.id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if replaced {
            self.announce(&mut tx, Change::Certificates).await?;
        } else {
            // An upsert still: another writer may have created this id meanwhile.
            sqlx::query("INSERT INTO dp_client_certificates (control_plane_id, id, cert, fingerprint, subject, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (control_plane_id, id) DO UPDATE SET cert = excluded.cert, fingerprint = excluded.fingerprint, subject = excluded.subject, updated_at = excluded.updated_at")
                .bind(control_plane.to_string())
                .bind(cert.id.to_string())
                .bind(cert.cert.clone())
                .bind(cert.fingerprint.clone())
                .bind(cert.subject.clone())
                .bind(cert.created_at.seconds())
                .bind(cert.updated_at.seconds())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if replaced {
            self.publish(Change::Certificates);
        }
        Ok(())
    }

    pub async fn dp_certificates(&self, control_plane: Uuid) -> StoreResult<Vec<DpCertificate>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM dp_client_certificates WHERE control_plane_id = $1 ORDER BY created_at, id"
        )))
        .bind(control_plane.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter().map(certificate_from_row).collect()
    }

    pub async fn dp_certificate(
        &self,
        control_plane: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<DpCertificate>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM dp_client_certificates WHERE control_plane_id = $1 AND id = $2"
        )))
        .bind(control_plane.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// Unpins a certificate; publishes [`Change::Certificates`] when there was one, so
    /// that the sessions using it close.
    pub async fn delete_dp_certificate(&self, control_plane: Uuid, id: Uuid) -> StoreResult<bool> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let deleted = sqlx::query(
            "DELETE FROM dp_client_certificates WHERE control_plane_id = $1 AND id = $2",
        )
        .bind(control_plane.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if deleted {
            self.announce(&mut tx, Change::Certificates).await?;
        }
        tx.commit().await?;
        if deleted {
            self.publish(Change::Certificates);
        }
        Ok(deleted)
    }

    /// Control planes that pinned a certificate with this fingerprint.
    pub async fn control_planes_pinning(&self, fingerprint: &str) -> StoreResult<Vec<Uuid>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT control_plane_id FROM dp_client_certificates WHERE fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        ids.iter().map(|id| parse_uuid(id)).collect()
    }

    /// Uploaded certificates whose subject is `subject`, with their control plane: the
    /// candidates that may have issued a data plane's certificate.
    pub async fn dp_certificates_with_subject(
        &self,
        subject: &str,
    ) -> StoreResult<Vec<(Uuid, DpCertificate)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT control_plane_id, {CERT_COLUMNS} FROM dp_client_certificates WHERE subject = $1"
        )))
        .bind(subject)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(&r.try_get::<String, _>("control_plane_id")?)?,
                    certificate_from_row(r)?,
                ))
            })
            .collect()
    }

    /// Writes a node's row; `false` when the node id belongs to another certificate that
    /// its control plane still pins (see [`upsert_node_query`]).
    pub async fn upsert_node(&self, control_plane: Uuid, node: &Node) -> StoreResult<bool> {
        let _writer = self.sqlite_writer().await;
        let done = upsert_node_query(control_plane, node)
            .execute(&mut *self.connection().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Writes many node rows (the status writer's batches), [`NODES_PER_TRANSACTION`] to a
    /// transaction: a change fanned out to 10,000 data planes brings 10,000 rows at once,
    /// and one transaction for all would hold SQLite's single writer from every API write
    /// for the whole batch.
    pub async fn upsert_nodes(&self, nodes: &[(Uuid, Node)]) -> StoreResult<()> {
        for chunk in nodes.chunks(NODES_PER_TRANSACTION) {
            let _writer = self.sqlite_writer().await;
            let mut connection = self.connection().await?;
            let mut tx = sqlx::Connection::begin(&mut *connection).await?;
            for (control_plane, node) in chunk {
                upsert_node_query(*control_plane, node)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn node(&self, control_plane: Uuid, id: &str) -> StoreResult<Option<Node>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM data_plane_nodes WHERE control_plane_id = $1 AND id = $2"
        )))
        .bind(control_plane.to_string())
        .bind(id)
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    pub async fn nodes(&self, control_plane: Uuid) -> StoreResult<Vec<Node>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NODE_COLUMNS} FROM data_plane_nodes WHERE control_plane_id = $1 ORDER BY created_at, id"
        )))
        .bind(control_plane.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    pub async fn delete_node(&self, control_plane: Uuid, id: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM data_plane_nodes WHERE control_plane_id = $1 AND id = $2")
                .bind(control_plane.to_string())
                .bind(id)
                .execute(&mut *self.connection().await?)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A node id belongs to the pinned certificate that first used it while its control plane
/// pins that certificate: the update is skipped otherwise, so of two data planes racing
/// for one id with different pinned certificates only the first is written. After a
/// rotation (the old certificate unpinned) the id moves to the new one. Certificates
/// issued under a `pki_client_certs` anchor are never pinned themselves: their ids move
/// freely among them, as the handshake's own check allows.
fn upsert_node_query(
    control_plane: Uuid,
    node: &Node,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query("INSERT INTO data_plane_nodes (control_plane_id, id, hostname, version, config_hash, labels, compatibility, last_error, cert_fingerprint, cert_expiry, last_ping, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (control_plane_id, id) DO UPDATE SET hostname = excluded.hostname, version = excluded.version, config_hash = excluded.config_hash, labels = excluded.labels, compatibility = excluded.compatibility, last_error = excluded.last_error, cert_fingerprint = excluded.cert_fingerprint, cert_expiry = excluded.cert_expiry, last_ping = excluded.last_ping, updated_at = excluded.updated_at \
         WHERE data_plane_nodes.cert_fingerprint = excluded.cert_fingerprint \
         OR NOT EXISTS (SELECT 1 FROM dp_client_certificates p WHERE p.control_plane_id = data_plane_nodes.control_plane_id AND p.fingerprint = data_plane_nodes.cert_fingerprint)")
        .bind(control_plane.to_string())
        .bind(node.id.clone())
        .bind(node.hostname.clone())
        .bind(node.version.clone())
        .bind(node.config_hash.clone())
        .bind(node.labels.to_string())
        .bind(node.compatibility.to_string())
        .bind(node.last_error.as_ref().map(Value::to_string))
        .bind(node.cert_fingerprint.clone())
        .bind(node.cert_expiry.seconds())
        .bind(node.last_ping.seconds())
        .bind(node.created_at.seconds())
        .bind(node.updated_at.seconds())
}
