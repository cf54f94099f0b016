//! Custom plugin schemas, keyed by control plane and plugin name.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, from_json};
use crate::domain::paging::PageRequest;
use crate::domain::plugin_schema::StoredPluginSchema;

const COLUMNS: &str = "name, lua_schema, json_schema, merged_schema, created_at, updated_at";
const NAME_TAKEN: &str = "a plugin schema with this name";
const INSERT: &str = "INSERT INTO plugin_schemas (control_plane_id, name, lua_schema, json_schema, merged_schema, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// `sql` with one schema row bound to `$1`..`$7` in [`INSERT`]'s order.
fn bind_row(
    sql: String,
    control_plane: Uuid,
    schema: &StoredPluginSchema,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(AssertSqlSafe(sql))
        .bind(control_plane.to_string())
        .bind(schema.name.clone())
        .bind(schema.lua_schema.clone())
        .bind(schema.json.to_string())
        .bind(schema.merged_json.to_string())
        .bind(schema.created_at)
        .bind(schema.updated_at)
}

fn from_row(row: &AnyRow) -> StoreResult<StoredPluginSchema> {
    Ok(StoredPluginSchema {
        name: row.try_get("name")?,
        lua_schema: row.try_get("lua_schema")?,
        json: from_json(&row.try_get::<String, _>("json_schema")?)?,
        merged_json: from_json(&row.try_get::<String, _>("merged_schema")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a new schema; an existing name is [`StoreError::Conflict`].
    pub async fn insert_plugin_schema(
        &self,
        control_plane: Uuid,
        schema: &StoredPluginSchema,
    ) -> StoreResult<()> {
        bind_row(INSERT.to_string(), control_plane, schema)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_sqlx(e, NAME_TAKEN))?;
        Ok(())
    }

    /// Creates or replaces a schema; `created_at` of an existing one is kept.
    /// Returns the stored row.
    pub async fn put_plugin_schema(
        &self,
        control_plane: Uuid,
        schema: &StoredPluginSchema,
    ) -> StoreResult<StoredPluginSchema> {
        let upsert = format!(
            "{INSERT} ON CONFLICT (control_plane_id, name) DO UPDATE SET lua_schema = excluded.lua_schema, \
             json_schema = excluded.json_schema, merged_schema = excluded.merged_schema, \
             updated_at = excluded.updated_at RETURNING {COLUMNS}"
        );
        let row = bind_row(upsert, control_plane, schema)
            .fetch_one(&self.pool)
            .await?;
        from_row(&row)
    }

    pub async fn plugin_schema(
        &self,
        control_plane: Uuid,
        name: &str,
    ) -> StoreResult<Option<StoredPluginSchema>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM plugin_schemas WHERE control_plane_id = $1 AND name = $2"
        )))
        .bind(control_plane.to_string())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Only the Lua source of a schema: what validating a plugin needs, without the two
    /// JSON renderings.
    pub async fn plugin_schema_source(
        &self,
        control_plane: Uuid,
        name: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT lua_schema FROM plugin_schemas WHERE control_plane_id = $1 AND name = $2",
        )
        .bind(control_plane.to_string())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// One page of a control plane's schemas by name, and how many there are.
    pub async fn list_plugin_schemas(
        &self,
        control_plane: Uuid,
        page: PageRequest,
    ) -> StoreResult<(Vec<StoredPluginSchema>, u64)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM plugin_schemas WHERE control_plane_id = $1")
                .bind(control_plane.to_string())
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM plugin_schemas WHERE control_plane_id = $1 ORDER BY name LIMIT $2 OFFSET $3"
        )))
        .bind(control_plane.to_string())
        .bind(i64::from(page.size))
        .bind(page.offset() as i64)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((items, total as u64))
    }

    /// Names of a control plane's custom plugins, sorted.
    pub async fn plugin_schema_names(&self, control_plane: Uuid) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM plugin_schemas WHERE control_plane_id = $1 ORDER BY name",
        )
        .bind(control_plane.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_plugin_schema(&self, control_plane: Uuid, name: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM plugin_schemas WHERE control_plane_id = $1 AND name = $2")
                .bind(control_plane.to_string())
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}
