//! Consumers (Konnect's Control Plane Configuration API, `Consumers`; looked up by id or
//! username), and their membership from the consumer's side
//! (`consumers/{id}/consumer_groups`).

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::Api;
use super::core_entities::{Collection, FAMILIES, mount};
use super::entity_list::EntityListQuery;
use super::extract::{ControlPlaneId, JsonBody};
use crate::app::AppState;
use crate::entities::consumer_group_members::named_in;
use crate::entities::kinds::CONSUMERS;
use crate::error::{ApiError, ErrorFamily};

pub static CONSUMER: Collection = Collection {
    kind: &CONSUMERS,
    param: "consumerId",
};

type ConsumerPath = Path<(String, String)>;
type MemberPath = Path<(String, String, String)>;

pub fn routes(api: Api) -> Api {
    let mut api = mount(api, &CONSUMER, None);
    for family in FAMILIES {
        let groups = format!("{family}/consumers/{{consumerId}}/consumer_groups");
        api = api
            // List parameter errors are problems, as on every Konnect list (decision 3).
            .at_in_family(Method::GET, &groups, ErrorFamily::Problem, list_groups)
            .at(Method::POST, &groups, join_groups)
            .at(Method::DELETE, &groups, leave_all_groups)
            .at(
                Method::DELETE,
                &format!("{groups}/{{consumerGroupId}}"),
                leave_group,
            );
    }
    api
}

/// `list-consumer-groups-for-consumer`: Kong's `{data, next, offset}` of groups.
async fn list_groups(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, consumer)): ConsumerPath,
    query: EntityListQuery,
) -> Result<Json<Value>, ApiError> {
    let request = query.request()?;
    let listing = state
        .entities
        .list_consumer_groups_of(cp, &consumer, request)
        .await?;
    Ok(Json(query.page_body(listing)))
}

/// `add-consumer-to-specific-consumer-group`: `{"group": "<id or name>"}` (or a list, as
/// Kong takes); 201 with `{"consumer", "consumer_groups"}`.
async fn join_groups(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, consumer)): ConsumerPath,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let groups = named_in(&body, "group")?;
    let (consumer, groups) = state
        .entities
        .add_consumer_to_groups(cp, &consumer, groups)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"consumer": consumer, "consumer_groups": groups})),
    ))
}

/// `remove-consumer-from-all-consumer-groups`: the groups stay.
async fn leave_all_groups(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, consumer)): ConsumerPath,
) -> Result<StatusCode, ApiError> {
    state
        .entities
        .remove_consumer_from_all_groups(cp, &consumer)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `remove-consumer-from-consumer-group`.
async fn leave_group(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, consumer, group)): MemberPath,
) -> Result<StatusCode, ApiError> {
    state
        .entities
        .remove_membership(cp, &group, &consumer)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
