//! Errors that say what to do (issue 16): each answer names what went wrong and where,
//! in the shape of its route's family.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(malformed_json_names_line_and_column_in_every_family,);

/// A body with a missing comma on its third line.
const BROKEN: &str = "{\n  \"name\": \"a\",\n  \"host\": \"b\" \"port\": 1\n}";
const WHERE: &str = "Invalid JSON at line 3, column 15: expected `,` or `}`";

async fn send_broken(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.request(method, path)
        .header("content-type", "application/json")
        .body(BROKEN)
        .send()
        .await
        .unwrap()
}

/// Problem (control planes), Koko (core entities) and legacy (plugin schemas) bodies
/// all quote the parser's position; each keeps its status and shape.
async fn malformed_json_names_line_and_column_in_every_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let (status, body) = problem(send_broken(&app, Method::POST, "/v2/control-planes").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], WHERE, "{body}");
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "body", "reason": WHERE}])
    );

    let cp = app.create_control_plane(&json!({"name": "errors"})).await;
    let cp = cp["id"].as_str().unwrap();
    let path = format!("/v2/control-planes/{cp}/core-entities/services");
    let (status, body) = status_and_json(send_broken(&app, Method::POST, &path).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3, "{body}");
    assert_eq!(body["message"], WHERE, "{body}");
    assert_eq!(body["details"][0]["field"], "body", "{body}");
    assert_eq!(body["details"][0]["messages"], json!([WHERE]), "{body}");

    let path = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let (status, body) = status_and_json(send_broken(&app, Method::POST, &path).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], WHERE, "{body}");
    assert!(body["request_id"].is_string(), "{body}");
    app.shutdown().await;
}
