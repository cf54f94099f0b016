//! Custom plugin schemas, keyed by control plane and plugin name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use super::{Notification, Store, StoreError, StoreResult, from_json, notify_on};
use crate::domain::Timestamp;
use crate::domain::paging::PageRequest;
use crate::domain::plugin_schema::{StoredPluginSchema, check_custom_name};

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
        .bind(schema.created_at.millis())
        .bind(schema.updated_at.millis())
}

fn plugin_schema_from_row(row: &AnyRow) -> StoreResult<StoredPluginSchema> {
    Ok(StoredPluginSchema {
        name: row.try_get("name")?,
        lua_schema: row.try_get("lua_schema")?,
        json: from_json(&row.try_get::<String, _>("json_schema")?)?,
        merged_json: from_json(&row.try_get::<String, _>("merged_schema")?)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

/// The PostgreSQL channel on which a schema write names its control plane, so the other
/// konnektd nodes forget the sources they cached for it.
pub const PLUGIN_SCHEMAS_CHANNEL: &str = "konnektd_plugin_schemas";

/// The notification of a change to a control plane's plugin schemas.
pub(super) fn schemas_changed(control_plane: Uuid) -> Notification {
    Notification {
        channel: PLUGIN_SCHEMAS_CHANNEL,
        payload: control_plane.to_string(),
    }
}

/// How long a cached source is used without asking the database again: the bound on
/// staleness should another node's notification be lost.
const SOURCE_TTL: Duration = Duration::from_secs(5);
/// Cached lookups (unknown names included) beyond which the cache starts afresh.
const MAX_SOURCES: usize = 4096;

/// Plugin-schema sources as plugin writes look them up (`None`: no custom schema of that
/// name), so that a write does not read its schema back from the database each time.
/// Every schema write forgets its control plane's entries here and, through
/// [`PLUGIN_SCHEMAS_CHANNEL`], on the other nodes.
#[derive(Debug, Default)]
pub(super) struct SourceCache {
    inner: Mutex<Sources>,
}

/// A looked-up source and when it was read.
type Cached = (Option<Arc<str>>, Instant);

#[derive(Debug, Default)]
struct Sources {
    by_control_plane: HashMap<Uuid, HashMap<String, Cached>>,
    len: usize,
    /// Bumped by every forget: a lookup that read the database across a forget does not
    /// cache what it read, which may predate the write.
    generation: u64,
}

impl Sources {
    fn drop_expired(&mut self) {
        let mut kept = 0;
        self.by_control_plane.retain(|_, names| {
            names.retain(|_, (_, at)| at.elapsed() < SOURCE_TTL);
            kept += names.len();
            !names.is_empty()
        });
        self.len = kept;
    }
}

impl SourceCache {
    /// The fresh entry, or the generation to hand back to [`SourceCache::put`].
    fn get(&self, control_plane: Uuid, name: &str) -> Result<Option<Arc<str>>, u64> {
        let sources = self.inner.lock().expect("source cache lock");
        match sources
            .by_control_plane
            .get(&control_plane)
            .and_then(|m| m.get(name))
        {
            Some((source, at)) if at.elapsed() < SOURCE_TTL => Ok(source.clone()),
            _ => Err(sources.generation),
        }
    }

    fn put(&self, control_plane: Uuid, name: &str, source: Option<Arc<str>>, generation: u64) {
        // A name no schema can have is not worth keeping: asking for long made-up names
        // must not fill memory.
        if source.is_none() && check_custom_name(name).is_err() {
            return;
        }
        let mut sources = self.inner.lock().expect("source cache lock");
        if sources.generation != generation {
            return;
        }
        if sources.len >= MAX_SOURCES {
            sources.drop_expired();
        }
        if sources.len >= MAX_SOURCES {
            sources.by_control_plane.clear();
            sources.len = 0;
        }
        let previous = sources
            .by_control_plane
            .entry(control_plane)
            .or_default()
            .insert(name.to_string(), (source, Instant::now()));
        if previous.is_none() {
            sources.len += 1;
        }
    }

    fn forget(&self, control_plane: Option<Uuid>) {
        let mut sources = self.inner.lock().expect("source cache lock");
        sources.generation += 1;
        match control_plane {
            Some(cp) => {
                let gone = sources.by_control_plane.remove(&cp).map_or(0, |m| m.len());
                sources.len -= gone;
            }
            None => {
                sources.by_control_plane.clear();
                sources.len = 0;
            }
        }
    }
}

impl Store {
    /// Forgets the cached schema sources of a control plane (all of them with `None`):
    /// another node changed its schemas, or may have while this one was not listening.
    pub fn forget_plugin_schemas(&self, control_plane: Option<Uuid>) {
        self.sources.forget(control_plane);
    }

    /// Runs a schema write and the notification for the other nodes in one transaction,
    /// then forgets this node's cached sources of the control plane.
    async fn write_plugin_schema<T>(
        &self,
        control_plane: Uuid,
        write: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _writer = self.sqlite_writer().await;
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let out = write(&mut *tx).await?;
        notify_on(&mut *tx, self.backend, &schemas_changed(control_plane)).await?;
        tx.commit().await?;
        self.sources.forget(Some(control_plane));
        Ok(out)
    }

    /// Stores a new schema; an existing name is [`StoreError::Conflict`].
    pub async fn insert_plugin_schema(
        &self,
        control_plane: Uuid,
        schema: &StoredPluginSchema,
    ) -> StoreResult<()> {
        self.write_plugin_schema(control_plane, async |conn| {
            bind_row(INSERT.to_string(), control_plane, schema)
                .execute(conn)
                .await
                .map_err(|e| StoreError::from_sqlx(e, NAME_TAKEN))?;
            Ok(())
        })
        .await
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
        self.write_plugin_schema(control_plane, async |conn| {
            plugin_schema_from_row(
                &bind_row(upsert, control_plane, schema)
                    .fetch_one(conn)
                    .await?,
            )
        })
        .await
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
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        row.as_ref().map(plugin_schema_from_row).transpose()
    }

    /// Only the Lua source of a control plane's schema of that name (what validating a
    /// plugin needs, without the two JSON renderings), from the cache when it is fresh
    /// (see [`SourceCache`]).
    pub async fn plugin_schema_source(
        &self,
        control_plane: Uuid,
        name: &str,
    ) -> StoreResult<Option<Arc<str>>> {
        let generation = match self.sources.get(control_plane, name) {
            Ok(cached) => return Ok(cached),
            Err(generation) => generation,
        };
        let source: Option<String> = sqlx::query_scalar(
            "SELECT lua_schema FROM plugin_schemas WHERE control_plane_id = $1 AND name = $2",
        )
        .bind(control_plane.to_string())
        .bind(name)
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        let source: Option<Arc<str>> = source.map(Arc::from);
        self.sources
            .put(control_plane, name, source.clone(), generation);
        Ok(source)
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
                .fetch_one(&mut *self.connection().await?)
                .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM plugin_schemas WHERE control_plane_id = $1 ORDER BY name LIMIT $2 OFFSET $3"
        )))
        .bind(control_plane.to_string())
        .bind(i64::from(page.size))
        .bind(page.offset() as i64)
        .fetch_all(&mut *self.connection().await?)
        .await?;
        let items = rows
            .iter()
            .map(plugin_schema_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((items, total as u64))
    }

    /// Names of a control plane's custom plugins, sorted.
    pub async fn plugin_schema_names(&self, control_plane: Uuid) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM plugin_schemas WHERE control_plane_id = $1 ORDER BY name",
        )
        .bind(control_plane.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await?)
    }

    pub async fn delete_plugin_schema(&self, control_plane: Uuid, name: &str) -> StoreResult<bool> {
        self.write_plugin_schema(control_plane, async |conn| {
            let done =
                sqlx::query("DELETE FROM plugin_schemas WHERE control_plane_id = $1 AND name = $2")
                    .bind(control_plane.to_string())
                    .bind(name)
                    .execute(conn)
                    .await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_raced_a_schema_write_is_not_cached() {
        let cache = SourceCache::default();
        let cp = Uuid::new_v4();
        let Err(generation) = cache.get(cp, "mine") else {
            panic!("an empty cache has nothing");
        };
        // A write commits and forgets while the lookup's query is on its way back.
        cache.forget(Some(cp));
        cache.put(cp, "mine", Some(Arc::from("old source")), generation);
        assert!(cache.get(cp, "mine").is_err(), "the old source was cached");

        let Err(generation) = cache.get(cp, "mine") else {
            panic!("nothing cached yet");
        };
        cache.put(cp, "mine", Some(Arc::from("new source")), generation);
        assert_eq!(
            cache.get(cp, "mine").unwrap().as_deref(),
            Some("new source")
        );
    }

    #[test]
    fn forgetting_a_control_plane_keeps_the_others_and_the_cache_stays_bounded() {
        let cache = SourceCache::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for cp in [a, b] {
            let generation = cache.get(cp, "x").unwrap_err();
            cache.put(cp, "x", None, generation);
        }
        cache.forget(Some(a));
        let generation = cache.get(a, "x").unwrap_err();
        cache.put(a, "x", None, generation);
        assert_eq!(
            cache.get(b, "x"),
            Ok(None),
            "an unknown name is cached as such"
        );
        for i in 0..MAX_SOURCES + 10 {
            let name = format!("unknown-{i}");
            let generation = cache.get(a, &name).unwrap_err();
            cache.put(a, &name, None, generation);
        }
        let len = cache.inner.lock().unwrap().len;
        assert!(len <= MAX_SOURCES, "{len} entries");

        // A name no schema can have (too long, or with other characters) is not kept.
        for name in ["x".repeat(129), "has space".to_string()] {
            let generation = cache.get(b, &name).unwrap_err();
            cache.put(b, &name, None, generation);
            assert!(cache.get(b, &name).is_err(), "{name} was cached");
        }
    }

    /// An entry older than `SOURCE_TTL` is read again, and a full cache drops expired
    /// entries before it starts afresh.
    #[test]
    fn expired_sources_are_read_again_and_dropped_first() {
        let cache = SourceCache::default();
        let (old, fresh) = (Uuid::new_v4(), Uuid::new_v4());
        let generation = cache.get(old, "aged").unwrap_err();
        cache.put(old, "aged", Some(Arc::from("source")), generation);
        let generation = cache.get(fresh, "kept").unwrap_err();
        cache.put(fresh, "kept", Some(Arc::from("source")), generation);
        let age = |cache: &SourceCache, cp: Uuid, name: &str| {
            let mut sources = cache.inner.lock().unwrap();
            let entry = sources.by_control_plane.get_mut(&cp).unwrap();
            entry.get_mut(name).unwrap().1 = Instant::now() - SOURCE_TTL;
        };
        age(&cache, old, "aged");
        assert!(
            cache.get(old, "aged").is_err(),
            "an expired source was used"
        );
        assert!(cache.get(fresh, "kept").is_ok());

        // Fill up with entries that then expire, but for one fresh entry.
        for i in 0..MAX_SOURCES - 2 {
            let name = format!("filler-{i}");
            let generation = cache.get(old, &name).unwrap_err();
            cache.put(old, &name, None, generation);
            age(&cache, old, &name);
        }
        let generation = cache.get(fresh, "next").unwrap_err();
        cache.put(fresh, "next", None, generation);
        assert_eq!(cache.inner.lock().unwrap().len, 2, "expired entries stayed");
        assert!(
            cache.get(fresh, "kept").is_ok(),
            "a fresh entry was dropped"
        );
        assert_eq!(cache.get(fresh, "next"), Ok(None));
    }
}
