//! What a data plane sends after its first config: error reports, pings, frames it
//! must not send, and silence or a full TCP window (docs/clustering.md, "Ping",
//! "Error reports"; docs/threat-model.md, data planes).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, node_id, node_when, now};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{
    Event, INBOUND_LIMIT, WAIT, outlet, oversized_frame_start, tls_over, upgrade,
};
use crate::harness::kong_hash::ZEROS;
use crate::harness::{Backend, TestApp};

both_backends!(
    error_reports_are_stored_and_the_session_stays,
    text_frames_and_unknown_types_close_the_session,
    an_invalid_ping_is_ignored,
    a_silent_data_plane_is_closed_after_the_ping_wait,
    a_data_plane_that_stops_reading_is_dropped_after_the_write_timeout,
    a_frame_over_the_inbound_limit_closes_the_session_with_1009_unread,
);

/// a Konnect-mode error report is stored as the node's `last_error` and the session
/// keeps ponging.
async fn error_reports_are_stored_and_the_session_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0.2").await;
    let config = dp.first_config(DP_PLUGINS).await;
    let error = json!({
        "name": "declarative configuration parse failure",
        "config_hash": config["config_hash"],
        "message": "x",
        "source": "test",
        "flattened_errors": [],
    });
    dp.send_binary(&json!({"type": "error", "error": error}))
        .await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| node.get("last_error").is_some()).await;
    assert_eq!(node["last_error"]["error"], error);
    let reported = node["last_error"]["reported_at"].as_i64().unwrap();
    assert!((now() - reported).abs() <= 5);
    dp.ping_pong(ZEROS).await;

    // A report over 64 KiB (a big config's flattened errors) is kept as its summary.
    let flattened: Vec<Value> = (0..2_000)
        .map(|i| json!({"entity_name": format!("route-{i}"), "errors": [{"message": "bad path"}]}))
        .collect();
    let huge = json!({
        "name": "declarative configuration parse failure",
        "config_hash": config["config_hash"],
        "message": "y".repeat(10_000),
        "flattened_errors": flattened,
    });
    dp.send_binary(&json!({"type": "error", "error": huge}))
        .await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["last_error"]["error"]["truncated"] == true
    })
    .await;
    assert_eq!(
        node["last_error"]["error"],
        json!({
            "name": "declarative configuration parse failure",
            "config_hash": config["config_hash"],
            "message": "y".repeat(4096),
            "truncated": true,
        })
    );
    dp.ping_pong(ZEROS).await;
}

/// Kong's read loop (kong/clustering/control_plane.lua) ends the session on anything
/// but a ping or a known message: a text frame closes with 1003; a binary `{"type":"bogus"}`
/// closes with 1008.
async fn text_frames_and_unknown_types_close_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    dp.write(0x1, b"hello").await;
    let close = dp.closed(WAIT).await.expect("close frame");
    assert_eq!(close.0, 1003);

    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    dp.send_binary(&json!({"type": "bogus"})).await;
    let close = dp.closed(WAIT).await.expect("close frame");
    assert_eq!(close.0, 1008);
}

/// a 40-byte ping neither crashes the session nor lands in the node row.
async fn an_invalid_ping_is_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    let hash = config["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    dp.ping("0123456789012345678901234567890123456789").await;
    match dp.next(WAIT).await {
        // Ignoring (the pong comes back) or closing are both allowed.
        Some(Event::Pong(_)) => {
            dp.ping_pong(&hash).await;
        }
        Some(Event::Closed(_)) => {}
        other => panic!("unexpected {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["config_hash"], hash);
}

/// with `cluster_ping_wait` = 1 s a DP that pings every 300 ms stays connected, and
/// one that goes silent is closed (1001) about 1 s later.
async fn a_silent_data_plane_is_closed_after_the_ping_wait(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_ping_wait = Duration::from_secs(1);
    })
    .await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dp.ping_pong(ZEROS).await;
    }
    let silent_since = Instant::now();
    let close = dp
        .closed(Duration::from_secs(3))
        .await
        .expect("close frame");
    let elapsed = silent_since.elapsed();
    assert_eq!(close.0, 1001);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed <= Duration::from_millis(2000),
        "{elapsed:?}"
    );
}

/// docs/threat-model.md (stuck data planes), and Kong's socket timeout (`CLUSTERING_TIMEOUT`): a data plane that
/// stops reading, its TCP window full, is dropped once a config send has waited the write
/// timeout (1 s here); a data plane that reads gets the same config and the next one.
async fn a_data_plane_that_stops_reading_is_dropped_after_the_write_timeout(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_write_timeout = Duration::from_secs(1);
    })
    .await;
    let f = fixture(&app).await;
    // A small receive window: a config of hundreds of KB cannot be taken unread.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(app.cluster_addr()).await.unwrap();
    let tls = tls_over(tcp, &f.ca, Some(&f.creds), "localhost", &[b"http/1.1"])
        .await
        .unwrap();
    let path = outlet(&node_id(), "stuck-dp", "3.10.0");
    let mut stuck = upgrade(tls, app.cluster_addr(), &path, None)
        .await
        .expect("upgrade");
    stuck.first_config(DP_PLUGINS).await;
    let mut reading = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    reading.first_config(DP_PLUGINS).await;
    let consumers = format!("{}/consumers", f.base);
    let usernames = |config: &Value| -> Vec<String> {
        config["config_table"]["consumers"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["username"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Configs of 0.5 to 2 MB, compressed (random text): more than the kernel buffers on
    // both sides of the stuck connection hold (loopback grows the sender's up to 4 MB).
    for _ in 0..4 {
        let noise: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
            .take(700_000)
            .map(char::from)
            .collect();
        create(&app, &consumers, &json!({"username": noise})).await;
        assert!(usernames(&reading.config(WAIT).await).contains(&noise));
    }
    // The stuck data plane reads again well after the timeout: what was buffered, then
    // the end of the stream. Had its session waited on, the send would now complete and
    // the session go on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stuck.closed(WAIT).await,
        None,
        "dropped, with no close frame"
    );
    create(&app, &consumers, &json!({"username": "after"})).await;
    assert!(usernames(&reading.config(WAIT).await).contains(&"after".to_string()));
}

/// docs/threat-model.md, data planes (oversized frames): data planes send small messages, so their limit
/// is its own (`--cluster-max-inbound`, 1 MiB). A frame of exactly the limit is read; one
/// announcing a byte more is refused from its header, before its payload arrives, with
/// close code 1009; others stay served.
async fn a_frame_over_the_inbound_limit_closes_the_session_with_1009_unread(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(DP_PLUGINS).await;
    assert!(matches!(dp.next(WAIT).await, Some(Event::Config(_))));
    // An error report of exactly 1 MiB is read, and kept as its summary.
    let mut report = json!({"type": "error", "error": {"name": "at the limit", "message": ""}});
    let padding = INBOUND_LIMIT - serde_json::to_vec(&report).unwrap().len();
    report["error"]["message"] = json!("y".repeat(padding));
    assert_eq!(serde_json::to_vec(&report).unwrap().len(), INBOUND_LIMIT);
    dp.send_binary(&report).await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["last_error"]["error"]["name"] == "at the limit"
    })
    .await;
    assert_eq!(node["last_error"]["error"]["truncated"], true);
    // A binary frame header claiming one byte more, then only 1 KiB of it.
    let header = oversized_frame_start();
    dp.stream.write_all(&header).await.unwrap();
    match dp.next(WAIT).await {
        Some(Event::Closed(Some((code, reason)))) => {
            assert_eq!((code, reason.as_str()), (1009, "message too big"));
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
    // The same limit holds for the first message, and the port serves the next one.
    let mut first = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    first.stream.write_all(&header).await.unwrap();
    match first.next(WAIT).await {
        Some(Event::Closed(Some((code, _)))) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    let mut next = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    next.basic_info(DP_PLUGINS).await;
    assert!(matches!(next.next(WAIT).await, Some(Event::Config(_))));
    next.ping_pong(ZEROS).await;
}
