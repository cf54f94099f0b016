//! Whether a connecting data plane is let in, and as whom: the checks of `/v1/outlet`'s
//! query (Kong's `kong/clustering/utils.lua` `connect_dp`), the control plane its
//! certificate reaches (pinned, or issued by an uploaded anchor: Konnect's
//! `pinned_client_certs` and `pki_client_certs`), the binding of a node id to the
//! certificate that first used it, and the refusals with their texts. A live session asks
//! here again whenever pinned certificates change (see docs/threat-model.md, "Data planes").

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::certificates::first_certificate_der;
use super::hub::Hub;
use super::tls::PeerCertificate;
use crate::store::Store;
use crate::store::data_planes::Node;

/// What a stopping server answers a handshake with (503), and tells its data planes as it
/// closes their sessions with 1001.
pub const SHUTTING_DOWN: &str = "the control plane is shutting down";
/// Why a data plane is refused a node id that another certificate holds.
pub const NODE_ID_TAKEN: &str = "this node_id is registered with another certificate";

/// Who connected, as the handshake established it.
#[derive(Debug, Clone)]
pub struct DataPlane {
    pub control_plane: Uuid,
    pub node_id: String,
    pub hostname: String,
    pub version: String,
    pub certificate: PeerCertificate,
    /// The node's row from an earlier connection, read by the handshake.
    pub previous: Option<Node>,
}

/// A place among `--cluster-max-connections`, held by a session for as long as it lives.
pub type ConnectionSlot = tokio::sync::OwnedSemaphorePermit;

/// A place for one more data-plane connection, or the 503 that says this node is full
/// (the data plane retries, or its load balancer picks another node).
pub(super) fn connection_slot(
    slots: &std::sync::Arc<tokio::sync::Semaphore>,
    max_connections: usize,
) -> Result<ConnectionSlot, Box<Response>> {
    slots.clone().try_acquire_owned().map_err(|_| {
        Box::new(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "this node serves its maximum of {max_connections} data-plane connections \
                 (--cluster-max-connections): connect to another node or raise the limit"
            ),
        ))
    })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// Why a certificate reaches no control plane.
#[derive(Debug)]
enum Refusal {
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
async fn control_plane_of(store: &Store, certificate: &PeerCertificate) -> Result<Uuid, Refusal> {
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
        let Some(der) = first_certificate_der(&anchor.cert) else {
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
pub(super) async fn authorize<'a>(
    hub: &'a Hub,
    store: &Store,
    certificate: &PeerCertificate,
    addr: SocketAddr,
) -> Result<(Uuid, tokio::sync::SemaphorePermit<'a>), Response> {
    if hub.closing().is_cancelled() {
        return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, SHUTTING_DOWN));
    }
    let Some(turn) = hub.store_turn().await else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &Refusal::Busy.to_string(),
        ));
    };
    match control_plane_of(store, certificate).await {
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
            tracing::info!(dp.addr = %addr, dp.cert = certificate.fingerprint, reason, "data plane refused");
            Err(refuse(StatusCode::UNAUTHORIZED, &reason))
        }
    }
}

/// `/v1/outlet`'s handshake: the query's checks (400), [`authorize`], then the node id,
/// which must not belong to another certificate (409).
pub(super) async fn admit_v1(
    hub: &Hub,
    store: &Store,
    certificate: PeerCertificate,
    addr: SocketAddr,
    query: &HashMap<String, String>,
) -> Result<DataPlane, Response> {
    let node_id = query.get("node_id").map(String::as_str).unwrap_or("");
    let Some(version) = query.get("node_version").filter(|v| !v.is_empty()) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "missing node_version"));
    };
    let Ok(node_id) = Uuid::parse_str(node_id) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "node_id must be a UUID"));
    };
    let hostname: String = query
        .get("node_hostname")
        .map(String::as_str)
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    let (control_plane, turn) = authorize(hub, store, &certificate, addr).await?;
    // A node id belongs to the certificate that first used it, while that certificate is
    // still pinned here: after a rotation (new pinned, old unpinned) the node moves over.
    let previous = store
        .node(control_plane, &node_id.to_string())
        .await
        .ok()
        .flatten();
    if let Some(existing) = &previous
        && existing.cert_fingerprint != certificate.fingerprint
    {
        let old_still_pinned = store
            .control_planes_pinning(&existing.cert_fingerprint)
            .await
            .map(|cps| cps.contains(&control_plane))
            .unwrap_or(true);
        if old_still_pinned {
            return Err(refuse(StatusCode::CONFLICT, NODE_ID_TAKEN));
        }
    }
    drop(turn);
    Ok(DataPlane {
        control_plane,
        node_id: node_id.to_string(),
        hostname,
        version: version.chars().take(64).collect(),
        certificate,
        previous,
    })
}

/// Whether a live session's certificate still reaches `control_plane`. A store that is
/// down or busy decides nothing: the session is kept.
pub(super) async fn still_admitted(
    hub: &Hub,
    store: &Store,
    certificate: &PeerCertificate,
    control_plane: Uuid,
) -> bool {
    // Without a turn soon (the store is slow or down), this check is skipped: the
    // session goes on answering pings and takes the next tick.
    let still = match hub.store_turn().await {
        Some(_turn) => control_plane_of(store, certificate).await,
        None => Err(Refusal::Busy),
    };
    match still {
        Ok(now_cp) => now_cp == control_plane,
        Err(Refusal::Unauthorized(_)) => false,
        Err(Refusal::Store(_) | Refusal::Busy) => true,
    }
}
