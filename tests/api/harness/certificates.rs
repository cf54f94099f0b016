//! Data-plane certificates for the tests: self-signed v3, X.509 v1 as
//! `kong hybrid gen_cert` makes them, and a CA with leaves for `pki_client_certs`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SigningKey,
};
use rustls::pki_types::CertificateDer;

/// A certificate and its key, in PEM.
#[derive(Clone)]
pub struct Creds {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Midnight UTC of a date, in unix seconds.
pub fn unix(y: i32, m: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

/// A self-signed v3 client certificate valid until 2035-01-01.
pub fn self_signed(cn: &str) -> Creds {
    self_signed_until(cn, rcgen::date_time_ymd(2035, 1, 1))
}

/// [`self_signed`], valid until `not_after`.
pub fn self_signed_until(cn: &str, not_after: time::OffsetDateTime) -> Creds {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = not_after;
    let cert = params.self_signed(&key).unwrap();
    Creds {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// One DER TLV: (tag byte, whole encoding, content).
fn der_tlvs(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let tag = bytes[0];
        let (len, header) = if bytes[1] < 0x80 {
            (bytes[1] as usize, 2)
        } else {
            let n = (bytes[1] & 0x7f) as usize;
            let len = bytes[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize);
            (len, 2 + n)
        };
        out.push((
            tag,
            bytes[..header + len].to_vec(),
            bytes[header..header + len].to_vec(),
        ));
        bytes = &bytes[header + len..];
    }
    out
}

fn der_wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Like `kong hybrid gen_cert`: self-signed EC P-384, CN `kong_clustering`, and X.509
/// **v1** (no version field, no extensions). rcgen only writes v3, so its TBS is
/// re-encoded without `[0] version` and `[3] extensions` and signed again with the key.
pub fn kong_gen_cert_v1() -> Creds {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "kong_clustering");
    params.distinguished_name = name;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let v3 = params.self_signed(&key).unwrap();
    let outer = der_tlvs(v3.der());
    let parts = der_tlvs(&outer[0].2);
    let (tbs, algorithm) = (&parts[0], &parts[1].1);
    let tbs_fields: Vec<u8> = der_tlvs(&tbs.2)
        .into_iter()
        .filter(|(tag, _, _)| *tag != 0xa0 && *tag != 0xa3)
        .flat_map(|(_, whole, _)| whole)
        .collect();
    let tbs_v1 = der_wrap(0x30, &tbs_fields);
    let signature = key.sign(&tbs_v1).unwrap();
    let mut bit_string = vec![0u8];
    bit_string.extend(signature);
    let mut cert = tbs_v1;
    cert.extend_from_slice(algorithm);
    cert.extend(der_wrap(0x03, &bit_string));
    let der = der_wrap(0x30, &cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(parsed.version(), x509_parser::x509::X509Version::V1);
    assert!(parsed.extensions().is_empty());
    let cert_pem = rustls::pki_types::pem::PemObject::pem_slice_iter(
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64(&der)
        )
        .as_bytes(),
    )
    .map(|c: Result<CertificateDer<'static>, _>| c.unwrap())
    .next()
    .map(|c| {
        assert_eq!(c.as_ref(), &der[..]);
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64(&der)
        )
    })
    .unwrap();
    Creds {
        cert_pem,
        key_pem: key.serialize_pem(),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A CA (PEM, issuer) for pki mode.
pub fn test_ca(cn: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// A client certificate (EKU `clientAuth`) issued by a [`test_ca`].
pub fn issued_by(issuer: &Issuer<'static, KeyPair>, cn: &str) -> Creds {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).unwrap();
    Creds {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}
