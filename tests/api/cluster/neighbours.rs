//! The endpoints beside `/v1/outlet`: `/v1/wrpc` (404, so data planes fall back) and the
//! `/v2/outlet` RPC hello, which offers no incremental sync.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::harness::cluster_fixture::{fixture, node_id};
use crate::harness::data_plane::{Event, WAIT, open, oversized_frame_start, tls_to};
use crate::harness::{Backend, TestApp};

both_backends!(
    head_v1_wrpc_is_404,
    the_v2_outlet_hello_offers_no_incremental_sync,
);

/// `HEAD /v1/wrpc` over mTLS is exactly 404, so 3.0 DPs fall back to `/v1/outlet`.
async fn head_v1_wrpc_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut tls = tls_to(app.cluster_addr(), &f.ca, Some(&f.creds), "localhost", &[])
        .await
        .unwrap();
    tls.write_all(
        format!(
            "HEAD /v1/wrpc HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            app.cluster_addr().port()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 1024];
    let read = tokio::time::timeout(WAIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..read]);
    assert!(text.starts_with("HTTP/1.1 404 "), "{text}");
}

/// `/v2/outlet` with `kong.meta.v1` upgrades echoing it; the hello reply is plain
/// JSON, id 1, `x-snappy-framed`, and offers no `kong.sync.v2`. A frame over the inbound
/// limit closes it with 1009.
async fn the_v2_outlet_hello_offers_no_incremental_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        "/v2/outlet",
        Some("kong.meta.v1"),
    )
    .await
    .expect("v2 upgrade");
    assert_eq!(dp.response.status(), 101);
    assert_eq!(
        dp.response.headers()["sec-websocket-protocol"],
        "kong.meta.v1"
    );
    dp.send_binary(&json!({
        "jsonrpc": "2.0",
        "method": "kong.meta.v1.hello",
        "id": 1,
        "params": [{
            "rpc_capabilities": ["kong.sync.v2", "kong.debug.log_level.v1"],
            "rpc_frame_encodings": ["x-snappy-framed"],
            "kong_version": "3.10.0",
            "kong_hostname": "fake-dp",
            "kong_node_id": node_id(),
            "kong_conf": {},
        }],
    }))
    .await;
    let reply = match dp.next(WAIT).await {
        Some(Event::Binary(bytes)) => bytes,
        other => panic!("expected a binary hello reply, got {other:?}"),
    };
    assert_eq!(reply[0], b'{', "uncompressed JSON");
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "rpc_capabilities": [],
            "rpc_frame_encoding": "x-snappy-framed",
        }})
    );
    // The RPC endpoint has the inbound limit of the v1 one, and says so the same way.
    dp.stream.write_all(&oversized_frame_start()).await.unwrap();
    match dp.next(WAIT).await {
        Some(Event::Closed(Some((code, reason)))) => {
            assert_eq!((code, reason.as_str()), (1009, "message too big"));
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
}
