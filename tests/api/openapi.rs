//! `openapi.yaml` against what the server really serves (OWASP API Security
//! Top 10 2023, API9 Improper Inventory Management: a route census).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::harness::{Backend, TestApp};

/// `{param}` in both axum 0.8 and OpenAPI, so the two compare as text.
fn documented_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml at the repository root");
    let doc: Value = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn served_routes() -> BTreeSet<(String, String)> {
    konnektd::http::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect()
}

/// Every served route is documented and every documented route is served.
#[test]
fn openapi_documents_exactly_the_served_routes() {
    let documented = documented_routes();
    let served = served_routes();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in openapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in openapi.yaml but not served: {extra:?}"
    );
}

/// Every route but `/status` and `/metrics` answers 401 without a token: a route added
/// without authentication fails here.
#[tokio::test]
async fn every_route_but_status_requires_a_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let public: BTreeSet<&str> = ["/status", "/metrics"].into();
    for (method, path) in served_routes() {
        let concrete = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let expected = if public.contains(path.as_str()) {
            200
        } else {
            401
        };
        assert_eq!(response.status(), expected, "{method} {path}");
    }
    app.shutdown().await;
}
