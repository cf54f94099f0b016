//! Handlers shared by every core-entity resource, and [`mount`], which serves a
//! collection (top-level or nested under a parent) on every URL family (docs/api.md,
//! decision 1). The resource files say which collections exist; the workflow lives in
//! [`crate::entities`].

use std::collections::HashMap;

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Api;
use super::consumer_groups::{CONSUMER_GROUP, get_consumer_group};
use super::entity_list::EntityListQuery;
use super::extract::{ControlPlaneId, JsonBody};
use crate::app::AppState;
use crate::entities::Presented;
use crate::entities::plugins::not_validated_note;
use crate::entities::{EntityKind, Scope};
use crate::error::{ApiError, ErrorFamily};
use crate::schema::filled::Filled;

/// One entity as the API answers it. A plugin konnektd cannot validate (a Kong
/// Enterprise plugin, whose schema is not public) says so in a `Warning` header (RFC 9110
/// registers it; code 299 is a persistent warning, RFC 7234 section 5.5): the body keeps
/// Konnect's shape.
pub struct Answer(StatusCode, &'static EntityKind, Filled);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let note = not_validated_note(self.1, &self.2);
        let mut response = (self.0, Json(self.2)).into_response();
        if let Some(value) =
            note.and_then(|n| HeaderValue::from_str(&format!("299 - \"{n}\"")).ok())
        {
            response.headers_mut().insert(header::WARNING, value);
        }
        response
    }
}

/// A read's answer, its JSON text made from the stored text ([`Presented`]): the same
/// body and headers as [`Answer`].
pub struct StoredAnswer(Presented);

impl IntoResponse for StoredAnswer {
    fn into_response(self) -> Response {
        let Presented { json, note } = self.0;
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(value) =
            note.and_then(|n| HeaderValue::from_str(&format!("299 - \"{n}\"")).ok())
        {
            response.headers_mut().insert(header::WARNING, value);
        }
        response
    }
}

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

/// A collection as one route serves it: on its own, or under a parent.
#[derive(Debug, Clone, Copy)]
struct Mounted {
    collection: &'static Collection,
    parent: Option<&'static Collection>,
}

impl Mounted {
    /// The parent's kind and `{id or name}`, from the path.
    fn parent<'p>(
        &self,
        params: &'p HashMap<String, String>,
    ) -> Option<(&'static EntityKind, &'p str)> {
        self.parent.map(|p| (p.kind, id_or_name_param(params, p)))
    }

    /// The item's `{id or name}`, from the path.
    fn item_id_or_name<'p>(&self, params: &'p HashMap<String, String>) -> &'p str {
        id_or_name_param(params, self.collection)
    }

    /// Where the request operates: 404 when the control plane or the parent is missing.
    async fn scope(
        &self,
        state: &AppState,
        cp: Uuid,
        params: &HashMap<String, String>,
    ) -> Result<Scope, ApiError> {
        Ok(state
            .entities
            .resolve_scope(cp, self.parent(params))
            .await?)
    }
}

/// Serves `collection` (under `parent` when nested) on every family: list and create on
/// the collection, get, put, patch and delete on its items.
pub fn mount(
    api: Api,
    collection: &'static Collection,
    parent: Option<&'static Collection>,
) -> Api {
    mount_at(
        api,
        collection,
        parent,
        collection.kind.name,
        Access::ReadWrite,
    )
}

/// What a mounted collection serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// List, create, get, put, patch, delete.
    ReadWrite,
    /// List and get only (Konnect's top-level credential collections, `key-auths`).
    ReadOnly,
}

/// [`mount`], under the URL segment `segment` where Konnect's path differs from the
/// kind's name (`consumers/{id}/key-auth` for `keyauth_credentials`).
pub fn mount_at(
    mut api: Api,
    collection: &'static Collection,
    parent: Option<&'static Collection>,
    segment: &str,
    access: Access,
) -> Api {
    let at = Mounted { collection, parent };
    for family in FAMILIES {
        let base = match parent {
            None => format!("{family}/{segment}"),
            Some(p) => format!("{family}/{}/{{{}}}/{segment}", parent_segment(p), p.param),
        };
        let item = format!("{base}/{{{}}}", collection.param);
        // Konnect wraps one consumer group (`ConsumerGroupInsideWrapper`).
        api = if parent.is_none() && std::ptr::eq(collection, &CONSUMER_GROUP) {
            api.at(Method::GET, &item, get_consumer_group)
        } else {
            api.at(
                Method::GET,
                &item,
                move |state: AppState, ControlPlaneId(cp): ControlPlaneId, Path(params): Params| {
                    get_entity(at, state, cp, params)
                },
            )
        };
        api = api
            // List parameter errors are problems, as on every Konnect list (decision 3).
            .at_in_family(
                Method::GET,
                &base,
                ErrorFamily::Problem,
                move |state: AppState,
                      ControlPlaneId(cp): ControlPlaneId,
                      Path(params): Params,
                      query: EntityListQuery| {
                    list_entities(at, state, cp, params, query)
                },
            );
        if access == Access::ReadOnly {
            continue;
        }
        api = api
            .at(
                Method::POST,
                &base,
                move |state: AppState,
                      ControlPlaneId(cp): ControlPlaneId,
                      Path(params): Params,
                      JsonBody(body): JsonBody| {
                    create_entity(at, state, cp, params, body)
                },
            )
            .at(
                Method::PUT,
                &item,
                move |state: AppState,
                      ControlPlaneId(cp): ControlPlaneId,
                      Path(params): Params,
                      JsonBody(body): JsonBody| {
                    put_entity(at, state, cp, params, body)
                },
            )
            .at(
                Method::PATCH,
                &item,
                move |state: AppState,
                      ControlPlaneId(cp): ControlPlaneId,
                      Path(params): Params,
                      JsonBody(body): JsonBody| {
                    patch_entity(at, state, cp, params, body)
                },
            )
            .at(
                Method::DELETE,
                &item,
                move |state: AppState, ControlPlaneId(cp): ControlPlaneId, Path(params): Params| {
                    delete_entity(at, state, cp, params)
                },
            );
    }
    api
}

/// A parent collection's URL segment: Kong's `admin_api_name` where it is not the kind's
/// name (`key-sets/{id}/keys`).
fn parent_segment(parent: &Collection) -> &'static str {
    match parent.kind.name {
        "key_sets" => "key-sets",
        name => name,
    }
}

/// Serves only the list of `collection` on every family (Konnect lists every target at
/// `/targets`, but reads and writes one only under its upstream).
pub fn mount_list(mut api: Api, collection: &'static Collection) -> Api {
    let at = Mounted {
        collection,
        parent: None,
    };
    for family in FAMILIES {
        api = api.at_in_family(
            Method::GET,
            &format!("{family}/{}", collection.kind.name),
            ErrorFamily::Problem,
            move |state: AppState,
                  ControlPlaneId(cp): ControlPlaneId,
                  Path(params): Params,
                  query: EntityListQuery| {
                list_entities(at, state, cp, params, query)
            },
        );
    }
    api
}

/// `GET /{collection}`: Kong's `{data, next, offset}`.
async fn list_entities(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
    query: EntityListQuery,
) -> Result<Json<Value>, ApiError> {
    let scope = at.scope(&state, cp, &params).await?;
    let listing = state
        .entities
        .list_entities(at.collection.kind, &scope, query.request()?)
        .await?;
    Ok(Json(query.page_body(listing)))
}

/// `POST /{collection}`: 201 with the stored entity.
async fn create_entity(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
    body: Value,
) -> Result<Answer, ApiError> {
    let entity = state
        .entities
        .create_entity(at.collection.kind, cp, at.parent(&params), body)
        .await?;
    Ok(Answer(StatusCode::CREATED, at.collection.kind, entity))
}

/// `GET /{collection}/{id or name}`: one query outside a parent (the entity and its
/// control plane read together), the scope first under one.
async fn get_entity(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
) -> Result<Response, ApiError> {
    if at.parent.is_none() {
        let entity = state
            .entities
            .read_entity(at.collection.kind, cp, at.item_id_or_name(&params))
            .await?;
        return Ok(StoredAnswer(entity).into_response());
    }
    let scope = at.scope(&state, cp, &params).await?;
    let entity = state
        .entities
        .get_entity(at.collection.kind, &scope, at.item_id_or_name(&params))
        .await?;
    Ok(Answer(StatusCode::OK, at.collection.kind, entity).into_response())
}

/// `PUT /{collection}/{id or name}`: creates or replaces (Konnect answers 200 either way).
async fn put_entity(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
    body: Value,
) -> Result<Answer, ApiError> {
    let scope = at.scope(&state, cp, &params).await?;
    let entity = state
        .entities
        .put_entity(
            at.collection.kind,
            &scope,
            at.item_id_or_name(&params),
            body,
        )
        .await?;
    Ok(Answer(StatusCode::OK, at.collection.kind, entity))
}

/// `PATCH /{collection}/{id or name}`.
async fn patch_entity(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
    body: Value,
) -> Result<Answer, ApiError> {
    let scope = at.scope(&state, cp, &params).await?;
    let entity = state
        .entities
        .patch_entity(
            at.collection.kind,
            &scope,
            at.item_id_or_name(&params),
            body,
        )
        .await?;
    Ok(Answer(StatusCode::OK, at.collection.kind, entity))
}

/// `DELETE /{collection}/{id or name}`: 204 whether or not it existed.
async fn delete_entity(
    at: Mounted,
    state: AppState,
    cp: Uuid,
    params: HashMap<String, String>,
) -> Result<StatusCode, ApiError> {
    let scope = at.scope(&state, cp, &params).await?;
    state
        .entities
        .delete_entity(at.collection.kind, &scope, at.item_id_or_name(&params))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The `{id or name}` a collection's path parameter holds.
fn id_or_name_param<'p>(params: &'p HashMap<String, String>, collection: &Collection) -> &'p str {
    params.get(collection.param).map_or("", String::as_str)
}

/// `POST .../schemas/plugins/validate`: Kong's dry run of a plugin write.
pub async fn validate_plugin(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    state.entities.validate_plugin(cp, body).await?;
    // Self-hosted Kong's text (`kong/api/routes/kong.lua`, `/schemas/plugins/validate`);
    // Konnect documents none.
    Ok(Json(json!({"message": "schema validation successful"})))
}

/// `POST .../schemas/{entityName}/validate` (the config spec's `validate-entity-schema`):
/// a create's checks for any kind with a schema, nothing stored; the plugin route's text
/// on success.
pub async fn validate_entity(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path(params): Params,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let name = params.get("entityName").map_or("", String::as_str);
    state.entities.validate_entity(name, cp, body).await?;
    Ok(Json(json!({"message": "schema validation successful"})))
}
