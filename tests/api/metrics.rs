//! `GET /metrics`: Prometheus text without a token; requests counted by route template
//! (never the raw path, whose ids would grow the label set without bound), Lua
//! evaluations, connected data planes and snapshots built all move as the server works.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, node_id};
use crate::harness::core_entities::create;
use crate::harness::{Backend, TestApp};

both_backends!(metrics_move_with_requests_lua_and_data_planes);
both_backends!(data_planes_are_counted_by_sync_state);
both_backends!(a_write_with_a_data_plane_connected_is_a_push);
both_backends!(lua_limits_hit_are_counted_by_limit);

/// Every sample of a scrape by its series (`name{labels}`), after checking the response.
async fn scrape(app: &TestApp) -> (String, HashMap<String, f64>) {
    // No token, like `/status`.
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            (series.to_string(), value.parse::<f64>().expect(line))
        })
        .collect();
    (text, samples)
}

/// Scrapes until `check` holds (sessions record what data planes send a moment after
/// it arrives), failing after a few seconds with the last scrape.
async fn scrape_until(app: &TestApp, check: impl Fn(&HashMap<String, f64>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (text, samples) = scrape(app).await;
        if check(&samples) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never held; last scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A per control plane series: `name{control_plane_id="..."}`.
fn of_cp(name: &str, cp: &str) -> String {
    format!(r#"{name}{{control_plane_id="{cp}"}}"#)
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn metrics_move_with_requests_lua_and_data_planes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, before) = scrape(&app).await;
    assert!(before.contains_key("konnektd_db_pool_connections_idle"));
    assert!(before.contains_key("konnektd_db_pool_connections_in_use"));

    // Uploads ping-auth's schema (Lua) and creates a control plane with entities.
    let f = fixture(&app).await;
    for _ in 0..2 {
        let response = app.get(&format!("/v2/control-planes/{}", f.cp)).await;
        assert_eq!(response.status(), 200);
    }
    let unknown = uuid::Uuid::new_v4();
    let response = app.get(&format!("/v2/control-planes/{unknown}")).await;
    assert_eq!(response.status(), 404);
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);

    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;

    let (text, after) = scrape(&app).await;
    let by_id = r#"route="/v2/control-planes/{controlPlaneId}""#;
    assert_eq!(
        value(
            &after,
            &format!(r#"konnektd_http_requests_total{{method="GET",{by_id},status="200"}}"#)
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            &format!(r#"konnektd_http_requests_total{{method="GET",{by_id},status="404"}}"#)
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            &format!(
                r#"konnektd_http_request_duration_seconds_count{{method="GET",{by_id},status="200"}}"#
            )
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            r#"konnektd_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        1.0,
        "{text}"
    );
    // The scrape before this one is counted too, under its own route.
    assert!(
        value(
            &after,
            r#"konnektd_http_requests_total{method="GET",route="/metrics",status="200"}"#
        ) >= 1.0,
        "{text}"
    );
    // No id ever appears in a route label.
    for line in text.lines().filter(|l| l.contains("route=")) {
        assert!(
            !line.contains(&f.cp) && !line.contains(&unknown.to_string()),
            "{line}"
        );
    }

    assert!(
        value(&after, "konnektd_lua_evaluation_duration_seconds_count")
            > value(&before, "konnektd_lua_evaluation_duration_seconds_count"),
        "{text}"
    );
    let connected = format!(
        r#"konnektd_data_planes_connected{{control_plane_id="{}"}}"#,
        f.cp
    );
    assert_eq!(value(&before, &connected), 0.0);
    assert_eq!(value(&after, &connected), 1.0, "{text}");
    let built = of_cp("konnektd_config_snapshots_built_total", &f.cp);
    assert!(value(&after, &built) > value(&before, &built), "{text}");
    assert!(
        value(
            &after,
            &of_cp(
                "konnektd_config_snapshot_build_duration_seconds_count",
                &f.cp
            )
        ) >= 1.0,
        "{text}"
    );
    // Every snapshot's size is observed; a gzipped config is more than 20 bytes and,
    // this small, under 4 KiB (each kind's part ends in a full flush of its own).
    let sizes = value(
        &after,
        &of_cp("konnektd_config_snapshot_bytes_count", &f.cp),
    );
    assert_eq!(sizes, value(&after, &built), "{text}");
    let bytes = value(&after, &of_cp("konnektd_config_snapshot_bytes_sum", &f.cp));
    assert!(bytes > 20.0 * sizes && bytes < 4096.0 * sizes, "{text}");
    assert!(value(&after, "konnektd_db_pool_connections_idle") >= 0.0);
    // Every query waits for a connection, however briefly: the requests above made some.
    assert!(
        value(&after, "konnektd_db_pool_acquire_wait_seconds_count")
            > value(&before, "konnektd_db_pool_acquire_wait_seconds_count"),
        "{text}"
    );
    app.shutdown().await;
}

fn data_planes(cp: &str, state: &str) -> String {
    format!(r#"konnektd_data_planes{{control_plane_id="{cp}",state="{state}"}}"#)
}

/// A data plane is out of sync until it pings the hash it was sent, then in sync; one
/// lacking a configured plugin is incompatible; a closed session stops counting.
async fn data_planes_are_counted_by_sync_state(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let (in_sync, out_of_sync, incompatible) = (
        data_planes(&f.cp, "in_sync"),
        data_planes(&f.cp, "out_of_sync"),
        data_planes(&f.cp, "incompatible"),
    );

    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    scrape_until(&app, |s| {
        value(s, &out_of_sync) == 1.0 && value(s, &in_sync) == 0.0
    })
    .await;

    let hash = config["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    scrape_until(&app, |s| {
        value(s, &in_sync) == 1.0 && value(s, &out_of_sync) == 0.0
    })
    .await;

    // ping-auth is configured; this one has only cors.
    let mut lacking = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    lacking.basic_info(&["cors"]).await;
    scrape_until(&app, |s| {
        value(s, &incompatible) == 1.0 && value(s, &in_sync) == 1.0
    })
    .await;

    drop(lacking);
    scrape_until(&app, |s| value(s, &incompatible) == 0.0).await;
    drop(dp);
    app.shutdown().await;
}

/// The push latency counts changes written to connected data planes, not the first
/// config a data plane gets on connecting.
async fn a_write_with_a_data_plane_connected_is_a_push(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let count = &of_cp("konnektd_config_push_latency_seconds_count", &f.cp);
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    let (text, connected) = scrape(&app).await;
    assert_eq!(value(&connected, count), 0.0, "{text}");

    create(
        &app,
        &format!("{}/services", f.base),
        &json!({"name": "another", "host": "another.test"}),
    )
    .await;
    let config = dp.config(Duration::from_secs(10)).await;
    assert!(
        config["config_table"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "another")
    );
    scrape_until(&app, |s| value(s, count) >= 1.0).await;
    let (text, pushed) = scrape(&app).await;
    // Pushed over loopback right after the commit: well under the largest bucket.
    assert!(
        value(
            &pushed,
            &format!(
                r#"konnektd_config_push_latency_seconds_bucket{{le="1.024",control_plane_id="{}"}}"#,
                f.cp
            )
        ) >= 1.0,
        "{text}"
    );
    drop(dp);
    app.shutdown().await;
}

fn limit_hit(limit: &str) -> String {
    format!(r#"konnektd_lua_limits_hit_total{{limit="{limit}"}}"#)
}

/// Each sandbox limit stopping a schema upload (the attacks of plugin_schemas.rs's
/// hostile-schema test) counts under its own label, once per evaluation; a pattern bomb
/// the schema catches with `pcall` still counts.
async fn lua_limits_hit_are_counted_by_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |a| {
        a.lua_timeout = Duration::from_millis(300);
        a.lua_memory_limit = 32 << 20;
    })
    .await;
    let cp = app.create_control_plane(&json!({"name": "lua"})).await;
    let base = format!(
        "/v2/control-planes/{}/core-entities/plugin-schemas",
        cp["id"].as_str().unwrap()
    );
    let (text, before) = scrape(&app).await;
    for limit in ["time", "memory", "pattern_steps"] {
        assert_eq!(value(&before, &limit_hit(limit)), 0.0, "{text}");
        assert!(before.contains_key(&limit_hit(limit)), "{text}");
    }

    let cases = [
        ("time", "while true do end"),
        // Caught by the schema's own pcall, and still counted.
        (
            "memory",
            "pcall(function() local s = 'x' while true do s = s .. s end end) \
             error('caught')",
        ),
        (
            "pattern_steps",
            "pcall(string.find, string.rep('a', 32), string.rep('a*', 10) .. 'b') \
             error('caught')",
        ),
    ];
    for (i, (limit, source)) in cases.iter().enumerate() {
        let response = app.post_json(&base, &json!({"lua_schema": source})).await;
        assert_eq!(response.status(), 400, "{limit}");
        let (text, after) = scrape(&app).await;
        for (j, (other, _)) in cases.iter().enumerate() {
            let expected = if j <= i { 1.0 } else { 0.0 };
            assert_eq!(
                value(&after, &limit_hit(other)),
                expected,
                "{limit}: {text}"
            );
        }
    }
    app.shutdown().await;
}
