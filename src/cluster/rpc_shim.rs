//! Kong 3.10's RPC endpoint, `/v2/outlet`, answered just enough for a data plane to fall
//! back to v1: the `kong.meta.v1.hello` gets a reply without `kong.sync.v2` among its
//! capabilities (Kong's `kong/clustering/rpc/manager.lua` `_handle_meta_call`, whose reply
//! this mirrors), other calls get JSON-RPC's "method not found", notifications nothing.
//! See docs/clustering.md on why v2 sync is not served.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};

use super::admission::SHUTTING_DOWN;
use super::hub::Hub;
use super::websocket::{self, GOING_AWAY};

/// The WebSocket subprotocol a v2 data plane asks for and must get back.
const META_PROTOCOL: &str = "kong.meta.v1";

/// Takes an admitted `/v2/outlet` upgrade; the shim runs as one of the hub's sessions.
pub(super) fn accept(
    upgrade: WebSocketUpgrade,
    hub: Arc<Hub>,
    write_timeout: Duration,
    max_inbound: usize,
    slot: super::admission::ConnectionSlot,
) -> Response {
    upgrade
        .protocols([META_PROTOCOL])
        .max_message_size(max_inbound)
        .max_frame_size(max_inbound)
        .on_upgrade(move |socket| {
            let closing = hub.closing();
            hub.track_session(async move {
                run(socket, closing, write_timeout).await;
                drop(slot);
            })
        })
}

async fn run(
    mut socket: WebSocket,
    closing: tokio_util::sync::CancellationToken,
    write_timeout: Duration,
) {
    loop {
        let message = tokio::select! {
            message = socket.recv() => message,
            _ = closing.cancelled() => {
                websocket::close(socket, GOING_AWAY, SHUTTING_DOWN).await;
                return;
            }
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) if websocket::is_too_big(&e) => {
                websocket::close_too_big(socket).await;
                return;
            }
            Some(Err(_)) | None => break,
        };
        let Message::Binary(bytes) = message else {
            if matches!(message, Message::Close(_)) {
                break;
            }
            continue;
        };
        let Ok(request) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let Some(id) = request.get("id").cloned() else {
            continue;
        };
        let reply = if request["method"] == "kong.meta.v1.hello" {
            json!({"jsonrpc": "2.0", "id": id, "result": {
                "rpc_capabilities": [],
                "rpc_frame_encoding": "x-snappy-framed",
            }})
        } else {
            // After the hello frames are snappy-compressed; with no capability
            // offered, a v1-falling-back data plane sends none.
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
        };
        let reply = Message::Binary(serde_json::to_vec(&reply).unwrap_or_default().into());
        if !matches!(
            websocket::send_within(&mut socket, reply, write_timeout).await,
            Ok(true)
        ) {
            break;
        }
    }
}
