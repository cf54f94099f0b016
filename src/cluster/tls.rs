//! TLS of the cluster listener. At first start konnektd makes a cluster CA and a server
//! certificate under `<data-dir>/tls/` (`cluster-ca.crt` is what data planes trust),
//! unless certificate files are given.
//!
//! Data planes must present a client certificate, but Kong's `kong hybrid gen_cert`
//! makes X.509 **v1** certificates, which webpki refuses (clustering-protocol.md §1.3).
//! So the TLS layer only proves the client holds the key of the certificate it sent
//! (TLS 1.3 signature over the raw public key); which control plane it may reach, if
//! any, is decided after the handshake from that certificate (pinned or issued by an
//! uploaded CA), per control plane.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

/// Where the cluster's certificate material lives.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The generated defaults under `<data-dir>/tls/`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        let dir = data_dir.join("tls");
        TlsFiles {
            ca_cert: dir.join("cluster-ca.crt"),
            cert: dir.join("cluster.crt"),
            key: dir.join("cluster.key"),
        }
    }
}

/// Makes the cluster CA and a server certificate for `hosts` when the files do not
/// exist yet. The CA key stays next to them, so `dataplane new` can reuse the CA later.
pub fn ensure_generated(files: &TlsFiles, hosts: &[String]) -> anyhow::Result<()> {
    if files.cert.exists() && files.key.exists() && files.ca_cert.exists() {
        return Ok(());
    }
    let dir = files.cert.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let ca_key_path = files.ca_cert.with_extension("key");
    let (ca_pem, ca_key) = if files.ca_cert.exists() && ca_key_path.exists() {
        let key = KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?)?;
        (std::fs::read_to_string(&files.ca_cert)?, key)
    } else {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "konnektd cluster CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        let cert = params.self_signed(&key)?;
        write_private(&ca_key_path, &key.serialize_pem())?;
        std::fs::write(&files.ca_cert, cert.pem())?;
        (cert.pem(), key)
    };
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    params.distinguished_name = name;
    params.subject_alt_names = hosts
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let cert = params.signed_by(&key, &issuer)?;
    write_private(&files.key, &key.serialize_pem())?;
    std::fs::write(&files.cert, cert.pem())?;
    Ok(())
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?
    };
    // `mode` applies only to new files: an older, wider key file is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let mut file = std::fs::File::create(path)?;
    file.write_all(contents.as_bytes())
}

/// The `host[:port]` of a URL (`https://cp.example.com:8005/x` → `cp.example.com:8005`).
fn authority(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    without_scheme.split('/').next().unwrap_or("")
}

/// The host of a `host[:port]` authority, brackets of an IPv6 literal removed.
pub fn host_of(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
}

/// The host names the server certificate covers: the public URL's host, `localhost`
/// and `127.0.0.1`.
pub fn server_hosts(cluster_public_url: &str) -> Vec<String> {
    let host = host_of(authority(cluster_public_url)).to_string();
    let mut hosts = vec![];
    for h in [host, "localhost".into(), "127.0.0.1".into()] {
        if !h.is_empty() && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

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
        let now = now.as_secs() as i64;
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
    pub not_before: i64,
    pub not_after: i64,
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
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
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

pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The DER of the first certificate of a PEM text.
pub fn first_certificate_der(pem: &str) -> Option<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// A key and self-signed certificate for a new data plane, to be pinned to
/// `control_plane` (Konnect's "Generate a certificate").
pub fn generate_data_plane_certificate(
    control_plane: uuid::Uuid,
) -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        format!("konnektd data plane of {control_plane}"),
    );
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// `host:port` and host of the cluster's public URL, as `KONG_CLUSTER_CONTROL_PLANE` and
/// `KONG_CLUSTER_SERVER_NAME` want them.
pub fn cluster_address(cluster_public_url: &str) -> (String, String) {
    let authority = authority(cluster_public_url).to_string();
    let host = host_of(&authority).to_string();
    let address = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority
    } else {
        format!("{authority}:443")
    };
    (address, host)
}

/// The guide's `docker run` (ping-auth-konnect-guide.md, "Uploading files to data plane
/// nodes") with every `KONG_CLUSTER_*` filled for this konnektd, its CA trusted, and the
/// three ping-auth lines.
pub fn docker_run_command(cluster_public_url: &str, cert: &str, key: &str, ca: &str) -> String {
    let (address, host) = cluster_address(cluster_public_url);
    let lines = [
        "docker run -d".to_string(),
        "-v \"/plugins/kong/ping-auth:/usr/local/share/lua/5.1/kong/plugins/ping-auth\"".into(),
        "-e \"KONG_PLUGINS=bundled,ping-auth\"".into(),
        "-e \"KONG_LUA_PACKAGE_PATH=/usr/local/share/lua/5.1/kong/plugins/?.lua;;\"".into(),
        "-e \"KONG_ROLE=data_plane\"".into(),
        "-e \"KONG_DATABASE=off\"".into(),
        "-e \"KONG_VITALS=off\"".into(),
        "-e \"KONG_NGINX_WORKER_PROCESSES=1\"".into(),
        "-e \"KONG_CLUSTER_MTLS=pki\"".into(),
        format!("-e \"KONG_CLUSTER_CONTROL_PLANE={address}\""),
        format!("-e \"KONG_CLUSTER_SERVER_NAME={host}\""),
        format!("-e \"KONG_CLUSTER_TELEMETRY_ENDPOINT={address}\""),
        format!("-e \"KONG_CLUSTER_TELEMETRY_SERVER_NAME={host}\""),
        format!("-e \"KONG_CLUSTER_CERT={}\"", cert.trim_end()),
        format!("-e \"KONG_CLUSTER_CERT_KEY={}\"", key.trim_end()),
        format!("-e \"KONG_CLUSTER_CA_CERT={}\"", ca.trim_end()),
        "-e \"KONG_LUA_SSL_TRUSTED_CERTIFICATE=system\"".into(),
        "-e \"KONG_KONNECT_MODE=on\"".into(),
        "-p 8000:8000".into(),
        "-p 8443:8443".into(),
        "kong/kong-gateway:3.10".into(),
    ];
    lines.join(" \\\n")
}

/// Installs ring as the process's rustls provider (idempotent).
pub fn install_crypto_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_covers_the_public_host_and_localhost() {
        assert_eq!(
            server_hosts("https://cp.example.com:8005"),
            ["cp.example.com", "localhost", "127.0.0.1"]
        );
        assert_eq!(
            server_hosts("wss://localhost:8005/x"),
            ["localhost", "127.0.0.1"]
        );
        assert_eq!(
            server_hosts("https://[::1]:8005"),
            ["::1", "localhost", "127.0.0.1"]
        );
    }

    #[test]
    fn the_docker_run_points_data_planes_at_this_cluster_listener() {
        let command = docker_run_command("https://cp.example.com:8005", "CERT", "KEY", "CA");
        assert!(command.contains("-e \"KONG_CLUSTER_CONTROL_PLANE=cp.example.com:8005\" \\\n"));
        assert!(command.contains("KONG_CLUSTER_SERVER_NAME=cp.example.com\""));
        assert!(command.contains("KONG_PLUGINS=bundled,ping-auth"));
        assert!(command.contains("KONG_CLUSTER_CA_CERT=CA\""));
        assert!(command.ends_with("kong/kong-gateway:3.10"));
        assert_eq!(
            cluster_address("https://cp.example.com"),
            ("cp.example.com:443".into(), "cp.example.com".into())
        );
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
