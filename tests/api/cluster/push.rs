//! Changes pushed to connected data planes: only the changed groups rehash, bursts
//! coalesce, and each change is exported once, not once per data plane.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::cluster_fixture::{
    DP_PLUGINS, changed_groups, check_reconfigure, fixture, node_id, node_when,
};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{Event, WAIT};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    changes_are_pushed_and_only_changed_groups_rehash,
    far_fewer_snapshots_than_data_planes_times_changes,
);

/// a new route reaches the DP within 500 ms changing only `routes` (and `config`);
/// a plugin patch changes only `plugins`; of a burst of ten writes the last frame carries
/// the last write; the node then shows the pinged hash.
async fn changes_are_pushed_and_only_changed_groups_rehash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let first = dp.first_config(DP_PLUGINS).await;

    create(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "r2", "paths": ["/r2"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let started = Instant::now();
    let second = dp.config(Duration::from_millis(500)).await;
    assert!(started.elapsed() <= Duration::from_millis(500));
    check_reconfigure(&second);
    assert_ne!(second["config_hash"], first["config_hash"]);
    assert_eq!(changed_groups(&first, &second), ["config", "routes"]);
    assert_eq!(
        second["config_table"]["routes"].as_array().unwrap().len(),
        2
    );

    let plugin_path = format!("{}/plugins/{}", f.base, f.plugin["id"].as_str().unwrap());
    let (status, _) = status_and_json(
        app.patch_json(
            &plugin_path,
            &json!({"config": {"secret_header_name": "X-Other"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let third = dp.config(Duration::from_millis(500)).await;
    check_reconfigure(&third);
    assert_eq!(changed_groups(&second, &third), ["config", "plugins"]);
    assert_eq!(
        third["config_table"]["plugins"][0]["config"]["secret_header_name"],
        "X-Other"
    );

    for i in 0..10 {
        let (status, _) = status_and_json(
            app.patch_json(
                &plugin_path,
                &json!({"config": {"secret_header_name": format!("X-Burst-{i}")}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
    }
    let mut last = None;
    let mut count = 0;
    while let Some(event) = dp.next(Duration::from_millis(700)).await {
        match event {
            Event::Config(c) => {
                check_reconfigure(&c);
                count += 1;
                last = Some(c);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let last = last.expect("at least one frame for the burst");
    assert!((1..=10).contains(&count), "{count} frames");
    assert_eq!(
        last["config_table"]["plugins"][0]["config"]["secret_header_name"],
        "X-Burst-9"
    );
    let hash = last["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    let (_, expected) = status_and_json(
        app.get(&format!("/v2/control-planes/{}/expected-config-hash", f.cp))
            .await,
    )
    .await;
    assert_eq!(expected["expected_hash"], hash);
}

/// with three DPs connected, five changes build at most ten snapshots (fewer than
/// 3 x 5), and every DP gets every change.
async fn far_fewer_snapshots_than_data_planes_times_changes(backend: Backend) {
    snapshots_for_five_changes(backend, 5..=10).await;
}

/// Export once per node per version (docs/clustering.md, "Several nodes"): five changes with three DPs build one
/// snapshot each (a safety re-export may add one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_snapshot_per_change_on_sqlite() {
    snapshots_for_five_changes(Backend::Sqlite, 5..=6).await;
}

/// Export once per node per version, on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
async fn one_snapshot_per_change_on_postgres() {
    if crate::harness::postgres::available() {
        snapshots_for_five_changes(Backend::Postgres, 5..=6).await;
    }
}

async fn snapshots_for_five_changes(backend: Backend, allowed: std::ops::RangeInclusive<u64>) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dps = Vec::new();
    for _ in 0..3 {
        let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
        dp.first_config(DP_PLUGINS).await;
        dps.push(dp);
    }
    let before = app.state().cluster.snapshots_built();
    let mut last_hash = Value::Null;
    for i in 0..5 {
        create(
            &app,
            &format!("{}/routes", f.base),
            &json!({"name": format!("extra-{i}"), "paths": [format!("/extra-{i}")]}),
        )
        .await;
        for dp in &mut dps {
            let c = dp.config(WAIT).await;
            assert_eq!(c["config_table"]["routes"].as_array().unwrap().len(), 2 + i);
            last_hash = c["config_hash"].clone();
        }
    }
    let built = app.state().cluster.snapshots_built() - before;
    assert!(allowed.contains(&built), "{built} snapshots for 5 changes");
    for dp in &mut dps {
        assert!(dp.next(Duration::from_millis(200)).await.is_none());
    }
    assert_eq!(last_hash.as_str().map(str::len), Some(32));
}
