//! Routes, top-level and under their service, with Kong 3.10's rules
//! (kong/db/schema/entities/routes.lua + routes_subschemas.lua, src/lua/entities/NOTES.md §1, §7).

mod field_checks;
mod writes;

use serde_json::{Value, json};

use crate::harness::core_entities::{create, fetch, koko};
use crate::harness::{TestApp, status_and_json};

/// A route as Kong fills it in: http and https, and the defaults of every flag.
fn route_defaults(overrides: Value) -> Value {
    let mut route = json!({
        "protocols": ["http", "https"],
        "strip_path": true,
        "preserve_host": false,
        "regex_priority": 0,
        "path_handling": "v0",
        "https_redirect_status_code": 426,
        "request_buffering": true,
        "response_buffering": true,
    });
    for (k, v) in overrides.as_object().unwrap() {
        route[k] = v.clone();
    }
    route
}

async fn service(app: &TestApp, base: &str, name: &str) -> String {
    let s = create(
        app,
        &format!("{base}/services"),
        &json!({"name": name, "host": "upstream"}),
    )
    .await;
    s["id"].as_str().unwrap().to_string()
}

/// Posts `body` to `/routes` and expects a 400 validation error with `details`.
async fn rejected(app: &TestApp, base: &str, body: Value, details: Vec<Value>) {
    let (status, error) =
        status_and_json(app.post_json(&format!("{base}/routes"), &body).await).await;
    assert_eq!(
        (status, error),
        (400, koko("validation error", details)),
        "{body}"
    );
}

async fn no_routes(app: &TestApp, base: &str) {
    let list = fetch(app, &format!("{base}/routes")).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
}
