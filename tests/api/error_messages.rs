//! Errors that say what to do (issue 16): each answer names what went wrong and where,
//! in the shape of its route's family.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    malformed_json_names_line_and_column_in_every_family,
    a_plugin_named_in_the_path_is_refused_as_id_only,
);

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

/// Plugins have no endpoint key, so `/plugins/<name>` is a 400 that says a name never fits
/// (Kong/koko's GetPlugin reads by id only), in Koko's envelope, with no leading space;
/// on every method and under a parent too.
async fn a_plugin_named_in_the_path_is_refused_as_id_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "errors"})).await;
    let cp = cp["id"].as_str().unwrap();
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let service = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "svc", "url": "http://example.com"}),
        )
        .await;
    assert_eq!(service.status(), 201);
    let expected = "'nonexistent' is not a valid uuid: plugins are addressed by id only";
    for path in [
        format!("{base}/plugins/nonexistent"),
        format!("{base}/services/svc/plugins/nonexistent"),
    ] {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            body,
            json!({"code": 3, "message": expected, "details": []}),
            "{path}"
        );
    }
    let (status, body) =
        status_and_json(app.delete(&format!("{base}/plugins/nonexistent")).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], expected);
    app.shutdown().await;
}
