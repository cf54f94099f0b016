//! What the core-entity tests share: the URL families, requests that must succeed, and
//! Konnect's error bodies (Koko's shape, docs/api.md "Error bodies") built from their parts.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use super::{TestApp, status_and_json};

/// The three URL families core entities are served on (docs/api.md, decision 1).
pub fn families(cp: &str) -> [String; 3] {
    [
        format!("/v2/control-planes/{cp}/core-entities"),
        format!("/v2/runtime-groups/{cp}/core-entities"),
        format!("/konnect-api/api/runtime_groups/{cp}"),
    ]
}

/// A new control plane and the canonical core-entities prefix under it.
pub async fn control_plane(app: &TestApp, name: &str) -> (String, String) {
    let cp = app.create_control_plane(&json!({ "name": name })).await;
    let id = cp["id"].as_str().unwrap().to_string();
    let base = format!("/v2/control-planes/{id}/core-entities");
    (id, base)
}

pub async fn put_json(app: &TestApp, path: &str, body: &Value) -> Response {
    app.request(Method::PUT, path)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// POST that must answer 201; returns the body.
pub async fn create(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, created) = status_and_json(app.post_json(path, body).await).await;
    assert_eq!(status, 201, "POST {path} {body}: {created}");
    created
}

/// GET that must answer 200; returns the body.
pub async fn fetch(app: &TestApp, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path).await).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The ids of a list's `data`, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// A Kong entity as returned, with `id`, `created_at` and `updated_at` checked
/// (a UUID, integer unix seconds of about now, updated not before created) and removed,
/// so the rest can be compared whole.
pub fn without_generated(entity: &Value) -> Value {
    let mut entity = entity.clone();
    let shown = entity.to_string();
    let o = entity
        .as_object_mut()
        .unwrap_or_else(|| panic!("an object: {shown}"));
    let id = o.remove("id").expect("an id");
    assert!(
        uuid::Uuid::parse_str(id.as_str().unwrap()).is_ok(),
        "id is a UUID: {id}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let created = o.remove("created_at").expect("created_at");
    let updated = o.remove("updated_at").expect("updated_at");
    let created = created.as_i64().expect("integer seconds");
    let updated = updated.as_i64().expect("integer seconds");
    assert!(
        (now - created).abs() < 60,
        "created_at {created} vs now {now}"
    );
    assert!(updated >= created, "updated_at {updated} >= {created}");
    entity
}

/// Koko's error body (docs/api.md, "Error bodies").
pub fn koko(message: &str, details: Vec<Value>) -> Value {
    json!({"code": 3, "message": message, "details": details})
}

const DETAIL: &str = "type.googleapis.com/kong.admin.model.v1.ErrorDetail";

pub fn field_error(field: &str, messages: &[&str]) -> Value {
    json!({"@type": DETAIL, "type": "ERROR_TYPE_FIELD", "field": field, "messages": messages})
}

pub fn entity_error(messages: &[&str]) -> Value {
    json!({"@type": DETAIL, "type": "ERROR_TYPE_ENTITY", "messages": messages})
}

pub fn reference_error(field: Option<&str>, messages: &[&str]) -> Value {
    let mut detail = json!({"@type": DETAIL, "type": "ERROR_TYPE_REFERENCE", "messages": messages});
    if let Some(field) = field {
        detail["field"] = json!(field);
    }
    detail
}

/// Koko's not-found body: code 5 (gRPC NOT_FOUND), empty message.
pub fn not_found() -> Value {
    json!({"code": 5, "message": "", "details": []})
}

/// Kong's unique-constraint text as Konnect reports it.
pub fn unique_violation(field: &str, value: &str) -> Value {
    koko(
        "data constraint error",
        vec![reference_error(
            Some(field),
            &[&format!(
                "{field} (type: unique) constraint failed for value '{value}': "
            )],
        )],
    )
}

/// A control plane with ping-auth's schema uploaded; returns its legacy base path
/// (`/konnect-api/api/runtime_groups/{id}`) and the id.
pub async fn ping_auth_control_plane(app: &TestApp) -> (String, String) {
    let cp = app.create_control_plane(&json!({"name": "ping"})).await;
    let id = cp["id"].as_str().unwrap().to_string();
    let base = format!("/konnect-api/api/runtime_groups/{id}");
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    let response = app
        .post_json(
            &format!("{base}/v1/plugin-schemas"),
            &json!({ "lua_schema": source }),
        )
        .await;
    assert_eq!(response.status(), 201);
    (base, id)
}
