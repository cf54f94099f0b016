//! A server that stops and starts again: the hash survives a restart, and a stopping
//! server tells its data planes to go (1001) at once.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, check_reconfigure, fixture, node_id, start_on};
use crate::harness::data_plane::{WAIT, open, outlet};
use crate::harness::{Backend, TestApp};

both_backends!(
    the_hash_survives_a_restart,
    closing_the_sessions_also_stops_taking_data_planes,
    a_stopping_server_closes_its_sessions_with_going_away,
    data_planes_are_told_to_go_at_once_while_requests_drain,
);

/// after a restart on the same database and data dir, the same node reconnecting and
/// pinging its hash first receives the very same config hash.
async fn the_hash_survives_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let before = dp.first_config(DP_PLUGINS).await;
    let hash = before["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    drop(dp);
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let (url, token) = (app.database_url.clone(), app.token.clone());
    app.shutdown().await;

    let restarted = start_on(&url, &dir, &token).await;
    let mut dp = open(
        restarted.cluster_addr,
        &f.ca,
        Some(&f.creds),
        &outlet(&n, "fake-dp", "3.10.0"),
        None,
    )
    .await
    .expect("upgrade after restart");
    dp.basic_info(DP_PLUGINS).await;
    dp.ping(&hash).await;
    let after = dp.config(WAIT).await;
    check_reconfigure(&after);
    assert_eq!(after["config_hash"], hash);
    assert_eq!(after["hashes"], before["hashes"]);
    drop(dp);
    restarted.shutdown().await;
}

/// What a server stopping on a signal does first (`close_sessions`, before its cluster
/// task ends): sessions get 1001, and the cluster listener takes no more data planes, so
/// they reconnect elsewhere rather than to the stopping node.
async fn closing_the_sessions_also_stops_taking_data_planes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    app.state().cluster.close_sessions(WAIT).await;
    let close = dp.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (1001, "the control plane is shutting down".to_string())
    );
    let again = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        &outlet(&node_id(), "late", "3.10.0"),
        None,
    )
    .await;
    assert!(
        again.is_err(),
        "a data plane got a session from a stopping server"
    );
}

/// A server that stops closes each data-plane session with 1001 "going away" (RFC 6455
/// §7.4.1) before it exits, so the data plane reconnects, to another node if there is
/// one, at once rather than when its next ping goes unanswered.
async fn a_stopping_server_closes_its_sessions_with_going_away(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dps = Vec::new();
    for version in ["3.10.0", "3.9.1"] {
        let mut dp = f.dp(app.cluster_addr(), &node_id(), version).await;
        dp.first_config(DP_PLUGINS).await;
        dps.push(dp);
    }
    let started = Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for mut dp in dps {
        let close = dp.closed(WAIT).await.expect("a close frame");
        assert_eq!(
            close,
            (1001, "the control plane is shutting down".to_string())
        );
    }
}

/// On shutdown, data planes get their 1001 at once, not after in-flight requests have
/// drained; draining and closing share the one grace period.
async fn data_planes_are_told_to_go_at_once_while_requests_drain(backend: Backend) {
    let grace = Duration::from_secs(3);
    let app = TestApp::spawn_with(backend, |args| args.shutdown_grace = grace).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    // A request that never finishes holds the HTTP drain for the whole grace period.
    // `100 Continue` comes once the handler reads the body: the request is in flight.
    let mut stalled = TcpStream::connect(app.addr()).await.unwrap();
    let head = format!(
        "POST /v2/control-planes HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n",
        app.token
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(WAIT, stalled.read_exact(&mut interim))
        .await
        .expect("an interim response")
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stalled.write_all(b"{").await.unwrap();
    let started = Instant::now();
    let stopping = tokio::spawn(app.shutdown());
    let close = dp.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (1001, "the control plane is shutting down".to_string())
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "told after {:?}",
        started.elapsed()
    );
    stopping.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= grace - Duration::from_millis(100) && took < grace + Duration::from_secs(1),
        "stopped after {took:?}"
    );
    drop(stalled);
}
