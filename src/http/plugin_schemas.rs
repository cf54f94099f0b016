//! Custom plugin schemas (`plugin-schemas`), the plugins a control plane offers
//! (`available-plugins`) and their JSON schemas (`schemas/plugins/{name}`), on every
//! URL family (docs/api.md, decisions 1 and 2, and "Plugin schemas").

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Api;
use super::extract::{ControlPlaneId, JsonBody, QueryMap};
use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::bundled_plugins::BUNDLED_PLUGINS;
use crate::domain::paging::PageRequest;
use crate::domain::plugin_schema::{StoredPluginSchema, check_custom_name};
use crate::entities::EntityError;
use crate::entities::kinds::PLUGINS;
use crate::error::ApiError;
use crate::lua::load::{LoadedSchema, load_plugin_schema};
use crate::lua::plugins::bundled_plugin_json;
use crate::store::StoreError;

/// Where the plugin-schemas collection lives in each URL family; Ping Identity's Konnect
/// integration guide uses the last.
const SCHEMA_COLLECTIONS: &[&str] = &[
    "/v2/control-planes/{controlPlaneId}/core-entities/plugin-schemas",
    "/v2/runtime-groups/{controlPlaneId}/core-entities/plugin-schemas",
    "/konnect-api/api/runtime_groups/{controlPlaneId}/v1/plugin-schemas",
    "/konnect-api/api/runtime_groups/{controlPlaneId}/v2/plugin-schemas",
];

const AVAILABLE_PLUGINS: &[&str] = &[
    "/v2/control-planes/{controlPlaneId}/core-entities/v1/available-plugins",
    "/v2/runtime-groups/{controlPlaneId}/core-entities/v1/available-plugins",
    "/konnect-api/api/runtime_groups/{controlPlaneId}/v1/available-plugins",
];

const PLUGIN_JSON_SCHEMAS: &[&str] = &[
    "/v2/control-planes/{controlPlaneId}/core-entities/schemas/plugins/{name}",
    "/v2/runtime-groups/{controlPlaneId}/core-entities/schemas/plugins/{name}",
    "/konnect-api/api/runtime_groups/{controlPlaneId}/schemas/plugins/{name}",
];

/// The plugin-schema lists: problem+json errors, their 401 included, as the config
/// spec's `list-plugin-schemas` says (docs/api.md, decision 3).
pub fn list_routes(mut api: Api) -> Api {
    for base in SCHEMA_COLLECTIONS {
        api = api.at(Method::GET, base, list_plugin_schemas);
    }
    api
}

/// Plugin-schema and available-plugins routes: `{"message", "request_id"}` errors
/// (docs/api.md, decision 3).
pub fn routes(mut api: Api) -> Api {
    for base in SCHEMA_COLLECTIONS {
        let item = format!("{base}/{{name}}");
        api = api
            .at(Method::POST, base, create_plugin_schema)
            .at(Method::GET, &item, get_plugin_schema)
            .at(Method::PUT, &item, put_plugin_schema)
            .at(Method::DELETE, &item, delete_plugin_schema);
    }
    for path in AVAILABLE_PLUGINS {
        api = api.at(Method::GET, path, list_available_plugins);
    }
    api
}

/// `schemas/plugins/{name}`: a core-entities route, so Koko-shaped errors.
pub fn schema_routes(mut api: Api) -> Api {
    for path in PLUGIN_JSON_SCHEMAS {
        api = api.at(Method::GET, path, get_plugin_json_schema);
    }
    api
}

/// `list-plugin-schemas`: `{"items": [...], "page": {"total_count": N}}`.
async fn list_plugin_schemas(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    let page = query
        .page(state.settings.max_page_size)
        .map_err(|fields| ApiError::invalid("Invalid query parameters", fields))?;
    state.entities.ensure_control_plane(cp).await?;
    let (items, total) = state.store.list_plugin_schemas(cp, page).await?;
    Ok(Json(json!({
        "items": items.iter().map(item_json).collect::<Vec<_>>(),
        "page": {"total_count": total},
    })))
}

/// `create-plugin-schemas`: the name comes from the schema itself; 409 when taken.
async fn create_plugin_schema(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let (source, loaded) = load_upload(&state, &body, None).await?;
    let now = Timestamp::now();
    let stored = schema_to_store(source, loaded, now);
    state
        .store
        .insert_plugin_schema(cp, &stored)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict(format!(
                "a plugin schema named '{}' already exists in this control plane",
                stored.name
            )),
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"item": item_json(&stored)})),
    ))
}

/// The web UI's preview of an upload (`POST /ui/plugin-schemas/preview`): the name and
/// JSON schema the server would store, or the error `create-plugin-schemas` would give,
/// without storing anything.
pub async fn preview_plugin_schema(
    state: AppState,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let (_, loaded) = load_upload(&state, &body, None).await?;
    Ok(Json(
        json!({"item": {"name": loaded.name, "schema": loaded.merged_json}}),
    ))
}

/// `get-plugin-schema`.
async fn get_plugin_schema(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let schema = plugin_schema_or_404(&state, cp, &name).await?;
    Ok(Json(json!({"item": item_json(&schema)})))
}

/// `update-plugin-schemas` (PUT): creates or replaces; the schema must carry the path's name.
async fn put_plugin_schema(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, name)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let (source, loaded) = load_upload(&state, &body, Some(&name)).await?;
    let stored = state
        .store
        .put_plugin_schema(cp, &schema_to_store(source, loaded, Timestamp::now()))
        .await?;
    Ok(Json(json!({"item": item_json(&stored)})))
}

/// `delete-plugin-schemas`: 204, or 404 when there is no such schema.
async fn delete_plugin_schema(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    if state
        .store
        .count_entities_named(cp, PLUGINS.name, &name)
        .await?
        > 0
    {
        // Konnect's text and code 3 (Konnect's custom-plugin documentation, "Update a custom
        // plugin"; the UI matches it).
        return Err(ApiError::Rejected {
            message: "plugin schema is currently in use, please delete existing plugins using the schema and try again".into(),
            details: Vec::new(),
        });
    }
    if state.store.delete_plugin_schema(cp, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(schema_not_found(&name))
    }
}

/// Konnect's `{"names": [...]}` (Koko `GetAvailablePluginsResponse`), plus the custom
/// plugins' schemas, which Ping Identity's Konnect integration guide promises this call
/// shows.
async fn list_available_plugins(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let (custom, _) = state
        .store
        .list_plugin_schemas(
            cp,
            PageRequest {
                size: u32::MAX,
                number: 1,
            },
        )
        .await?;
    let mut names: Vec<&str> = BUNDLED_PLUGINS.to_vec();
    names.extend(custom.iter().map(|s| s.name.as_str()));
    names.sort_unstable();
    names.dedup();
    let schemas: Map<String, Value> = custom
        .iter()
        .map(|s| (s.name.clone(), s.merged_json.clone()))
        .collect();
    Ok(Json(json!({"names": names, "schemas": schemas})))
}

/// Kong's `GET /schemas/plugins/{name}`: a custom plugin's, else a bundled plugin's, with
/// the base fields merged in.
async fn get_plugin_json_schema(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    if let Some(schema) = state.store.plugin_schema(cp, &name).await? {
        return Ok(Json(schema.merged_json));
    }
    let lookup = name.clone();
    let bundled = state
        .lua
        .run(move |limits| bundled_plugin_json(&lookup, limits))
        .await
        .map_err(EntityError::from)?;
    match bundled {
        Some(Ok(json)) => Ok(Json(Value::clone(&json))),
        // konnektd's own schema failing to load is konnektd's bug.
        Some(Err(e)) => Err(ApiError::Internal(anyhow::anyhow!(
            "bundled plugin schema {name}: {e}"
        ))),
        None => Err(schema_not_found(&name)),
    }
}

/// The schema of that name in a control plane, or the API's 404 (for either).
async fn plugin_schema_or_404(
    state: &AppState,
    cp: Uuid,
    name: &str,
) -> Result<StoredPluginSchema, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    state
        .store
        .plugin_schema(cp, name)
        .await?
        .ok_or_else(|| schema_not_found(name))
}

fn schema_not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("plugin schema '{name}' not found"))
}

/// Reads `{"lua_schema": "..."}`, evaluates it in the sandbox and checks its name.
async fn load_upload(
    state: &AppState,
    body: &Value,
    path_name: Option<&str>,
) -> Result<(String, LoadedSchema), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("request body must be a JSON object".into()))?;
    if let Some(key) = object
        .keys()
        .find(|k| !["lua_schema", "name"].contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!("unknown field '{key}'")));
    }
    let source = match object.get("lua_schema") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::BadRequest("lua_schema must be a string".into())),
        // KPSV's wording (mikefero/konnect-plugin-schema-validation handler.lua).
        None => return Err(ApiError::BadRequest("missing schema field".into())),
    };
    // The spec's `PluginSchemaUpload.name` is a string or null; a number is refused
    // rather than ignored, before the schema is evaluated.
    let body_name = match object.get("name") {
        Some(Value::String(name)) => Some(name.as_str()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ApiError::BadRequest("name must be a string".into())),
    };
    let limit = state.settings.max_lua_schema_size;
    if source.len() > limit {
        return Err(ApiError::BadRequest(format!(
            "lua_schema is larger than the limit of {limit} bytes"
        )));
    }
    let lua_source = source.clone();
    let loaded = state
        .lua
        .run(move |limits| load_plugin_schema(&lua_source, limits))
        .await
        .map_err(EntityError::from)?
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_custom_name(&loaded.name).map_err(ApiError::BadRequest)?;
    if body_name.is_some_and(|n| n != loaded.name) {
        // Koko's wording (internal/resource/plugin_schema.go).
        return Err(ApiError::BadRequest(
            "invalid plugin schema: name is derived from the plugin schema and must match if set"
                .into(),
        ));
    }
    if let Some(path_name) = path_name
        && path_name != loaded.name
    {
        return Err(ApiError::BadRequest(format!(
            "the schema is named '{}', but the path names '{path_name}'",
            loaded.name
        )));
    }
    Ok((source, loaded))
}

/// The row an uploaded schema is stored as, created or updated at `now`.
fn schema_to_store(source: String, loaded: LoadedSchema, now: Timestamp) -> StoredPluginSchema {
    StoredPluginSchema {
        name: loaded.name,
        lua_schema: source,
        json: loaded.json,
        merged_json: loaded.merged_json,
        created_at: now,
        updated_at: now,
    }
}

/// `{name, lua_schema, created_at, updated_at}` with integer seconds.
fn item_json(schema: &StoredPluginSchema) -> Value {
    json!({
        "name": schema.name,
        "lua_schema": schema.lua_schema,
        "created_at": schema.created_at.seconds(),
        "updated_at": schema.updated_at.seconds(),
    })
}
