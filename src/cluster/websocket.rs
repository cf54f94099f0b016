//! What both outlets need from a data plane's WebSocket: a send that gives up on a data
//! plane that stops reading, the close frame, the check for frames over the inbound
//! limit, and the close codes konnektd sends (RFC 6455 §7.4.1). Imports nothing else of
//! `cluster`.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};

/// How long a data plane has to send `basic_info`, and a close frame has to be taken
/// (Kong's socket timeout, `CLUSTERING_TIMEOUT` in `kong/constants.lua`).
pub(super) const CLUSTERING_TIMEOUT: Duration = Duration::from_secs(5);

/// 1001: the control plane is stopping, or the data plane stopped pinging.
pub(super) const GOING_AWAY: u16 = close_code::AWAY;
/// 1003: a text frame, which is not part of the protocol.
pub(super) const UNSUPPORTED_DATA: u16 = close_code::UNSUPPORTED;
/// 1008: a refusal within the session (`basic_info`, version, node id, certificate, an
/// unknown message type).
pub(super) const POLICY_VIOLATION: u16 = close_code::POLICY;
/// 1009: a frame or message over `--cluster-max-inbound`.
pub(super) const MESSAGE_TOO_BIG: u16 = close_code::SIZE;

/// Sends `message` unless the data plane takes none of it for `within` (it stopped
/// reading and its TCP window is full): such a send would hold its session for as long
/// as the connection lives. `Err` when it timed out, `Ok(false)` when the socket failed.
pub(super) async fn send_within(
    socket: &mut WebSocket,
    message: Message,
    within: Duration,
) -> Result<bool, tokio::time::error::Elapsed> {
    tokio::time::timeout(within, socket.send(message))
        .await
        .map(|sent| sent.is_ok())
}

/// Sends a close frame, giving up on a data plane that does not take it (the socket is
/// dropped either way).
pub(super) async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = send_within(&mut socket, frame, CLUSTERING_TIMEOUT).await;
}

/// The close for a frame or message over the inbound limit (see [`is_too_big`]).
pub(super) async fn close_too_big(socket: WebSocket) {
    close(socket, MESSAGE_TOO_BIG, "message too big").await;
}

/// Whether a read failed because the data plane's frame or message is over the inbound
/// limit (`--cluster-max-inbound`); tungstenite refuses it from the header, unread.
pub(super) fn is_too_big(error: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<Error>())
        .is_some_and(|e| matches!(e, Error::Capacity(_)))
}
