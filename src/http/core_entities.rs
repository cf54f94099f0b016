//! Handlers shared by every core-entity resource, and [`mount`], which serves a
//! collection (top-level or nested under a parent) on every URL family (api-contract.md
//! decision 1). The resource files say which collections exist; the workflow lives in
//! [`crate::entities`].

use std::collections::HashMap;

use axum::Json;
use axum::extract::{OriginalUri, Path};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::Api;
use super::extract::{ControlPlaneId, JsonBody, QueryMap};
use crate::app::AppState;
use crate::domain::entity_kind::EntityKind;
use crate::entities::Scope;
use crate::error::{ApiError, ErrorFamily};

/// Where core entities live in each URL family.
pub const FAMILIES: &[&str] = &[
    "/v2/control-planes/{controlPlaneId}/core-entities",
    "/v2/runtime-groups/{controlPlaneId}/core-entities",
    "/konnect-api/api/runtime_groups/{controlPlaneId}",
];

/// A collection as URLs name it: the kind and its path parameter (`{serviceId}`).
#[derive(Debug)]
pub struct Collection {
    pub kind: &'static EntityKind,
    pub param: &'static str,
}

type Params = Path<HashMap<String, String>>;

/// Serves `collection` (under `parent` when nested) on every family: list and create on
/// the collection, get, put, patch and delete on its items.
pub fn mount(
    mut api: Api,
    collection: &'static Collection,
    parent: Option<&'static Collection>,
) -> Api {
    for family in FAMILIES {
        let base = match parent {
            None => format!("{family}/{}", collection.kind.name),
            Some(p) => format!(
                "{family}/{}/{{{}}}/{}",
                p.kind.name, p.param, collection.kind.name
            ),
        };
        let item = format!("{base}/{{{}}}", collection.param);
        let list = move |state: AppState,
                         ControlPlaneId(cp): ControlPlaneId,
                         Path(params): Params,
                         OriginalUri(uri): OriginalUri,
                         QueryMap(query): QueryMap| async move {
            let scope = scope(&state, cp, parent, &params).await?;
            let listing = state.list_entities(collection.kind, &scope, &query).await?;
            // The next page keeps every filter of this one.
            let next = listing.next_offset.as_ref().map(|offset| {
                let mut params = form_urlencoded::Serializer::new(String::new());
                params.append_pair("offset", offset);
                let mut keys: Vec<&String> = query.keys().filter(|k| *k != "offset").collect();
                keys.sort();
                for key in keys {
                    params.append_pair(key, &query[key]);
                }
                format!("{}?{}", uri.path(), params.finish())
            });
            Ok::<_, ApiError>(Json(json!({
                "data": listing.data,
                "next": next,
                "offset": listing.next_offset,
            })))
        };
        let create = move |state: AppState,
                           ControlPlaneId(cp): ControlPlaneId,
                           Path(params): Params,
                           JsonBody(body): JsonBody| async move {
            let parent = parent.map(|p| (p.kind, item_id(&params, p)));
            let entity = state
                .create_entity(collection.kind, cp, parent, body)
                .await?;
            Ok::<_, ApiError>((StatusCode::CREATED, Json(entity)))
        };
        let get = move |state: AppState,
                        ControlPlaneId(cp): ControlPlaneId,
                        Path(params): Params| async move {
            let scope = scope(&state, cp, parent, &params).await?;
            let entity = state
                .get_entity(collection.kind, &scope, item_id(&params, collection))
                .await?;
            Ok::<_, ApiError>(Json(entity))
        };
        let put = move |state: AppState,
                        ControlPlaneId(cp): ControlPlaneId,
                        Path(params): Params,
                        JsonBody(body): JsonBody| async move {
            let scope = scope(&state, cp, parent, &params).await?;
            let entity = state
                .put_entity(collection.kind, &scope, item_id(&params, collection), body)
                .await?;
            Ok::<_, ApiError>(Json(entity))
        };
        let patch = move |state: AppState,
                          ControlPlaneId(cp): ControlPlaneId,
                          Path(params): Params,
                          JsonBody(body): JsonBody| async move {
            let scope = scope(&state, cp, parent, &params).await?;
            let entity = state
                .patch_entity(collection.kind, &scope, item_id(&params, collection), body)
                .await?;
            Ok::<_, ApiError>(Json(entity))
        };
        let delete = move |state: AppState,
                           ControlPlaneId(cp): ControlPlaneId,
                           Path(params): Params| async move {
            let scope = scope(&state, cp, parent, &params).await?;
            state
                .delete_entity(collection.kind, &scope, item_id(&params, collection))
                .await?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT)
        };
        api = api
            // List parameter errors are problems, as on every Konnect list (decision 3).
            .at_in_family(Method::GET, &base, ErrorFamily::Problem, list)
            .at(Method::POST, &base, create)
            .at(Method::GET, &item, get)
            .at(Method::PUT, &item, put)
            .at(Method::PATCH, &item, patch)
            .at(Method::DELETE, &item, delete);
    }
    api
}

fn item_id<'p>(params: &'p HashMap<String, String>, collection: &Collection) -> &'p str {
    params.get(collection.param).map_or("", String::as_str)
}

async fn scope(
    state: &AppState,
    cp: uuid::Uuid,
    parent: Option<&'static Collection>,
    params: &HashMap<String, String>,
) -> Result<Scope, ApiError> {
    let parent = parent.map(|p| (p.kind, item_id(params, p)));
    state.nested_scope(cp, parent).await
}

/// `POST .../schemas/plugins/validate`: Kong's dry run of a plugin write.
pub async fn validate_plugin(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    state.validate_plugin(cp, body).await?;
    // Self-hosted Kong's text; Konnect's was not found (api-contract.md §3).
    Ok(Json(json!({"message": "schema validation successful"})))
}
