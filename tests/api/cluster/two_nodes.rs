//! Two konnektd nodes on one PostgreSQL: a write on one reaches a data plane on the
//! other (docs/clustering.md, "Several nodes").

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::harness::cluster_fixture::{
    DP_PLUGINS, changed_groups, check_reconfigure, fixture, node_id, node_when, start_on,
};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{open, outlet};
use crate::harness::{Backend, TestApp, status_and_json};

/// DP on node B, write on node A: the new config reaches the DP within 1 s, and node
/// A's API lists the DP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
async fn two_nodes_on_one_postgres_share_changes_and_nodes() {
    if !crate::harness::postgres::available() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let f = fixture(&app).await;
    let b = start_on(&app.database_url, &app.dir, &app.token).await;
    let n = node_id();
    let mut dp = open(
        b.cluster_addr,
        &f.ca,
        Some(&f.creds),
        &outlet(&n, "on-b", "3.10.0"),
        None,
    )
    .await
    .expect("upgrade on node B");
    dp.first_config(DP_PLUGINS).await;
    // A first write may race node B's LISTEN connection at start-up (the 5 s safety
    // poll then delivers it); the 1 s promise is measured on the next one.
    create(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "warm-up", "paths": ["/w"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let first = dp.config(Duration::from_secs(7)).await;
    let started = Instant::now();
    create(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "from-a", "paths": ["/a"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let second = dp.config(Duration::from_secs(1)).await;
    assert!(started.elapsed() <= Duration::from_secs(1));
    check_reconfigure(&second);
    assert_eq!(changed_groups(&first, &second), ["config", "routes"]);
    let hash = second["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    let node = node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    assert_eq!(node["hostname"], "on-b");
    let (_, expected) = status_and_json(
        app.request(
            Method::GET,
            &format!("/v2/control-planes/{}/expected-config-hash", f.cp),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(expected["expected_hash"], hash);
    drop(dp);
    b.shutdown().await;
}
