//! Plugins, as the PingOne guide configures ping-auth (PingOne's "Configuring Kong Konnect
//! for PingOne Authorize integration", docs.pingidentity.com, section
//! "Configuring the ping-auth plugin in Konnect"), with Kong's validation semantics
//! (docs/schema-engine.md) and Konnect's error bodies (docs/api.md, "Error bodies").

mod schema_changes;
mod validation;
mod vault_references;
mod writes;

use serde_json::{Value, json};

use crate::harness::status_and_json;

const PING_AUTH_BODY: &str = r#"{
  "name": "ping-auth",
  "enabled": true,
  "config": {
    "enable_debug_logging": true,
    "verify_service_certificate": false,
    "secret_header_name": "X-Ping-Secret",
    "service_url": "https://ping.example.com",
    "shared_secret": "s3cret"
  }
}"#;

fn guide_body() -> Value {
    serde_json::from_str(PING_AUTH_BODY).unwrap()
}

fn ping_auth_config(changes: Value) -> Value {
    let mut config = json!({
        "service_url": "https://ping.example.com",
        "shared_secret": "s",
        "secret_header_name": "X-Secret",
    });
    for (k, v) in changes.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"name": "ping-auth", "config": config})
}

/// Koko `details` as `(field, messages)` pairs.
type Details = Vec<(Option<String>, Value)>;

/// A Koko error body's `(field, messages)` pairs, after checking its envelope.
async fn koko(response: reqwest::Response, message: &str) -> Details {
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert_eq!(body["message"], message, "{body}");
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(
                d["@type"],
                "type.googleapis.com/kong.admin.model.v1.ErrorDetail"
            );
            (
                d["field"].as_str().map(str::to_string),
                d["messages"].clone(),
            )
        })
        .collect()
}

fn detail(field: &str, message: &str) -> (Option<String>, Value) {
    (Some(field.to_string()), json!([message]))
}
