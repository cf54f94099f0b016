//! The cluster listener: TLS (see [`super::tls`]), then HTTP/1.1 with three paths, as
//! the cluster port of Kong's control plane has (the cluster server block of
//! `kong/templates/nginx_kong.lua`): `/v1/outlet` (the v1 protocol, [`super::session`]),
//! `/v2/outlet` (an RPC hello without `kong.sync.v2`, so 3.10+ data planes fall back to
//! v1: [`super::rpc_shim`]) and 404 for anything else, `HEAD /v1/wrpc` included (a 3.0
//! data plane falls back from wRPC on exactly 404: `kong/clustering/utils.lua`
//! `check_protocol_support` at tag 3.0.0). Both outlets are let in by
//! [`super::admission`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::hub::Hub;
use super::session::{self, SessionSettings};
use super::tls::PeerCertificate;
use super::{admission, rpc_shim};
use crate::store::Store;

/// Handshakes that take longer than this are dropped (slowloris on the cluster port).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct ClusterState {
    store: Store,
    hub: Arc<Hub>,
    settings: SessionSettings,
    max_inbound: usize,
    /// One permit per data-plane connection this node may serve at once.
    slots: Arc<tokio::sync::Semaphore>,
    max_connections: usize,
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
    /// WebSocket sessions served at once (`--cluster-max-connections`).
    pub max_connections: usize,
}

/// Serves the cluster port until the task is dropped.
pub async fn serve(listener: TcpListener, store: Store, hub: Arc<Hub>, config: ClusterConfig) {
    let closing = hub.closing();
    let state = ClusterState {
        store,
        hub,
        settings: config.settings,
        max_inbound: config.max_inbound,
        slots: Arc::new(tokio::sync::Semaphore::new(config.max_connections)),
        max_connections: config.max_connections,
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

/// Kong's `/v1/outlet`: admission before the upgrade, then one session.
async fn outlet_v1(
    State(state): State<ClusterState>,
    Extension(peer): Extension<Peer>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let slot = match admission::connection_slot(&state.slots, state.max_connections) {
        Ok(slot) => slot,
        Err(full) => return *full,
    };
    let data_plane = match admission::admit_v1(
        &state.hub,
        &state.store,
        peer.certificate,
        peer.addr,
        &query,
    )
    .await
    {
        Ok(data_plane) => data_plane,
        Err(refused) => return refused,
    };
    let ClusterState {
        store,
        hub,
        settings,
        max_inbound,
        ..
    } = state;
    session::accept(upgrade, hub, store, settings, max_inbound, data_plane, slot)
}

/// Kong 3.10's RPC endpoint: admission before the upgrade, then the shim.
async fn outlet_v2(
    State(state): State<ClusterState>,
    Extension(peer): Extension<Peer>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let slot = match admission::connection_slot(&state.slots, state.max_connections) {
        Ok(slot) => slot,
        Err(full) => return *full,
    };
    if let Err(refused) =
        admission::authorize(&state.hub, &state.store, &peer.certificate, peer.addr).await
    {
        return refused;
    }
    rpc_shim::accept(
        upgrade,
        state.hub,
        state.settings.write_timeout,
        state.max_inbound,
        slot,
    )
}
