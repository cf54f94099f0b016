//! `GET /status`, Kong's status endpoint: no token, database reachability.

use serde_json::json;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, node_id};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(status_needs_no_token_and_reports_the_database);

/// 200 without a token, `database.reachable` true, counters moving, a request id.
async fn status_needs_no_token_and_reports_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(app.url("/status")).send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200);
    let expected_backend = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(
        body["database"],
        json!({"reachable": true, "backend": expected_backend})
    );
    assert!(body["server"]["total_requests"].as_u64().unwrap() >= 1);
    assert!(body["server"]["connections_accepted"].as_u64().unwrap() >= 1);
    let (_, again) =
        status_and_json(app.client.get(app.url("/status")).send().await.unwrap()).await;
    assert!(again["server"]["total_requests"].as_u64() > body["server"]["total_requests"].as_u64());
    // Closing the store is what an unreachable database looks like from inside.
    app.store().close().await;
    let (status, body) =
        status_and_json(app.client.get(app.url("/status")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["database"]["reachable"], false);
    // And a write now is a 503 the client may retry, not a 500 or a hang.
    let response = app
        .post_json("/v2/control-planes", &json!({"name": "later"}))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    app.shutdown().await;
}

both_backends!(status_counts_the_connected_data_planes);

/// `cluster.connected_data_planes`: this node's live data-plane sessions, up as one
/// connects and down as it goes.
async fn status_counts_the_connected_data_planes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let connected = || async {
        let (_, body) =
            status_and_json(app.client.get(app.url("/status")).send().await.unwrap()).await;
        body["cluster"]["connected_data_planes"].as_u64().unwrap()
    };
    let until = |want: u64| async move {
        for _ in 0..100 {
            if connected().await == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("connected_data_planes never became {want}");
    };
    assert_eq!(connected().await, 0);
    let f = fixture(&app).await;
    let mut one = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    one.first_config(DP_PLUGINS).await;
    let mut two = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    two.first_config(DP_PLUGINS).await;
    until(2).await;
    drop(one);
    until(1).await;
    drop(two);
    until(0).await;
    app.shutdown().await;
}
