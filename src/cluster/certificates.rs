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

/// What [`ensure_generated`] did with the server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCertificate {
    /// It existed and covers every host.
    Kept,
    /// There was none: made now (with the CA when that was missing too).
    Created,
    /// It did not cover `missing`: a new one signed by the same CA replaced it, so data
    /// planes that trust `cluster-ca.crt` keep trusting it.
    Regenerated { missing: Vec<String> },
    /// It does not cover `missing`, and the CA key is gone, so it could not be reissued
    /// by the same CA; it was left as it is.
    NotCovered { missing: Vec<String> },
}

/// Makes the cluster CA and a server certificate for `hosts` when the files do not
/// exist yet, and reissues the server certificate (same CA) when it does not cover one
/// of `hosts` (a changed `--cluster-public-url`). The CA key stays next to them, so
/// `dataplane new` can reuse the CA later.
pub fn ensure_generated(files: &TlsFiles, hosts: &[String]) -> anyhow::Result<ServerCertificate> {
    let ca_key_path = files.ca_cert.with_extension("key");
    if files.cert.exists() && files.key.exists() && files.ca_cert.exists() {
        let pem = std::fs::read_to_string(&files.cert)?;
        let missing = uncovered(&pem, hosts)?;
        if missing.is_empty() {
            return Ok(ServerCertificate::Kept);
        }
        if !ca_key_path.exists() {
            return Ok(ServerCertificate::NotCovered { missing });
        }
        // The names it had stay covered: data planes set up with them keep connecting.
        let mut names = hosts.to_vec();
        for old in subject_alt_names(&pem)? {
            if !names.contains(&old) {
                names.push(old);
            }
        }
        let ca_pem = std::fs::read_to_string(&files.ca_cert)?;
        let ca_key = KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?)?;
        issue_server_certificate(files, &Issuer::from_ca_cert_pem(&ca_pem, ca_key)?, &names)?;
        return Ok(ServerCertificate::Regenerated { missing });
    }
    let dir = files.cert.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
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
    issue_server_certificate(files, &Issuer::from_ca_cert_pem(&ca_pem, ca_key)?, hosts)?;
    Ok(ServerCertificate::Created)
}

/// A new server key and certificate for `hosts` (the first is its common name), signed
/// by `issuer`, written over `files.cert` and `files.key`.
fn issue_server_certificate(
    files: &TlsFiles,
    issuer: &Issuer<'_, KeyPair>,
    hosts: &[String],
) -> anyhow::Result<()> {
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
    let cert = params.signed_by(&key, issuer)?;
    write_private(&files.key, &key.serialize_pem())?;
    std::fs::write(&files.cert, cert.pem())?;
    Ok(())
}

/// The subject alternative names of a PEM certificate's first certificate, as host
/// strings (DNS names as written, IP addresses in their usual notation).
pub fn subject_alt_names(pem: &str) -> anyhow::Result<Vec<String>> {
    use x509_parser::extensions::GeneralName;
    let der = first_certificate_der(pem).ok_or_else(|| anyhow::anyhow!("no certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)?;
    let Some(san) = cert.subject_alternative_name()? else {
        return Ok(vec![]);
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_string()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
                16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect())
}

/// The `hosts` a PEM certificate does not cover, judged as a TLS client does (RFC 6125,
/// as rustls/webpki): subject alternative names only, an IP host against IP names, a
/// DNS host against DNS names ignoring case, `*.` matching one whole left-most label.
pub fn uncovered(pem: &str, hosts: &[String]) -> anyhow::Result<Vec<String>> {
    let names = subject_alt_names(pem)?;
    Ok(hosts
        .iter()
        .filter(|host| !names.iter().any(|name| name_covers(name, host)))
        .cloned()
        .collect())
}

fn name_covers(name: &str, host: &str) -> bool {
    match (
        name.parse::<std::net::IpAddr>(),
        host.parse::<std::net::IpAddr>(),
    ) {
        (Ok(name), Ok(host)) => name == host,
        (Err(_), Err(_)) => {
            let (name, host) = (name.to_ascii_lowercase(), host.to_ascii_lowercase());
            match name.strip_prefix("*.") {
                Some(parent) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => name == host,
            }
        }
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_new_public_host_reissues_the_server_certificate_with_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_data_dir(dir.path());
        let first = hosts(&["localhost", "127.0.0.1"]);
        assert_eq!(
            ensure_generated(&files, &first).unwrap(),
            ServerCertificate::Created
        );
        assert_eq!(
            ensure_generated(&files, &first).unwrap(),
            ServerCertificate::Kept
        );
        let ca = std::fs::read(&files.ca_cert).unwrap();
        let ca_key = std::fs::read(files.ca_cert.with_extension("key")).unwrap();

        let moved = hosts(&["konnektd.internal", "localhost", "127.0.0.1"]);
        assert_eq!(
            ensure_generated(&files, &moved).unwrap(),
            ServerCertificate::Regenerated {
                missing: hosts(&["konnektd.internal"])
            }
        );
        assert_eq!(std::fs::read(&files.ca_cert).unwrap(), ca, "same CA");
        assert_eq!(
            std::fs::read(files.ca_cert.with_extension("key")).unwrap(),
            ca_key
        );
        let pem = std::fs::read_to_string(&files.cert).unwrap();
        assert_eq!(subject_alt_names(&pem).unwrap(), moved);
        assert_eq!(
            ensure_generated(&files, &moved).unwrap(),
            ServerCertificate::Kept
        );

        // A later host keeps the earlier ones: data planes set up with them still connect.
        let again = hosts(&["10.1.2.3", "localhost", "127.0.0.1"]);
        ensure_generated(&files, &again).unwrap();
        let pem = std::fs::read_to_string(&files.cert).unwrap();
        assert_eq!(
            subject_alt_names(&pem).unwrap(),
            hosts(&["10.1.2.3", "localhost", "127.0.0.1", "konnektd.internal"])
        );
    }

    #[test]
    fn without_the_ca_key_an_uncovering_certificate_is_left_and_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_data_dir(dir.path());
        ensure_generated(&files, &hosts(&["localhost"])).unwrap();
        std::fs::remove_file(files.ca_cert.with_extension("key")).unwrap();
        let cert = std::fs::read(&files.cert).unwrap();
        assert_eq!(
            ensure_generated(&files, &hosts(&["cp.example.com"])).unwrap(),
            ServerCertificate::NotCovered {
                missing: hosts(&["cp.example.com"])
            }
        );
        assert_eq!(std::fs::read(&files.cert).unwrap(), cert);
    }

    #[test]
    fn coverage_is_judged_as_a_tls_client_does() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_data_dir(dir.path());
        ensure_generated(&files, &hosts(&["*.example.com", "::1", "127.0.0.1"])).unwrap();
        let pem = std::fs::read_to_string(&files.cert).unwrap();
        let asked = hosts(&[
            "cp.EXAMPLE.com",
            "a.b.example.com",
            "example.com",
            "::1",
            "0:0:0:0:0:0:0:1",
            "127.0.0.1",
            "127.0.0.2",
            "localhost",
        ]);
        assert_eq!(
            uncovered(&pem, &asked).unwrap(),
            hosts(&["a.b.example.com", "example.com", "127.0.0.2", "localhost"])
        );
    }

    /// The generated CA key and server key, like every private key konnektd writes, are
    /// readable by their owner only.
    #[cfg(unix)]
    #[test]
    fn generated_private_keys_are_written_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::in_data_dir(dir.path());
        ensure_generated(&files, &hosts(&["localhost"])).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.key), 0o600);
        assert_eq!(mode(&files.ca_cert.with_extension("key")), 0o600);
        // Reissued over an existing, wider file: narrowed too.
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_generated(&files, &hosts(&["cp.example.com"])).unwrap();
        assert_eq!(mode(&files.key), 0o600);
    }
}
