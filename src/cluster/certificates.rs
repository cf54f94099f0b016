//! The cluster's certificate material: the CA and server certificate made at first start
//! under `<data-dir>/tls/` (`cluster-ca.crt` is what data planes trust), a new data
//! plane's key and certificate, private keys written for their owner only, and the PEM
//! and fingerprint helpers the rest of `cluster` reads certificates with.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;
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

/// Lowercase hex SHA-256 of a certificate's DER: the pinning key.
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
