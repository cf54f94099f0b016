//! A new data plane for a control plane (Konnect's "New Data Plane Node"): a key and
//! certificate, the certificate pinned, and the `docker run` that starts it. Used by
//! `POST .../dp-client-certificates/generate` and `konnektd dataplane new`.

use std::path::Path;

use uuid::Uuid;

use super::certificates::{first_certificate_der, generate_data_plane_certificate};
use super::public_url::{docker_run_command, loopback_note};
use super::tls::PeerCertificate;
use crate::domain::Timestamp;
use crate::store::Store;
use crate::store::data_planes::DpCertificate;

/// What a new data plane needs, all PEM.
#[derive(Debug, Clone)]
pub struct NewDataPlane {
    pub certificate: DpCertificate,
    pub key: String,
    pub ca_cert: String,
    pub docker_run: String,
    /// Why the `docker run` will not reach konnektd as it stands (a loopback public host).
    pub note: Option<String>,
}

/// A certificate record from PEM, or why it is not one.
pub fn dp_certificate_from_pem(
    pem: &str,
    id: Uuid,
    created_at: Timestamp,
) -> Result<DpCertificate, String> {
    let parsed = first_certificate_der(pem)
        .and_then(|der| PeerCertificate::parse(&der).ok())
        .ok_or_else(|| "cert is not a PEM-encoded X.509 certificate".to_string())?;
    Ok(DpCertificate {
        id,
        cert: pem.to_string(),
        fingerprint: parsed.fingerprint,
        subject: parsed.subject,
        created_at,
        updated_at: Timestamp::now(),
    })
}

pub async fn new_data_plane(
    store: &Store,
    control_plane: Uuid,
    ca_cert_path: &Path,
    cluster_public_url: &str,
) -> anyhow::Result<NewDataPlane> {
    // The CA first: a failure must not leave a pinned certificate whose key is lost.
    let ca_cert = std::fs::read_to_string(ca_cert_path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", ca_cert_path.display()))?;
    let (cert_pem, key) = generate_data_plane_certificate(control_plane)?;
    let certificate = dp_certificate_from_pem(&cert_pem, Uuid::new_v4(), Timestamp::now())
        .map_err(anyhow::Error::msg)?;
    store
        .put_dp_certificate(control_plane, &certificate)
        .await?;
    let docker_run = docker_run_command(cluster_public_url, &cert_pem, &key, &ca_cert);
    Ok(NewDataPlane {
        certificate,
        key,
        ca_cert,
        docker_run,
        note: loopback_note(cluster_public_url),
    })
}
