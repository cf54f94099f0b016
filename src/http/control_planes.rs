//! `/v2/control-planes`: Konnect Control Planes API v2 (control-planes/v2/openapi.yaml).

use std::collections::HashMap;

use axum::Json;
use axum::http::{Method, StatusCode};
use chrono::SecondsFormat;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Api;
use super::extract::{Caller, ControlPlaneId, JsonBody, QueryMap};
use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::control_plane::{
    ControlPlane, ControlPlaneFilter, ControlPlanePatch, Endpoints, NewControlPlane,
};
use crate::domain::field_error::FieldError;
use crate::error::ApiError;
use crate::store::StoreError;

const NOT_FOUND: &str = "The requested control plane was not found.";
const NAME_TAKEN: &str = "Control Plane with provided name already exists.";

pub fn routes(api: Api) -> Api {
    api.at(Method::GET, "/v2/control-planes", list_control_planes)
        .at(Method::POST, "/v2/control-planes", create_control_plane)
        .at(
            Method::GET,
            "/v2/control-planes/{controlPlaneId}",
            get_control_plane,
        )
        .at(
            Method::PATCH,
            "/v2/control-planes/{controlPlaneId}",
            update_control_plane,
        )
        .at(
            Method::DELETE,
            "/v2/control-planes/{controlPlaneId}",
            delete_control_plane,
        )
}

/// `list-control-planes`: `{"meta": {"page": {...}}, "data": [...]}`.
async fn list_control_planes(
    state: AppState,
    Caller(caller): Caller,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    let page = query.page(state.settings.max_page_size);
    let filter = parse_filter(&query.0);
    let (page, mut filter) = match (page, filter) {
        (Ok(p), Ok(f)) => (p, f),
        (p, f) => {
            let errors = [p.err(), f.err()].into_iter().flatten().flatten().collect();
            return Err(ApiError::invalid("Invalid query parameters", errors));
        }
    };
    filter.visible_to = caller.control_planes.clone();
    let (items, total) = state.store.list_control_planes(&filter, page).await?;
    let endpoints = &state.settings.endpoints;
    Ok(Json(json!({
        "meta": {"page": {"number": page.number, "size": page.size, "total": total}},
        "data": items.iter().map(|cp| control_plane_json(cp, endpoints)).collect::<Vec<_>>(),
    })))
}

/// `create-control-plane`: 201 with the bare control plane; 409 on a taken name.
async fn create_control_plane(
    state: AppState,
    Caller(caller): Caller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if caller.is_limited() {
        return Err(ApiError::Forbidden(
            "Insufficient role-set to create control planes.".into(),
        ));
    }
    let request = NewControlPlane::parse(&body).map_err(invalid_body)?;
    let cp = ControlPlane::create(request, Timestamp::now());
    state
        .store
        .insert_control_plane(&cp)
        .await
        .map_err(name_taken)?;
    Ok((
        StatusCode::CREATED,
        Json(control_plane_json(&cp, &state.settings.endpoints)),
    ))
}

/// `get-control-plane`.
async fn get_control_plane(
    state: AppState,
    ControlPlaneId(id): ControlPlaneId,
) -> Result<Json<Value>, ApiError> {
    let cp = control_plane_or_404(&state, id).await?;
    Ok(Json(control_plane_json(&cp, &state.settings.endpoints)))
}

/// `update-control-plane` (PATCH): only the fields sent change.
async fn update_control_plane(
    state: AppState,
    ControlPlaneId(id): ControlPlaneId,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let patch = ControlPlanePatch::parse(&body).map_err(invalid_body)?;
    let mut cp = control_plane_or_404(&state, id).await?;
    patch.apply(&mut cp, Timestamp::now());
    if !state
        .store
        .update_control_plane(&cp)
        .await
        .map_err(name_taken)?
    {
        return Err(ApiError::NotFound(NOT_FOUND.into()));
    }
    Ok(Json(control_plane_json(&cp, &state.settings.endpoints)))
}

/// `delete-control-plane`: 204, or 404 when it does not exist.
async fn delete_control_plane(
    state: AppState,
    ControlPlaneId(id): ControlPlaneId,
) -> Result<StatusCode, ApiError> {
    // Its pinned certificates go with it: the store's change closes its data planes'
    // sessions.
    if state.store.delete_control_plane(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(NOT_FOUND.into()))
    }
}

/// The control plane with this id, or the API's 404.
async fn control_plane_or_404(state: &AppState, id: Uuid) -> Result<ControlPlane, ApiError> {
    state
        .store
        .control_plane(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

fn invalid_body(fields: Vec<FieldError>) -> ApiError {
    let detail = if fields.iter().any(|f| f.rule == Some("unknown_property")) {
        "Request contains unknown property"
    } else if fields.iter().any(|f| f.field == "body") {
        "Invalid request format"
    } else {
        "Invalid request"
    };
    ApiError::invalid(detail, fields)
}

fn name_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::Conflict(NAME_TAKEN.into()),
        other => other.into(),
    }
}

/// `filter[id][eq|oeq]`, `filter[name][eq|neq|contains]`, `filter[cluster_type][eq|neq|oeq]`,
/// `filter[cloud_gateway][eq]`, `labels` and `sort` (`ControlPlaneFilterParameters`).
fn parse_filter(query: &HashMap<String, String>) -> Result<ControlPlaneFilter, Vec<FieldError>> {
    let mut filter = ControlPlaneFilter::default();
    let mut errors = Vec::new();
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    for (key, value) in query {
        match key.as_str() {
            "filter[id]" | "filter[id][eq]" | "filter[id][oeq]" => {
                let ids: Result<Vec<Uuid>, _> =
                    list(value).iter().map(|s| Uuid::parse_str(s)).collect();
                match ids {
                    // An empty value names no id: refused as `=abc` is, not read as "none".
                    Ok(ids) if !ids.is_empty() => filter.ids = Some(ids),
                    _ => errors.push(FieldError::not_uuid(key.clone()).from_source("query")),
                }
            }
            "filter[name]" | "filter[name][eq]" => filter.name_eq = Some(value.clone()),
            "filter[name][neq]" => filter.name_neq = Some(value.clone()),
            "filter[name][contains]" => filter.name_contains = Some(value.clone()),
            "filter[cluster_type]" | "filter[cluster_type][eq]" | "filter[cluster_type][oeq]" => {
                match list(value) {
                    types if types.is_empty() => {
                        errors.push(FieldError::blank(key.clone()).from_source("query"))
                    }
                    types => filter.cluster_types = Some(types),
                }
            }
            "filter[cluster_type][neq]" => filter.cluster_type_neq = Some(value.clone()),
            "filter[cloud_gateway]" | "filter[cloud_gateway][eq]" => match value.as_str() {
                "true" => filter.cloud_gateway = Some(true),
                "false" => filter.cloud_gateway = Some(false),
                _ => errors
                    .push(FieldError::wrong_type(key.clone(), "is_boolean").from_source("query")),
            },
            "labels" => filter.labels = ControlPlaneFilter::parse_labels(value),
            "sort" => match value.trim() {
                "created_at" | "created_at asc" => filter.newest_first = false,
                "created_at desc" => filter.newest_first = true,
                _ => errors.push(
                    FieldError::not_one_of("sort", &["created_at", "created_at desc"])
                        .from_source("query"),
                ),
            },
            other if other.starts_with("filter[") => {
                errors.push(FieldError::invalid(other, "unsupported filter").from_source("query"))
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(errors)
    }
}

/// `ControlPlane` with ISO-8601 timestamps, unlike the core entities' integers.
fn control_plane_json(cp: &ControlPlane, endpoints: &Endpoints) -> Value {
    json!({
        "id": cp.id,
        "name": cp.name,
        "description": cp.description,
        "labels": cp.labels,
        "config": {
            "control_plane_endpoint": endpoints.control_plane,
            "telemetry_endpoint": endpoints.telemetry,
            "cluster_type": cp.cluster_type,
            "auth_type": cp.auth_type,
            "cloud_gateway": cp.cloud_gateway,
            "proxy_urls": cp.proxy_urls,
        },
        "created_at": iso8601(cp.created_at),
        "updated_at": iso8601(cp.updated_at),
    })
}

fn iso8601(at: Timestamp) -> String {
    at.utc().to_rfc3339_opts(SecondsFormat::Millis, true)
}
