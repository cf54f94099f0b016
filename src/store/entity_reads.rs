//! The read of one entity as `GET .../{collection}/{id or name}` needs it: the stored
//! body and whether its control plane is there, in one round trip. The control plane is
//! the query's left side, so a missing or hidden (being deleted) control plane gives no
//! row, and a missing entity gives a row without a body.

use sqlx::Row;
use uuid::Uuid;

use super::core_entities::key_value;
use super::{Store, StoreResult};

/// What one read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityRead {
    /// No such control plane, or one being deleted.
    NoControlPlane,
    /// The control plane is there; the entity is not.
    NoEntity,
    /// The entity's stored body (JSON text, as written).
    Body(String),
}

const BY_ID: &str = "SELECT e.body FROM control_planes c \
     LEFT JOIN core_entities e ON e.control_plane_id = c.id AND e.entity_type = $2 AND e.id = $3 \
     WHERE c.id = $1 AND c.deleting IS NULL";

const BY_KEY: &str = "SELECT e.body FROM control_planes c \
     LEFT JOIN core_entity_keys k ON k.control_plane_id = c.id AND k.entity_type = $2 \
         AND k.key_name = $3 AND k.key_value = $4 \
     LEFT JOIN core_entities e ON e.control_plane_id = c.id AND e.entity_type = $5 AND e.id = k.id \
     WHERE c.id = $1 AND c.deleting IS NULL";

impl Store {
    /// The entity of `kind` with this id in the control plane, and whether the control
    /// plane exists: one query.
    pub async fn read_entity_by_id(
        &self,
        control_plane: Uuid,
        kind: &str,
        id: &str,
    ) -> StoreResult<EntityRead> {
        let row = sqlx::query(BY_ID)
            .bind(control_plane.to_string())
            .bind(kind)
            .bind(id)
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        read_of(row)
    }

    /// The entity of `kind` holding the unique key `key` = `value` (a service's name, a
    /// consumer's username) in the control plane, and whether the control plane exists:
    /// one query.
    pub async fn read_entity_by_key(
        &self,
        control_plane: Uuid,
        kind: &str,
        key: &str,
        value: &str,
    ) -> StoreResult<EntityRead> {
        let row = sqlx::query(BY_KEY)
            .bind(control_plane.to_string())
            .bind(kind)
            .bind(key)
            .bind(key_value(value))
            .bind(kind)
            .fetch_optional(&mut *self.connection().await?)
            .await?;
        read_of(row)
    }
}

fn read_of(row: Option<sqlx::any::AnyRow>) -> StoreResult<EntityRead> {
    let Some(row) = row else {
        return Ok(EntityRead::NoControlPlane);
    };
    Ok(match row.try_get::<Option<String>, _>(0)? {
        Some(body) => EntityRead::Body(body),
        None => EntityRead::NoEntity,
    })
}
