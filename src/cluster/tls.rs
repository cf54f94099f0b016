//! TLS of the cluster listener: the rustls configuration of the cluster port, the
//! client-certificate check, and what konnektd reads from a data plane's certificate.
//! The certificate files are made by [`super::certificates`].
//!
//! Data planes must present a client certificate, but Kong's `kong hybrid gen_cert`
//! (`kong/cmd/hybrid.lua` `generate_cert`) sets no version, which makes X.509 **v1**
//! certificates, and webpki takes v3 only. So the TLS layer only proves the client holds
//! the key of the certificate it sent (TLS 1.3 signature over the raw public key); which
//! control plane it may reach, if any, is decided after the handshake from that
//! certificate (pinned or issued by an uploaded CA), per control plane: see
//! `admission` and docs/threat-model.md.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use super::certificates::{TlsFiles, fingerprint};
use crate::domain::Timestamp;

/// The rustls configuration of the cluster port: TLS 1.3, HTTP/1.1, client
/// certificate required and checked by [`AnyClientKeyHolder`].
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", files.key.display()))?;
    let verifier = Arc::new(AnyClientKeyHolder {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Requires a client certificate and proof of its key, and nothing else at the TLS
/// layer (see the module docs).
#[derive(Debug)]
struct AnyClientKeyHolder {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientKeyHolder {
    fn root_hint_subjects(&self) -> &[TlsName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let peer = PeerCertificate::parse(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let now = Timestamp::from_seconds(now.as_secs() as i64);
        if now < peer.not_before {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidYet,
            ));
        }
        if now > peer.not_after {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            ));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The cluster port offers TLS 1.3 only.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls13RequiredForQuic,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let peer = PeerCertificate::parse(cert).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let spki = SubjectPublicKeyInfoDer::from(peer.spki.as_slice());
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What konnektd needs from a data plane's certificate, read with a parser that also
/// takes X.509 v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    pub der: Vec<u8>,
    /// Lowercase hex SHA-256 of the DER: the pinning key.
    pub fingerprint: String,
    pub spki: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    /// Whole seconds, as X.509 gives them.
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

impl PeerCertificate {
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        Ok(PeerCertificate {
            der: der.to_vec(),
            fingerprint: fingerprint(der),
            spki: cert.tbs_certificate.subject_pki.raw.to_vec(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: Timestamp::from_seconds(cert.validity().not_before.timestamp()),
            not_after: Timestamp::from_seconds(cert.validity().not_after.timestamp()),
        })
    }

    /// Whether `ca` (DER) signed this certificate: Konnect's `pki_client_certs`, with the
    /// uploaded certificate as the issuing anchor.
    pub fn issued_by(&self, ca_der: &[u8]) -> bool {
        let Ok((_, leaf)) = x509_parser::parse_x509_certificate(&self.der) else {
            return false;
        };
        let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else {
            return false;
        };
        leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
    }
}

/// Installs ring as the process's rustls provider (idempotent).
pub fn install_crypto_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::certificates::{
        ensure_generated, first_certificate_der, generate_data_plane_certificate,
    };
    use crate::cluster::public_url::server_hosts;

    #[test]
    fn a_generated_data_plane_certificate_parses() {
        let (cert, _) = generate_data_plane_certificate(uuid::Uuid::nil()).unwrap();
        assert!(PeerCertificate::parse(&first_certificate_der(&cert).unwrap()).is_ok());
    }

    #[test]
    fn generated_material_loads_and_is_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_data_dir(dir.path());
        ensure_generated(&files, &server_hosts("https://cp.test:8005")).unwrap();
        let ca = std::fs::read(&files.ca_cert).unwrap();
        server_config(&files).unwrap();
        ensure_generated(&files, &server_hosts("https://cp.test:8005")).unwrap();
        assert_eq!(
            std::fs::read(&files.ca_cert).unwrap(),
            ca,
            "not regenerated"
        );
        let ca_der = first_certificate_der(&String::from_utf8(ca).unwrap()).unwrap();
        let server_der =
            first_certificate_der(&std::fs::read_to_string(&files.cert).unwrap()).unwrap();
        let server = PeerCertificate::parse(&server_der).unwrap();
        assert!(server.issued_by(&ca_der));
        assert!(
            !PeerCertificate::parse(&ca_der)
                .unwrap()
                .issued_by(&server_der)
        );
    }
}
