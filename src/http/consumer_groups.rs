//! Consumer groups (Konnect's Control Plane Configuration API, `Consumer Groups`), and
//! their membership from the group's side (`consumer_groups/{id}/consumers`).

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::Api;
use super::core_entities::{Collection, FAMILIES, mount};
use super::entity_list::EntityListQuery;
use super::extract::{ControlPlaneId, JsonBody, QueryMap};
use crate::app::AppState;
use crate::domain::field_error::FieldError;
use crate::entities::consumer_group_members::named_in;
use crate::entities::kinds::CONSUMER_GROUPS;
use crate::error::{ApiError, ErrorFamily};

pub static CONSUMER_GROUP: Collection = Collection {
    kind: &CONSUMER_GROUPS,
    param: "consumerGroupId",
};

type GroupPath = Path<(String, String)>;
type MemberPath = Path<(String, String, String)>;

pub fn routes(api: Api) -> Api {
    let mut api = mount(api, &CONSUMER_GROUP, None);
    for family in FAMILIES {
        let members = format!("{family}/consumer_groups/{{consumerGroupId}}/consumers");
        api = api
            // List parameter errors are problems, as on every Konnect list (decision 3).
            .at_in_family(Method::GET, &members, ErrorFamily::Problem, list_members)
            .at(Method::POST, &members, add_members)
            .at(Method::DELETE, &members, remove_all_members)
            .at(
                Method::DELETE,
                &format!("{members}/{{consumerId}}"),
                remove_member,
            );
    }
    api
}

/// `get-consumer_group`: Konnect's `ConsumerGroupInsideWrapper`, `{"consumer_group"}`,
/// with `"consumers"` when `list_consumers=true` (the spec's `ListConsumers`; Kong's
/// Admin API answers the same two keys).
pub async fn get_consumer_group(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, group)): GroupPath,
    QueryMap(query): QueryMap,
) -> Result<Json<Value>, ApiError> {
    let list_consumers = match query.get("list_consumers").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid query parameters",
                vec![
                    FieldError::invalid("list_consumers", "must be true or false")
                        .from_source("query"),
                ],
            ));
        }
    };
    let scope = state.entities.resolve_scope(cp, None).await?;
    let entity = state
        .entities
        .get_entity(&CONSUMER_GROUPS, &scope, &group)
        .await?;
    let mut answer = json!({ "consumer_group": entity });
    if list_consumers {
        let id = answer["consumer_group"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        answer["consumers"] = json!(state.entities.all_group_consumers(cp, &id).await?);
    }
    Ok(Json(answer))
}

/// `list-consumers-for-consumer-group`: Kong's `{data, next, offset}` of consumers.
async fn list_members(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, group)): GroupPath,
    query: EntityListQuery,
) -> Result<Json<Value>, ApiError> {
    let request = query.request()?;
    let listing = state
        .entities
        .list_group_consumers(cp, &group, request)
        .await?;
    Ok(Json(query.page_body(listing)))
}

/// `add-consumer-to-group`: `{"consumer": "<id or username>"}` (or a list, as Kong
/// takes); 201 with `{"consumer_group", "consumers"}`.
async fn add_members(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, group)): GroupPath,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let consumers = named_in(&body, "consumer")?;
    let (group, consumers) = state
        .entities
        .add_consumers_to_group(cp, &group, consumers)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"consumer_group": group, "consumers": consumers})),
    ))
}

/// `remove-all-consumers-from-consumer-group`: the group stays.
async fn remove_all_members(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, group)): GroupPath,
) -> Result<StatusCode, ApiError> {
    state
        .entities
        .remove_all_group_consumers(cp, &group)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `remove-consumer-from-group`.
async fn remove_member(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, group, consumer)): MemberPath,
) -> Result<StatusCode, ApiError> {
    state
        .entities
        .remove_membership(cp, &group, &consumer)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
