//! Errors that say what to do (issue 16): each answer names what went wrong and where,
//! in the shape of its route's family.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    malformed_json_names_line_and_column_in_every_family,
    a_plugin_named_in_the_path_is_refused_as_id_only,
    every_family_carries_the_request_id_where_its_shape_allows,
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

/// The `x-request-id` header of the response.
fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// Every error answer has the `x-request-id` header. Problem bodies quote it in
/// `instance`, legacy ones in `request_id`; Koko's body is grpc-gateway's status
/// (Kong/koko `internal/server/util/helpers.go` hands errors to
/// `runtime.DefaultHTTPErrorHandler`), `{"code", "message", "details"}` and nothing else,
/// so it has no room for the id: the README sends readers to the header.
async fn every_family_carries_the_request_id_where_its_shape_allows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "errors"})).await;
    let cp = cp["id"].as_str().unwrap();

    let response = app
        .get("/v2/control-planes/00000000-0000-4000-8000-000000000000")
        .await;
    let id = request_id(&response);
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 404);
    assert_eq!(body["instance"], format!("konnektd:trace:{id}"), "{body}");

    let response = app
        .get(&format!(
            "/v2/control-planes/{cp}/core-entities/plugin-schemas/nothing"
        ))
        .await;
    let id = request_id(&response);
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 404);
    assert_eq!(body["request_id"], id, "{body}");

    let response = app
        .get(&format!(
            "/v2/control-planes/{cp}/core-entities/services/00000000-0000-4000-8000-000000000000"
        ))
        .await;
    let id = request_id(&response);
    assert_eq!(id.len(), 32, "{id}");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 404);
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["code", "details", "message"], "{body}");
    assert!(!body.to_string().contains(&id), "{body}");
    app.shutdown().await;
}
