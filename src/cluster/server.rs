//! The cluster listener: TLS (see [`super::tls`]), then HTTP/1.1 with three paths, as
//! Kong's cluster port has (clustering-protocol.md §1.1): `/v1/outlet` (the v1
//! protocol), `/v2/outlet` (an RPC hello without `kong.sync.v2`, so 3.10+ data planes
//! fall back to v1) and 404 for anything else, `HEAD /v1/wrpc` included.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use uuid::Uuid;

use super::hub::Hub;
use super::session::{self, DataPlane, SessionSettings};
use super::tls::PeerCertificate;
use crate::store::Store;

/// Handshakes that take longer than this are dropped (slowloris on the cluster port).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer of a data plane's WebSocket; larger frames still arrive, in more reads.
const READ_BUFFER: usize = 8 * 1024;

#[derive(Clone)]
struct ClusterState {
    store: Store,
    hub: Arc<Hub>,
    settings: SessionSettings,
    max_inbound: usize,
}

/// The verified client certificate and address of a connection.
#[derive(Clone)]
struct Peer {
    certificate: PeerCertificate,
    addr: SocketAddr,
}

pub struct ClusterConfig {
    pub tls: Arc<rustls::ServerConfig>,
    pub settings: SessionSettings,
    /// Largest frame or message a data plane may send.
    pub max_inbound: usize,
}

/// Serves the cluster port until the task is dropped.
pub async fn serve(listener: TcpListener, store: Store, hub: Arc<Hub>, config: ClusterConfig) {
    let closing = hub.closing();
    let state = ClusterState {
        store,
        hub,
        settings: config.settings,
        max_inbound: config.max_inbound,
    };
    let router = Router::new()
        .route("/v1/outlet", get(outlet_v1))
        .route("/v2/outlet", get(outlet_v2))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state);
    let acceptor = TlsAcceptor::from(config.tls);
    loop {
        // A stopping server takes no more data planes: they go to another node.
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = closing.cancelled() => return,
        };
        let Ok((tcp, addr)) = accepted else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(dp.addr = %addr, error = %e, "cluster TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| PeerCertificate::parse(c).ok());
            let Some(certificate) = certificate else {
                return;
            };
            let peer = Peer { certificate, addr };
            let service =
                router.map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(peer.clone());
                    request
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                .with_upgrades()
                .await;
        });
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// Why a certificate reaches no control plane.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Not pinned, not issued by an uploaded anchor, or pinned twice.
    Unauthorized(String),
    /// The store could not answer; nothing is decided.
    Store(crate::store::StoreError),
    /// No store turn came free in time; nothing is decided.
    Busy,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unauthorized(reason) => f.write_str(reason),
            Refusal::Store(e) => write!(f, "{e}"),
            Refusal::Busy => f.write_str("the control plane is busy"),
        }
    }
}

/// The control plane a certificate may reach: the one that pinned it, or, for a
/// `pki_client_certs` control plane, the one holding the certificate that issued it.
pub(super) async fn control_plane_of(
    store: &Store,
    certificate: &PeerCertificate,
) -> Result<Uuid, Refusal> {
    let pinned = store
        .control_planes_pinning(&certificate.fingerprint)
        .await
        .map_err(Refusal::Store)?;
    match pinned.as_slice() {
        [cp] => return Ok(*cp),
        [] => {}
        _ => {
            return Err(Refusal::Unauthorized(
                "the certificate is pinned by several control planes".into(),
            ));
        }
    }
    let anchors = store
        .dp_certificates_with_subject(&certificate.issuer)
        .await
        .map_err(Refusal::Store)?;
    let mut issuers: Vec<Uuid> = Vec::new();
    for (cp, anchor) in anchors {
        let Some(der) = super::certificates::first_certificate_der(&anchor.cert) else {
            continue;
        };
        if issuers.contains(&cp) || !certificate.issued_by(&der) {
            continue;
        }
        let pki = store
            .control_plane(cp)
            .await
            .map_err(Refusal::Store)?
            .is_some_and(|c| c.auth_type == "pki_client_certs");
        if pki {
            issuers.push(cp);
        }
    }
    match issuers.as_slice() {
        [cp] => Ok(*cp),
        [] => Err(Refusal::Unauthorized(
            "the certificate is not pinned by any control plane".into(),
        )),
        // Two control planes trusting one CA cannot tell whose data plane this is.
        _ => Err(Refusal::Unauthorized(
            "the certificate's issuer is trusted by several control planes".into(),
        )),
    }
}

/// The handshake's gate on both outlets: a stopping server or one without a store turn
/// answers 503, a store that cannot answer 503, a certificate that reaches no control plane
/// 401. The turn is held for whatever else the handshake reads.
async fn authorize<'a>(
    state: &'a ClusterState,
    peer: &Peer,
) -> Result<(Uuid, tokio::sync::SemaphorePermit<'a>), Response> {
    if state.hub.closing().is_cancelled() {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            session::SHUTTING_DOWN,
        ));
    }
    let Some(turn) = state.hub.store_turn().await else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &Refusal::Busy.to_string(),
        ));
    };
    match control_plane_of(&state.store, &peer.certificate).await {
        Ok(cp) => Ok((cp, turn)),
        Err(Refusal::Store(e)) => {
            tracing::warn!(error = %e, "cannot check a data plane certificate");
            Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            ))
        }
        Err(reason) => {
            let reason = reason.to_string();
            tracing::info!(dp.addr = %peer.addr, dp.cert = peer.certificate.fingerprint, reason, "data plane refused");
            Err(refuse(StatusCode::UNAUTHORIZED, &reason))
        }
    }
}

/// Kong's `/v1/outlet`: query checks before the upgrade, then one session.
async fn outlet_v1(
    State(state): State<ClusterState>,
    Extension(peer): Extension<Peer>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let node_id = query.get("node_id").map(String::as_str).unwrap_or("");
    let Some(version) = query.get("node_version").filter(|v| !v.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "missing node_version");
    };
    let Ok(node_id) = Uuid::parse_str(node_id) else {
        return refuse(StatusCode::BAD_REQUEST, "node_id must be a UUID");
    };
    let hostname: String = query
        .get("node_hostname")
        .map(String::as_str)
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    let (control_plane, turn) = match authorize(&state, &peer).await {
        Ok(authorized) => authorized,
        Err(refused) => return refused,
    };
    // A node id belongs to the certificate that first used it, while that certificate is
    // still pinned here: after a rotation (new pinned, old unpinned) the node moves over.
    let previous = state
        .store
        .node(control_plane, &node_id.to_string())
        .await
        .ok()
        .flatten();
    if let Some(existing) = &previous
        && existing.cert_fingerprint != peer.certificate.fingerprint
    {
        let old_still_pinned = state
            .store
            .control_planes_pinning(&existing.cert_fingerprint)
            .await
            .map(|cps| cps.contains(&control_plane))
            .unwrap_or(true);
        if old_still_pinned {
            return refuse(StatusCode::CONFLICT, session::NODE_ID_TAKEN);
        }
    }
    drop(turn);
    let data_plane = DataPlane {
        control_plane,
        node_id: node_id.to_string(),
        hostname,
        version: version.chars().take(64).collect(),
        certificate: peer.certificate,
        previous,
    };
    let ClusterState {
        store,
        hub,
        settings,
        max_inbound,
    } = state;
    upgrade
        .max_message_size(max_inbound)
        .max_frame_size(max_inbound)
        // A data plane sends a few small frames; tungstenite's 128 KiB default read
        // buffer, zero-filled at the first read, would be most of an idle session's memory.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let session = session::run(socket, hub.clone(), store, settings, data_plane);
            hub.track_session(session)
        })
}

/// Kong 3.10's RPC endpoint, answered without `kong.sync.v2` so the data plane falls
/// back to v1 (clustering-protocol.md §4.3).
async fn outlet_v2(
    State(state): State<ClusterState>,
    Extension(peer): Extension<Peer>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = authorize(&state, &peer).await {
        return refused;
    }
    upgrade
        .protocols(["kong.meta.v1"])
        .max_message_size(state.max_inbound)
        .max_frame_size(state.max_inbound)
        .on_upgrade(move |socket| {
            let closing = state.hub.closing();
            let write_timeout = state.settings.write_timeout;
            state
                .hub
                .track_session(rpc_shim(socket, closing, write_timeout))
        })
}

async fn rpc_shim(
    mut socket: WebSocket,
    closing: tokio_util::sync::CancellationToken,
    write_timeout: Duration,
) {
    loop {
        let message = tokio::select! {
            message = socket.recv() => message,
            _ = closing.cancelled() => {
                session::close(socket, axum::extract::ws::close_code::AWAY, session::SHUTTING_DOWN).await;
                return;
            }
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) if session::is_too_big(&e) => {
                session::close_too_big(socket).await;
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
            session::send_within(&mut socket, reply, write_timeout).await,
            Ok(true)
        ) {
            break;
        }
    }
}
