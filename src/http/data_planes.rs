//! What data planes need from the API (docs/api.md, "Data planes"): pinned client
//! certificates (`dp-client-certificates`, legacy error bodies), Konnect's "New Data Plane
//! Node" (`dp-client-certificates/generate`, a konnektd addition), the nodes that
//! connected, and the config hash they should report. Replacing or unpinning a
//! certificate closes the sessions it no longer admits: the store publishes the change.

use axum::Json;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Api;
use super::extract::{ControlPlaneId, JsonBody, QueryMap};
use crate::app::AppState;
use crate::cluster::provision::{NewDataPlane, dp_certificate_from_pem, new_data_plane};
use crate::domain::Timestamp;
use crate::error::{ApiError, ErrorFamily};
use crate::store::data_planes::{DpCertificate, Node};

const PREFIXES: &[&str] = &[
    "/v2/control-planes/{controlPlaneId}",
    "/v2/runtime-groups/{controlPlaneId}",
];

/// dp-client-certificates: `{"message", "request_id"}` errors (decision 3).
pub fn certificate_routes(mut api: Api) -> Api {
    for prefix in PREFIXES {
        let base = format!("{prefix}/dp-client-certificates");
        let item = format!("{base}/{{certificateId}}");
        api = api
            .at(Method::GET, &base, list_dp_certificates)
            .at(Method::POST, &base, create_dp_certificate)
            .at(
                Method::POST,
                &format!("{base}/generate"),
                generate_dp_certificate,
            )
            .at(Method::GET, &item, get_dp_certificate)
            .at(Method::PUT, &item, put_dp_certificate)
            .at(Method::DELETE, &item, delete_dp_certificate);
    }
    api
}

/// Nodes and the expected hash: problem+json errors, as the control-planes API.
pub fn node_routes(mut api: Api) -> Api {
    for prefix in PREFIXES {
        api = api
            .at(Method::GET, &format!("{prefix}/nodes"), list_nodes)
            .at(Method::GET, &format!("{prefix}/nodes/{{nodeId}}"), get_node)
            .at(
                Method::DELETE,
                &format!("{prefix}/nodes/{{nodeId}}"),
                delete_node,
            )
            .at(
                Method::GET,
                &format!("{prefix}/expected-config-hash"),
                expected_config_hash,
            )
            .at(
                Method::GET,
                &format!("{prefix}/expected-config-version"),
                expected_config_version,
            );
    }
    api.at_in_family(
        Method::GET,
        "/konnect-api/api/runtime_groups/{controlPlaneId}/v1/expected-config-hash",
        ErrorFamily::Problem,
        expected_config_hash,
    )
}

fn certificate_json(cert: &DpCertificate) -> Value {
    json!({
        "id": cert.id,
        "cert": cert.cert,
        "created_at": cert.created_at.seconds(),
        "updated_at": cert.updated_at.seconds(),
    })
}

/// A certificate pinned by another control plane would make both refuse it: 409.
async fn ensure_not_pinned_elsewhere(
    state: &AppState,
    control_plane: Uuid,
    cert: &DpCertificate,
) -> Result<(), ApiError> {
    let pinning = state
        .store
        .control_planes_pinning(&cert.fingerprint)
        .await?;
    if pinning.iter().any(|cp| *cp != control_plane) {
        return Err(ApiError::Conflict(
            "this certificate is pinned by another control plane".into(),
        ));
    }
    Ok(())
}

/// Parses `{"cert": "<PEM>"}` into a certificate record for `id`.
fn parse_certificate(
    body: &Value,
    id: Uuid,
    created_at: Timestamp,
) -> Result<DpCertificate, ApiError> {
    let Some(pem) = body.get("cert").and_then(Value::as_str) else {
        return Err(ApiError::BadRequest(
            "cert is required and must be a PEM string".into(),
        ));
    };
    dp_certificate_from_pem(pem, id, created_at).map_err(ApiError::BadRequest)
}

fn certificate_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("dp-client-certificate not found".into()))
}

/// `list-dp-client-certificates`.
async fn list_dp_certificates(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    // Every item is answered in one page, but the paging parameters are held to the one
    // rule of every list (`QueryMap::page`).
    query
        .page(state.settings.max_page_size)
        .map_err(|fields| ApiError::invalid("Invalid query parameters", fields))?;
    state.entities.ensure_control_plane(cp).await?;
    let certs = state.store.dp_certificates(cp).await?;
    Ok(Json(json!({
        "items": certs.iter().map(certificate_json).collect::<Vec<_>>(),
        "page": {"total_count": certs.len()},
    })))
}

/// `create-dp-client-certificate`: pins a data plane certificate.
async fn create_dp_certificate(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let cert = parse_certificate(&body, Uuid::new_v4(), Timestamp::now())?;
    ensure_not_pinned_elsewhere(&state, cp, &cert).await?;
    state.store.put_dp_certificate(cp, &cert).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"item": certificate_json(&cert)})),
    ))
}

async fn get_dp_certificate(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let cert = state
        .store
        .dp_certificate(cp, certificate_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::NotFound("dp-client-certificate not found".into()))?;
    Ok(Json(json!({"item": certificate_json(&cert)})))
}

async fn put_dp_certificate(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let id = certificate_id(&id)?;
    let existing = state.store.dp_certificate(cp, id).await?;
    let created_at = existing.map_or(Timestamp::now(), |c| c.created_at);
    let cert = parse_certificate(&body, id, created_at)?;
    ensure_not_pinned_elsewhere(&state, cp, &cert).await?;
    state.store.put_dp_certificate(cp, &cert).await?;
    Ok(Json(json!({"item": certificate_json(&cert)})))
}

/// Unpins a certificate: data planes using it can no longer connect.
async fn delete_dp_certificate(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    if state
        .store
        .delete_dp_certificate(cp, certificate_id(&id)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("dp-client-certificate not found".into()))
    }
}

/// Konnect's "New Data Plane Node" (Gateway Manager): a fresh key and certificate,
/// pinned to the control plane, and its `docker run` command filled in for konnektd.
async fn generate_dp_certificate(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let new = new_data_plane(
        &state.store,
        cp,
        &state.cluster_tls.ca_cert,
        &state.settings.endpoints.control_plane,
    )
    .await
    .map_err(ApiError::Internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "item": certificate_json(&new.certificate),
            "key": new.key,
            "ca_cert": new.ca_cert,
            "docker_run": docker_run_text(&new),
        })),
    ))
}

/// The `docker run`, after its note (as shell comment lines, so the text still runs)
/// when the public host is a loopback name.
fn docker_run_text(new: &NewDataPlane) -> String {
    match &new.note {
        Some(note) => format!("# {note}\n{}", new.docker_run),
        None => new.docker_run.clone(),
    }
}

/// Konnect's node object (control-planes-config `Node`).
fn node_json(node: &Node) -> Value {
    let mut body = json!({
        "id": node.id,
        "version": node.version,
        "hostname": node.hostname,
        "last_ping": node.last_ping.seconds(),
        "type": "kong-proxy",
        "created_at": node.created_at.seconds(),
        "updated_at": node.updated_at.seconds(),
        "config_hash": node.config_hash,
        "labels": node.labels,
        "compatibility_status": node.compatibility,
        "cert_details": {"expiry_timestamp": node.cert_expiry.seconds()},
    });
    if let Some(error) = &node.last_error {
        body["last_error"] = error.clone();
    }
    body
}

async fn list_nodes(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    // Every item is answered in one page, but the paging parameters are held to the one
    // rule of every list (`QueryMap::page`).
    query
        .page(state.settings.max_page_size)
        .map_err(|fields| ApiError::invalid("Invalid query parameters", fields))?;
    state.entities.ensure_control_plane(cp).await?;
    let nodes = state.store.nodes(cp).await?;
    Ok(Json(json!({
        "items": nodes.iter().map(node_json).collect::<Vec<_>>(),
        "page": {"total_count": nodes.len()},
    })))
}

async fn get_node(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let node = state
        .store
        .node(cp, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("node not found".into()))?;
    Ok(Json(json!({"item": node_json(&node)})))
}

async fn delete_node(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    state.store.delete_node(cp, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `get-expected-config-hash`: the hash a data plane in sync reports.
async fn expected_config_hash(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let hashes = state.cluster.expected_hashes(cp).await?;
    let now = Timestamp::now().seconds();
    Ok(Json(json!({
        "expected_hash": hashes.config,
        "created_at": now,
        "updated_at": now,
    })))
}

/// `get-expected-config-version`: `{"expected_config_version", "created_at"}`. The spec's
/// version is what a data plane with incremental sync reports; konnektd's data planes sync
/// whole configs (docs/clustering.md), so a config is known by its hash, and the expected
/// version is the expected hash (docs/api.md, "Data planes").
async fn expected_config_version(
    state: AppState,
    ControlPlaneId(cp): ControlPlaneId,
) -> Result<Json<Value>, ApiError> {
    state.entities.ensure_control_plane(cp).await?;
    let hashes = state.cluster.expected_hashes(cp).await?;
    Ok(Json(json!({
        "expected_config_version": hashes.config,
        "created_at": Timestamp::now().seconds(),
    })))
}
