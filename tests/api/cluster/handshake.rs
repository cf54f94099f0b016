//! A data plane's way in: the TLS and WebSocket handshake, its query, the first
//! `reconfigure` with Kong's hashes, and handshakes under load (docs/clustering.md,
//! "Transport and TLS", "Handshake", "Reconfigure").

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::both_backends;
use crate::harness::certificates::unix;
use crate::harness::cluster_fixture::{
    DP_PLUGINS, as_exported, check_reconfigure, fixture, keys, node_id, node_when, nodes, now,
    without_nulls,
};
use crate::harness::data_plane::{Event, open, outlet};
use crate::harness::kong_hash::{ZEROS, kong_hash};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    first_config_is_kongs_reconfigure_with_kongs_hash,
    bad_handshake_queries_get_400,
    data_planes_connecting_at_once_all_get_their_config,
    a_handshake_that_gets_no_store_turn_in_2_s_is_refused_with_503,
);

const SERVICE_FIELDS: &[&str] = &[
    "ca_certificates",
    "client_certificate",
    "connect_timeout",
    "created_at",
    "enabled",
    "host",
    "id",
    "name",
    "path",
    "port",
    "protocol",
    "read_timeout",
    "retries",
    "tags",
    "tls_verify",
    "tls_verify_depth",
    "updated_at",
    "write_timeout",
    "ws_id",
];

const ROUTE_FIELDS: &[&str] = &[
    "created_at",
    "destinations",
    "headers",
    "hosts",
    "https_redirect_status_code",
    "id",
    "methods",
    "name",
    "path_handling",
    "paths",
    "preserve_host",
    "protocols",
    "regex_priority",
    "request_buffering",
    "response_buffering",
    "service",
    "snis",
    "sources",
    "strip_path",
    "tags",
    "updated_at",
    "ws_id",
];

const PLUGIN_FIELDS: &[&str] = &[
    "config",
    "consumer",
    "created_at",
    "enabled",
    "id",
    "instance_name",
    "name",
    "protocols",
    "route",
    "service",
    "tags",
    "updated_at",
    "ws_id",
];

/// TLS 1.3 + HTTP/1.1 upgrade, basic_info, first gzip reconfigure with the API's
/// entities and Kong's hashes, clean frames, pong, and the node + expected hash in the API.
async fn first_config_is_kongs_reconfigure_with_kongs_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0.2").await;
    assert_eq!(dp.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(dp.response.status(), 101);
    assert_eq!(
        dp.response.headers()["sec-websocket-accept"],
        dp.accept_expected.as_str()
    );
    assert!(
        dp.response
            .headers()
            .get("sec-websocket-extensions")
            .is_none()
    );
    assert!(
        dp.response
            .headers()
            .get("sec-websocket-protocol")
            .is_none()
    );

    dp.basic_info(DP_PLUGINS).await;
    dp.ping(ZEROS).await;
    let (mut config, mut pongs) = (None, 0);
    while let Some(event) = dp.next(Duration::from_millis(700)).await {
        match event {
            Event::Config(c) if config.is_none() => config = Some(c),
            Event::Pong(p) => {
                assert_eq!(p, ZEROS.as_bytes());
                pongs += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let message = config.expect("one reconfigure");
    assert_eq!(pongs, 1);
    let frames = dp.frames.clone();
    assert_eq!(frames.len(), 2, "{frames:?}");
    for frame in &frames {
        assert!(frame.fin && frame.rsv == 0 && !frame.masked, "{frame:?}");
        assert!([0x2, 0xa].contains(&frame.opcode), "{frame:?}");
        assert!(frame.payload.len() <= 16 << 20);
    }
    assert_eq!(frames.iter().filter(|f| f.opcode == 0x2).count(), 1);

    check_reconfigure(&message);
    let table = &message["config_table"];
    assert_eq!(
        keys(table),
        [
            "_format_version",
            "_transform",
            "parameters",
            "plugins",
            "routes",
            "services"
        ]
    );
    assert_eq!(table["_format_version"], "3.0");
    assert_eq!(table["_transform"], false);
    // Every schema field travels, unset ones as null (export.lua); the API omits nulls.
    assert_eq!(table["services"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["services"][0]),
        without_nulls(&as_exported(&f.service))
    );
    assert_eq!(table["routes"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["routes"][0]),
        without_nulls(&as_exported(&f.route))
    );
    assert_eq!(table["routes"][0]["service"], f.service["id"]);
    assert_eq!(table["plugins"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["plugins"][0]),
        without_nulls(&as_exported(&f.plugin))
    );
    let plugin = &table["plugins"][0];
    assert_eq!(plugin["id"], f.plugin["id"]);
    assert_eq!(plugin["service"], f.service["id"]);
    assert_eq!(plugin["enabled"], true);
    assert_eq!(plugin["config"]["shared_secret"], "s3cret");
    assert_eq!(plugin["config"], f.plugin["config"]);
    assert!(plugin["protocols"].is_array());
    for (entity, allowed) in [
        (&table["services"][0], SERVICE_FIELDS),
        (&table["routes"][0], ROUTE_FIELDS),
        (plugin, PLUGIN_FIELDS),
    ] {
        let expected: Vec<&str> = allowed.iter().copied().filter(|k| *k != "ws_id").collect();
        assert_eq!(keys(entity), expected, "{entity}");
    }
    let hash = message["config_hash"].as_str().unwrap().to_string();
    assert_eq!(
        message["hashes"]["routes"],
        kong_hash(Some(&table["routes"]))
    );
    assert_eq!(message["hashes"]["upstreams"], ZEROS);
    assert_eq!(message["hashes"]["targets"], ZEROS);

    dp.ping_pong(&hash).await;
    let node = node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    let last_ping = node["last_ping"].as_i64().unwrap();
    assert!((now() - last_ping).abs() <= 5, "{node}");
    assert_eq!(node["id"], n);
    assert_eq!(node["hostname"], "fake-dp");
    assert_eq!(node["version"], "3.10.0.2");
    assert_eq!(node["type"], "kong-proxy");
    assert_eq!(node["labels"], json!({"env": "test"}));
    assert_eq!(
        node["cert_details"],
        json!({"expiry_timestamp": unix(2035, 1, 1)})
    );
    assert_eq!(
        node["compatibility_status"],
        json!({"state": "COMPATIBILITY_STATE_FULLY_COMPATIBLE", "issues": []})
    );
    let list = nodes(&app, &f.cp).await;
    assert_eq!(list["page"]["total_count"], 1);
    assert_eq!(list["items"][0]["id"], n);
    assert_eq!(list["items"][0]["config_hash"], hash);
    let (status, expected) = status_and_json(
        app.get(&format!("/v2/control-planes/{}/expected-config-hash", f.cp))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(expected["expected_hash"], hash);
}

/// Kong's `connect_dp` (kong/clustering/utils.lua): missing `node_version` or a non-UUID `node_id` gets 400 before the upgrade.
async fn bad_handshake_queries_get_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    for path in [
        format!("/v1/outlet?node_id={}&node_hostname=x", node_id()),
        "/v1/outlet?node_hostname=x&node_version=3.10.0".to_string(),
        "/v1/outlet?node_id=nope&node_hostname=x&node_version=3.10.0".to_string(),
    ] {
        match open(app.cluster_addr(), &f.ca, Some(&f.creds), &path, None).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 400, "{path}"),
            Err(e) => panic!("{path}: {e}"),
            Ok(_) => panic!("{path}: upgraded"),
        }
    }
    // A missing hostname is tolerated.
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        &format!("/v1/outlet?node_id={}&node_version=3.10.0", node_id()),
        None,
    )
    .await
    .expect("upgrade without hostname");
    dp.first_config(DP_PLUGINS).await;
}

/// Kong's `CLUSTERING_TIMEOUT`: a data plane that upgrades but sends no `basic_info` is
/// closed after 5 s with 1008, and leaves no node row.
#[tokio::test]
async fn a_data_plane_silent_after_the_upgrade_is_closed_after_5_s() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f
        .dp_as(app.cluster_addr(), &f.creds, &n, "silent", "3.10.0")
        .await;
    let started = Instant::now();
    let close = dp
        .closed(Duration::from_secs(8))
        .await
        .expect("a close frame");
    assert_eq!(
        close,
        (
            1008,
            "the first message must be a binary basic_info".to_string()
        )
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500),
        "closed after {waited:?}"
    );
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

/// A reconnect storm (a control-plane restart): more data planes than the handshakes
/// the hub lets query the store at once connect together; every one gets its config and
/// its node row.
async fn data_planes_connecting_at_once_all_get_their_config(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let ids: Vec<String> = (0..24).map(|_| node_id()).collect();
    let connects = ids.iter().map(|n| {
        let (addr, f) = (app.cluster_addr(), &f);
        async move {
            let mut dp = f.dp(addr, n, "3.10.0").await;
            dp.first_config(DP_PLUGINS).await;
            dp
        }
    });
    let sessions = futures_util::future::join_all(connects).await;
    assert_eq!(sessions.len(), 24);
    for n in &ids {
        node_when(&app, &f.cp, n, |node| node["hostname"].is_string()).await;
    }
}

/// The store-turn limit: with all 4 turns held longer than a handshake waits for one
/// (2 s), a data plane is refused 503 "the control plane is busy" on both outlets; once
/// a turn is free it connects.
async fn a_handshake_that_gets_no_store_turn_in_2_s_is_refused_with_503(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let hub = app.state().cluster.clone();
    let mut turns = Vec::new();
    for _ in 0..4 {
        turns.push(hub.store_turn().await.expect("a free turn"));
    }
    for path in [
        outlet(&node_id(), "busy", "3.10.0"),
        "/v2/outlet".to_string(),
    ] {
        let started = Instant::now();
        match open(app.cluster_addr(), &f.ca, Some(&f.creds), &path, None).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), 503, "{path}");
                let body = response.body().as_deref().unwrap_or_default();
                assert_eq!(String::from_utf8_lossy(body), "the control plane is busy");
            }
            Err(e) => panic!("{path}: expected 503, got {e}"),
            Ok(_) => panic!("{path}: expected 503, got an upgrade"),
        }
        assert!(started.elapsed() >= Duration::from_millis(1900), "{path}");
    }
    turns.pop();
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
}
