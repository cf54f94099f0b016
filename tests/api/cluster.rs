//! Data-plane sync, from the outside: a fake Kong data plane written from
//! clustering-protocol.md §9 (its own TLS, WebSocket, gzip and Kong-hash code, none of
//! konnektd's cluster modules) against the real cluster listener.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SigningKey,
};
use reqwest::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::both_backends;
use crate::harness::{self, Backend, TestApp, status_and_json};

both_backends!(
    certificate_files_given_by_flag_are_served_instead_of_generated_ones,
    a_certificate_pinned_by_one_control_plane_cannot_be_pinned_by_another,
    a_config_over_the_payload_limit_is_not_sent_and_the_node_says_why,
    a_frame_over_the_inbound_limit_closes_the_session_with_1009_unread,
    first_config_is_kongs_reconfigure_with_kongs_hash,
    changes_are_pushed_and_only_changed_groups_rehash,
    far_fewer_snapshots_than_data_planes_times_changes,
    the_hash_survives_a_restart,
    a_data_plane_without_a_configured_plugin_gets_no_config_but_stays,
    a_data_plane_of_another_major_version_is_closed_and_marked,
    an_older_data_plane_loses_removed_fields_but_keeps_the_hash,
    a_data_plane_without_a_client_certificate_is_refused,
    an_unpinned_certificate_gets_401_and_no_node,
    an_unpinned_certificate_can_no_longer_connect,
    a_generated_certificate_connects,
    a_kong_gen_cert_style_x509_v1_certificate_connects_when_pinned,
    pki_control_planes_trust_certificates_issued_by_an_uploaded_ca,
    bad_handshake_queries_get_400,
    a_node_id_is_bound_to_its_certificate,
    error_reports_are_stored_and_the_session_stays,
    text_frames_and_unknown_types_close_the_session,
    an_invalid_ping_is_ignored,
    a_silent_data_plane_is_closed_after_the_ping_wait,
    a_data_plane_that_stops_reading_is_dropped_after_the_write_timeout,
    head_v1_wrpc_is_404,
    the_v2_outlet_hello_offers_no_incremental_sync,
);

both_backends!(
    unpinning_closes_a_live_session,
    a_stopping_server_closes_its_sessions_with_going_away,
    data_planes_are_told_to_go_at_once_while_requests_drain,
    closing_the_sessions_also_stops_taking_data_planes,
    data_planes_connecting_at_once_all_get_their_config,
    a_session_closes_when_its_certificate_expires,
    of_two_certificates_racing_for_one_node_id_the_first_keeps_it,
    a_handshake_that_gets_no_store_turn_in_2_s_is_refused_with_503,
);

const ZEROS: &str = "00000000000000000000000000000000";
const WAIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------
// Kong's config hash (clustering-protocol.md §3.1), written from the description.
// ---------------------------------------------------------------------------------

/// LuaJIT's `tostring` of a number: `%.14g`.
fn lua_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    let sci = format!("{n:.13e}");
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..14).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (13 - exp).max(0) as usize;
        trim(&format!("{n:.decimals$}"))
    }
}

fn kong_serialize(value: &Value, buf: &mut Vec<u8>) {
    if buf.len() > 1_000_000 {
        let digest = Md5::digest(&buf[..]);
        buf.clear();
        buf.extend_from_slice(&digest);
    }
    match value {
        Value::Null => buf.extend_from_slice(b"/null/"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let text = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if i.unsigned_abs() < 100_000_000_000_000 => i.to_string(),
                (_, Some(u)) if u < 100_000_000_000_000 => u.to_string(),
                _ => lua_number(n.as_f64().unwrap()),
            };
            buf.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Array(items) if items.is_empty() => buf.extend_from_slice(b"{}"),
        Value::Array(items) if items.len() == 1 => kong_serialize(&items[0], buf),
        Value::Array(items) if items.len() <= 5 => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b';');
                }
                kong_serialize(item, buf);
            }
        }
        Value::Array(items) => {
            for item in items {
                kong_serialize(item, buf);
                buf.push(b';');
            }
        }
        Value::Object(map) if map.is_empty() => buf.extend_from_slice(b"{}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for key in keys {
                buf.extend_from_slice(key.as_bytes());
                buf.push(b':');
                kong_serialize(&map[key], buf);
                buf.push(b';');
            }
        }
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn kong_hash(value: Option<&Value>) -> String {
    match value {
        None => ZEROS.into(),
        Some(v) => {
            let mut buf = Vec::new();
            kong_serialize(v, &mut buf);
            md5_hex(&buf)
        }
    }
}

const GROUPS: [&str; 5] = ["routes", "services", "plugins", "upstreams", "targets"];

/// `calculate_config_hash`: `{config, routes, services, plugins, upstreams, targets}`.
fn kong_config_hashes(table: &Value) -> Value {
    let Value::Object(map) = table else {
        return json!({"config": kong_hash(Some(table))});
    };
    let mut rest = map.clone();
    let mut hashes = Map::new();
    let mut joined = String::new();
    for group in GROUPS {
        let h = kong_hash(map.get(group));
        rest.remove(group);
        joined.push_str(&h);
        hashes.insert(group.into(), json!(h));
    }
    joined.push_str(&kong_hash(Some(&Value::Object(rest))));
    hashes.insert("config".into(), json!(md5_hex(joined.as_bytes())));
    Value::Object(hashes)
}

/// The hash implementation passes Kong's published vectors before anything relies on it.
#[test]
fn the_test_kong_hash_reproduces_kongs_vectors() {
    assert_eq!(kong_hash(None), ZEROS);
    assert_eq!(
        kong_hash(Some(&Value::Null)),
        "5bf07a8b7343015026657d1108d8206e"
    );
    assert_eq!(
        kong_hash(Some(&json!(10))),
        "d3d9446802a44259755d38e6d163e820"
    );
    assert_eq!(
        kong_hash(Some(&json!(0.9))),
        "a894124cc6d5c5c71afe060d5dde0762"
    );
    for (value, text) in [
        (json!(""), ""),
        (json!("hello"), "hello"),
        (json!(false), "false"),
        (json!(true), "true"),
    ] {
        assert_eq!(kong_hash(Some(&value)), md5_hex(text.as_bytes()));
    }
    assert_eq!(
        kong_config_hashes(&json!({}))["config"],
        "2da3c26e4dbd6dd6ea3ab60a3dd7fb3e"
    );
    let empty_arrays = "99914b932bd37a50b983c5e7c90ae93b";
    assert_eq!(
        kong_config_hashes(&json!({"routes": [], "services": [], "plugins": []})),
        json!({
            "config": "81aac97a81ad03c0cf0b36663806488e",
            "routes": empty_arrays, "services": empty_arrays, "plugins": empty_arrays,
            "upstreams": ZEROS, "targets": ZEROS,
        })
    );
    assert_eq!(
        kong_config_hashes(&json!({"upstreams": [], "targets": []}))["config"],
        "4d60dd9998ea4314039da5ca2f1db96f"
    );
    // %.14g and the array rules, by their definition.
    assert_eq!(lua_number(1.0), "1");
    assert_eq!(lua_number(1e15), "1e+15");
    assert_eq!(lua_number(0.1 + 0.2), "0.3");
    assert_eq!(lua_number(-2.5e-7), "-2.5e-07");
    let mut buf = Vec::new();
    kong_serialize(&json!([1, 2]), &mut buf);
    assert_eq!(buf, b"1;2");
    buf.clear();
    kong_serialize(&json!([1, 2, 3, 4, 5, 6]), &mut buf);
    assert_eq!(buf, b"1;2;3;4;5;6;");
    buf.clear();
    kong_serialize(&json!({"b": [true], "a": {}, "B": null}), &mut buf);
    assert_eq!(buf, b"B:/null/;a:{};b:true;");
}

// ---------------------------------------------------------------------------------
// Certificates.
// ---------------------------------------------------------------------------------

#[derive(Clone)]
struct Creds {
    cert_pem: String,
    key_pem: String,
}

fn unix(y: i32, m: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

/// A self-signed v3 client certificate valid until 2035-01-01.
fn self_signed(cn: &str) -> Creds {
    self_signed_until(cn, rcgen::date_time_ymd(2035, 1, 1))
}

fn self_signed_until(cn: &str, not_after: time::OffsetDateTime) -> Creds {
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
fn kong_gen_cert_v1() -> Creds {
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
fn test_ca(cn: &str) -> (String, Issuer<'static, KeyPair>) {
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

fn issued_by(issuer: &Issuer<'static, KeyPair>, cn: &str) -> Creds {
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

// ---------------------------------------------------------------------------------
// The fake data plane: rustls, tokio-tungstenite's client handshake, then its own
// frame codec so every frame's FIN, RSV, mask and opcode can be checked.
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct RawFrame {
    fin: bool,
    rsv: u8,
    masked: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// One complete frame at the start of `bytes`, and its encoded length.
fn parse_frame(bytes: &[u8]) -> Option<(RawFrame, usize)> {
    if bytes.len() < 2 {
        return None;
    }
    let (b0, b1) = (bytes[0], bytes[1]);
    let (len, mut header) = match b1 & 0x7f {
        126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 if bytes.len() >= 10 => (
            u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    let masked = b1 & 0x80 != 0;
    let mask = if masked {
        header += 4;
        bytes.get(header - 4..header)?.to_vec()
    } else {
        vec![0; 4]
    };
    if bytes.len() < header + len {
        return None;
    }
    let payload = bytes[header..header + len]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Some((
        RawFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            masked,
            opcode: b0 & 0x0f,
            payload,
        },
        header + len,
    ))
}

/// A masked, final frame as a client must send it.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len < 65536 {
        frame.push(0x80 | 126);
        frame.extend((len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend((len as u64).to_be_bytes());
    }
    let mask: [u8; 4] = rand::random();
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[derive(Debug)]
enum Event {
    Config(Value),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame's code and reason, or `None` when the stream just ended.
    Closed(Option<(u16, String)>),
    /// Read through `Debug` in panic messages.
    #[allow(dead_code)]
    Other(RawFrame),
}

struct Dp {
    stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
    /// Every frame received, in order.
    frames: Vec<RawFrame>,
    response: tokio_tungstenite::tungstenite::handshake::client::Response,
    accept_expected: String,
    alpn: Option<Vec<u8>>,
}

/// Always presents the same certificate and key.
#[derive(Debug)]
struct FixedClientCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn client_config(ca_pem: &str, creds: Option<&Creds>, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match creds {
        None => builder.with_no_client_auth(),
        Some(c) => {
            // Not `with_client_auth_cert`: rustls parses that certificate with webpki,
            // which refuses X.509 v1 (as in `kong hybrid gen_cert`).
            let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap();
            let certified = rustls::sign::CertifiedKey::new(
                CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                rustls::crypto::ring::sign::any_supported_type(&key).unwrap(),
            );
            builder.with_client_cert_resolver(Arc::new(FixedClientCert(Arc::new(certified))))
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

async fn tls_to(
    addr: SocketAddr,
    ca_pem: &str,
    creds: Option<&Creds>,
    server_name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    tls_over(
        TcpStream::connect(addr).await?,
        ca_pem,
        creds,
        server_name,
        alpn,
    )
    .await
}

async fn tls_over(
    tcp: TcpStream,
    ca_pem: &str,
    creds: Option<&Creds>,
    server_name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(Arc::new(client_config(ca_pem, creds, alpn)));
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS timeout"))?
}

/// Opens `path` (with query) as a WebSocket, optionally asking for a subprotocol.
async fn open(
    addr: SocketAddr,
    ca_pem: &str,
    creds: Option<&Creds>,
    path: &str,
    protocol: Option<&str>,
) -> Result<Dp, WsError> {
    let tls = tls_to(addr, ca_pem, creds, "localhost", &[b"h2", b"http/1.1"])
        .await
        .map_err(WsError::Io)?;
    upgrade(tls, addr, path, protocol).await
}

/// The WebSocket upgrade of `open` over a connection made already.
async fn upgrade(
    tls: TlsStream<TcpStream>,
    addr: SocketAddr,
    path: &str,
    protocol: Option<&str>,
) -> Result<Dp, WsError> {
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let mut request = format!("wss://localhost:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let accept_expected = derive_accept_key(request.headers()["Sec-WebSocket-Key"].as_bytes());
    let (ws, response) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async_with_config(request, tls, None),
    )
    .await
    .map_err(|_| WsError::Io(std::io::Error::other("upgrade timeout")))??;
    // The server says nothing before the client's first message, so no frame bytes
    // are left in tungstenite's buffer.
    Ok(Dp {
        stream: ws.into_inner(),
        buf: Vec::new(),
        frames: Vec::new(),
        response,
        accept_expected,
        alpn,
    })
}

fn outlet(node_id: &str, hostname: &str, version: &str) -> String {
    format!("/v1/outlet?node_id={node_id}&node_hostname={hostname}&node_version={version}")
}

fn inflate(bytes: &[u8]) -> Value {
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("JSON")
}

impl Dp {
    async fn write(&mut self, opcode: u8, payload: &[u8]) {
        self.stream
            .write_all(&client_frame(opcode, payload))
            .await
            .unwrap();
    }

    async fn send_binary(&mut self, body: &Value) {
        self.write(0x2, &serde_json::to_vec(body).unwrap()).await;
    }

    async fn basic_info(&mut self, plugins: &[&str]) {
        let plugins: Vec<Value> = plugins
            .iter()
            .map(|p| json!({"name": p, "version": "1.0.0"}))
            .collect();
        self.send_binary(&json!({
            "type": "basic_info",
            "plugins": plugins,
            "labels": {"env": "test"},
            "process_conf": {"cluster_max_payload": 16777216, "router_flavor": "traditional_compatible"},
            "filters": {},
        }))
        .await;
    }

    async fn ping(&mut self, payload: &str) {
        self.write(0x9, payload.as_bytes()).await;
    }

    /// The next frame (cancel-safe: bytes stay buffered until a frame is complete).
    async fn frame(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                self.frames.push(frame.clone());
                return Some(frame);
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next frame within `wait`, or `None`.
    async fn next(&mut self, wait: Duration) -> Option<Event> {
        let frame = match tokio::time::timeout(wait, self.frame()).await {
            Err(_) => return None,
            Ok(None) => return Some(Event::Closed(None)),
            Ok(Some(frame)) => frame,
        };
        if !frame.fin || frame.rsv != 0 || frame.masked {
            return Some(Event::Other(frame));
        }
        Some(match frame.opcode {
            0x2 if frame.payload.starts_with(&[0x1f, 0x8b]) => {
                Event::Config(inflate(&frame.payload))
            }
            0x2 => Event::Binary(frame.payload),
            0xa => Event::Pong(frame.payload),
            0x8 if frame.payload.len() >= 2 => Event::Closed(Some((
                u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
                String::from_utf8_lossy(&frame.payload[2..]).into_owned(),
            ))),
            0x8 => Event::Closed(Some((1005, String::new()))),
            _ => Event::Other(frame),
        })
    }

    /// The next reconfigure, skipping pongs.
    async fn config(&mut self, wait: Duration) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Event::Config(c)) => return c,
                Some(Event::Pong(_)) => continue,
                other => panic!("expected a reconfigure within {wait:?}, got {other:?}"),
            }
        }
    }

    /// Pings and expects the pong next.
    async fn ping_pong(&mut self, payload: &str) {
        self.ping(payload).await;
        match self.next(WAIT).await {
            Some(Event::Pong(p)) => assert_eq!(p, payload.as_bytes()),
            other => panic!("expected a pong, got {other:?}"),
        }
    }

    /// Sends basic_info and a zero ping; returns the first config once both it and the
    /// pong arrived (in either order).
    async fn first_config(&mut self, plugins: &[&str]) -> Value {
        self.basic_info(plugins).await;
        self.ping(ZEROS).await;
        let (mut config, mut pong) = (None, false);
        while config.is_none() || !pong {
            match self.next(WAIT).await {
                Some(Event::Config(c)) if config.is_none() => config = Some(c),
                Some(Event::Pong(p)) if !pong => {
                    assert_eq!(p, ZEROS.as_bytes());
                    pong = true;
                }
                other => panic!("expected one config and one pong, got {other:?}"),
            }
        }
        config.unwrap()
    }

    /// The close frame's code and reason (`None`: the stream ended without one) within
    /// `wait`, skipping pongs and configs.
    async fn closed(&mut self, wait: Duration) -> Option<(u16, String)> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Event::Closed(c)) => return c,
                Some(Event::Pong(_)) | Some(Event::Config(_)) => continue,
                other => panic!("expected the session to close, got {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Control-plane fixtures through the Admin API.
// ---------------------------------------------------------------------------------

const DP_PLUGINS: &[&str] = &["cors", "key-auth", "ping-auth", "rate-limiting"];

struct Fixture {
    cp: String,
    base: String,
    service: Value,
    route: Value,
    plugin: Value,
    creds: Creds,
    ca: String,
}

fn ca_of(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("data/tls/cluster-ca.crt")).expect("cluster CA")
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, json) = status_and_json(app.post_json(path, body).await).await;
    assert_eq!(status, 201, "POST {path}: {json}");
    json
}

async fn pin(app: &TestApp, cp: &str, cert_pem: &str) -> String {
    let body = created(
        app,
        &format!("/v2/control-planes/{cp}/dp-client-certificates"),
        &json!({"cert": cert_pem}),
    )
    .await;
    body["item"]["id"].as_str().unwrap().to_string()
}

/// A control plane with ping-auth's schema, one service, a route on it, ping-auth on
/// the service, and a pinned DP certificate.
async fn fixture(app: &TestApp) -> Fixture {
    let cp = app.create_control_plane(&json!({"name": "sync"})).await;
    let cp = cp["id"].as_str().unwrap().to_string();
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    created(
        app,
        &format!("/konnect-api/api/runtime_groups/{cp}/v1/plugin-schemas"),
        &json!({"lua_schema": source}),
    )
    .await;
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let service = created(
        app,
        &format!("{base}/services"),
        &json!({"name": "upstream", "host": "upstream.test"}),
    )
    .await;
    let route = created(
        app,
        &format!("{base}/routes"),
        &json!({"name": "r1", "paths": ["/r1"], "service": {"id": service["id"]}}),
    )
    .await;
    let plugin = created(
        app,
        &format!("{base}/plugins"),
        &json!({
            "name": "ping-auth",
            "service": {"id": service["id"]},
            "config": {
                "service_url": "https://ping.example.com",
                "shared_secret": "s3cret",
                "secret_header_name": "X-Ping-Secret",
            },
        }),
    )
    .await;
    let creds = self_signed("fake-dp");
    pin(app, &cp, &creds.cert_pem).await;
    Fixture {
        cp,
        base,
        service,
        route,
        plugin,
        creds,
        ca: ca_of(app.dir.path()),
    }
}

impl Fixture {
    async fn dp(&self, addr: SocketAddr, node_id: &str, version: &str) -> Dp {
        self.dp_as(addr, &self.creds, node_id, "fake-dp", version)
            .await
    }

    /// A data plane with other credentials or another hostname, upgraded.
    async fn dp_as(
        &self,
        addr: SocketAddr,
        creds: &Creds,
        node_id: &str,
        hostname: &str,
        version: &str,
    ) -> Dp {
        open(
            addr,
            &self.ca,
            Some(creds),
            &outlet(node_id, hostname, version),
            None,
        )
        .await
        .expect("upgrade")
    }
}

fn node_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn nodes(app: &TestApp, cp: &str) -> Value {
    let (status, body) =
        status_and_json(app.get(&format!("/v2/control-planes/{cp}/nodes")).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The node once `check` holds (polled for a few seconds).
async fn node_when(app: &TestApp, cp: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = status_and_json(
            app.get(&format!("/v2/control-planes/{cp}/nodes/{id}"))
                .await,
        )
        .await;
        if status == 200 && check(&body["item"]) {
            return body["item"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "node {id} never matched: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What the DP must receive for an API entity: foreign keys as plain id strings.
fn as_exported(entity: &Value) -> Value {
    let mut e = entity.clone();
    for key in ["service", "route", "consumer", "consumer_group"] {
        if let Some(id) = e.get(key).and_then(|v| v.get("id")).cloned() {
            e[key] = id;
        }
    }
    for key in ["consumer_group", "ordering", "partials"] {
        if e.get(key).is_some_and(Value::is_null) {
            e.as_object_mut().unwrap().remove(key);
        }
    }
    e
}

fn without_nulls(v: &Value) -> Value {
    let mut map = v.as_object().unwrap().clone();
    map.retain(|_, v| !v.is_null());
    Value::Object(map)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The reconfigure envelope per §2.1, and its hashes recomputed by the test's Kong hash.
fn check_reconfigure(message: &Value) {
    assert_eq!(
        keys(message),
        ["config_hash", "config_table", "hashes", "timestamp", "type"]
    );
    assert_eq!(message["type"], "reconfigure");
    let ts = message["timestamp"].as_f64().expect("numeric timestamp");
    assert!((ts - now() as f64).abs() < 60.0, "timestamp {ts}");
    let hash = message["config_hash"].as_str().unwrap();
    assert!(
        hash.len() == 32
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{hash}"
    );
    assert_eq!(
        keys(&message["hashes"]),
        [
            "config",
            "plugins",
            "routes",
            "services",
            "targets",
            "upstreams"
        ]
    );
    assert_eq!(message["hashes"]["config"], message["config_hash"]);
    assert_eq!(
        message["hashes"],
        kong_config_hashes(&message["config_table"])
    );
}

// ---------------------------------------------------------------------------------
// T1: handshake and first config.
// ---------------------------------------------------------------------------------

const SERVICE_FIELDS: &[&str] = &[
    "ca_certificates",
    "client_certificate",
    "connect_timeout",
    "created_at",
    "enabled",
    "host",
    "id",
    "name",
    "path",
    "port",
    "protocol",
    "read_timeout",
    "retries",
    "tags",
    "tls_verify",
    "tls_verify_depth",
    "updated_at",
    "write_timeout",
    "ws_id",
];
const ROUTE_FIELDS: &[&str] = &[
    "created_at",
    "destinations",
    "headers",
    "hosts",
    "https_redirect_status_code",
    "id",
    "methods",
    "name",
    "path_handling",
    "paths",
    "preserve_host",
    "protocols",
    "regex_priority",
    "request_buffering",
    "response_buffering",
    "service",
    "snis",
    "sources",
    "strip_path",
    "tags",
    "updated_at",
    "ws_id",
];
const PLUGIN_FIELDS: &[&str] = &[
    "config",
    "consumer",
    "created_at",
    "enabled",
    "id",
    "instance_name",
    "name",
    "protocols",
    "route",
    "service",
    "tags",
    "updated_at",
    "ws_id",
];

/// T1: TLS 1.3 + HTTP/1.1 upgrade, basic_info, first gzip reconfigure with the API's
/// entities and Kong's hashes, clean frames, pong, and the node + expected hash in the API.
async fn first_config_is_kongs_reconfigure_with_kongs_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0.2").await;
    assert_eq!(dp.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(dp.response.status(), 101);
    assert_eq!(
        dp.response.headers()["sec-websocket-accept"],
        dp.accept_expected.as_str()
    );
    assert!(
        dp.response
            .headers()
            .get("sec-websocket-extensions")
            .is_none()
    );
    assert!(
        dp.response
            .headers()
            .get("sec-websocket-protocol")
            .is_none()
    );

    dp.basic_info(DP_PLUGINS).await;
    dp.ping(ZEROS).await;
    let (mut config, mut pongs) = (None, 0);
    while let Some(event) = dp.next(Duration::from_millis(700)).await {
        match event {
            Event::Config(c) if config.is_none() => config = Some(c),
            Event::Pong(p) => {
                assert_eq!(p, ZEROS.as_bytes());
                pongs += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let message = config.expect("one reconfigure");
    assert_eq!(pongs, 1);
    let frames = dp.frames.clone();
    assert_eq!(frames.len(), 2, "{frames:?}");
    for frame in &frames {
        assert!(frame.fin && frame.rsv == 0 && !frame.masked, "{frame:?}");
        assert!([0x2, 0xa].contains(&frame.opcode), "{frame:?}");
        assert!(frame.payload.len() <= 16 << 20);
    }
    assert_eq!(frames.iter().filter(|f| f.opcode == 0x2).count(), 1);

    check_reconfigure(&message);
    let table = &message["config_table"];
    assert_eq!(
        keys(table),
        [
            "_format_version",
            "_transform",
            "parameters",
            "plugins",
            "routes",
            "services"
        ]
    );
    assert_eq!(table["_format_version"], "3.0");
    assert_eq!(table["_transform"], false);
    // Every schema field travels, unset ones as null (export.lua); the API omits nulls.
    assert_eq!(table["services"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["services"][0]),
        without_nulls(&as_exported(&f.service))
    );
    assert_eq!(table["routes"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["routes"][0]),
        without_nulls(&as_exported(&f.route))
    );
    assert_eq!(table["routes"][0]["service"], f.service["id"]);
    assert_eq!(table["plugins"].as_array().unwrap().len(), 1);
    assert_eq!(
        without_nulls(&table["plugins"][0]),
        without_nulls(&as_exported(&f.plugin))
    );
    let plugin = &table["plugins"][0];
    assert_eq!(plugin["id"], f.plugin["id"]);
    assert_eq!(plugin["service"], f.service["id"]);
    assert_eq!(plugin["enabled"], true);
    assert_eq!(plugin["config"]["shared_secret"], "s3cret");
    assert_eq!(plugin["config"], f.plugin["config"]);
    assert!(plugin["protocols"].is_array());
    for (entity, allowed) in [
        (&table["services"][0], SERVICE_FIELDS),
        (&table["routes"][0], ROUTE_FIELDS),
        (plugin, PLUGIN_FIELDS),
    ] {
        let expected: Vec<&str> = allowed.iter().copied().filter(|k| *k != "ws_id").collect();
        assert_eq!(keys(entity), expected, "{entity}");
    }
    let hash = message["config_hash"].as_str().unwrap().to_string();
    assert_eq!(
        message["hashes"]["routes"],
        kong_hash(Some(&table["routes"]))
    );
    assert_eq!(message["hashes"]["upstreams"], ZEROS);
    assert_eq!(message["hashes"]["targets"], ZEROS);

    dp.ping_pong(&hash).await;
    let node = node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    let last_ping = node["last_ping"].as_i64().unwrap();
    assert!((now() - last_ping).abs() <= 5, "{node}");
    assert_eq!(node["id"], n);
    assert_eq!(node["hostname"], "fake-dp");
    assert_eq!(node["version"], "3.10.0.2");
    assert_eq!(node["type"], "kong-proxy");
    assert_eq!(node["labels"], json!({"env": "test"}));
    assert_eq!(
        node["cert_details"],
        json!({"expiry_timestamp": unix(2035, 1, 1)})
    );
    assert_eq!(
        node["compatibility_status"],
        json!({"state": "COMPATIBILITY_STATE_FULLY_COMPATIBLE", "issues": []})
    );
    let list = nodes(&app, &f.cp).await;
    assert_eq!(list["page"]["total_count"], 1);
    assert_eq!(list["items"][0]["id"], n);
    assert_eq!(list["items"][0]["config_hash"], hash);
    let (status, expected) = status_and_json(
        app.get(&format!("/v2/control-planes/{}/expected-config-hash", f.cp))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(expected["expected_hash"], hash);
}

// ---------------------------------------------------------------------------------
// T2: push on change.
// ---------------------------------------------------------------------------------

fn changed_groups(before: &Value, after: &Value) -> Vec<String> {
    let mut changed: Vec<String> = keys(&before["hashes"])
        .into_iter()
        .filter(|k| before["hashes"][k] != after["hashes"][k])
        .collect();
    changed.sort();
    changed
}

/// T2: a new route reaches the DP within 500 ms changing only `routes` (and `config`);
/// a plugin patch changes only `plugins`; of a burst of ten writes the last frame carries
/// the last write; the node then shows the pinged hash.
async fn changes_are_pushed_and_only_changed_groups_rehash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let first = dp.first_config(DP_PLUGINS).await;

    created(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "r2", "paths": ["/r2"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let started = Instant::now();
    let second = dp.config(Duration::from_millis(500)).await;
    assert!(started.elapsed() <= Duration::from_millis(500));
    check_reconfigure(&second);
    assert_ne!(second["config_hash"], first["config_hash"]);
    assert_eq!(changed_groups(&first, &second), ["config", "routes"]);
    assert_eq!(
        second["config_table"]["routes"].as_array().unwrap().len(),
        2
    );

    let plugin_path = format!("{}/plugins/{}", f.base, f.plugin["id"].as_str().unwrap());
    let (status, _) = status_and_json(
        app.patch_json(
            &plugin_path,
            &json!({"config": {"secret_header_name": "X-Other"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let third = dp.config(Duration::from_millis(500)).await;
    check_reconfigure(&third);
    assert_eq!(changed_groups(&second, &third), ["config", "plugins"]);
    assert_eq!(
        third["config_table"]["plugins"][0]["config"]["secret_header_name"],
        "X-Other"
    );

    for i in 0..10 {
        let (status, _) = status_and_json(
            app.patch_json(
                &plugin_path,
                &json!({"config": {"secret_header_name": format!("X-Burst-{i}")}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
    }
    let mut last = None;
    let mut count = 0;
    while let Some(event) = dp.next(Duration::from_millis(700)).await {
        match event {
            Event::Config(c) => {
                check_reconfigure(&c);
                count += 1;
                last = Some(c);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let last = last.expect("at least one frame for the burst");
    assert!((1..=10).contains(&count), "{count} frames");
    assert_eq!(
        last["config_table"]["plugins"][0]["config"]["secret_header_name"],
        "X-Burst-9"
    );
    let hash = last["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    let (_, expected) = status_and_json(
        app.get(&format!("/v2/control-planes/{}/expected-config-hash", f.cp))
            .await,
    )
    .await;
    assert_eq!(expected["expected_hash"], hash);
}

/// T2: with three DPs connected, five changes build at most ten snapshots (fewer than
/// 3 x 5), and every DP gets every change.
async fn far_fewer_snapshots_than_data_planes_times_changes(backend: Backend) {
    snapshots_for_five_changes(backend, 5..=10).await;
}

/// T2 / §6 "export once per node per version": five changes with three DPs build one
/// snapshot each (a safety re-export may add one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_snapshot_per_change_on_sqlite() {
    snapshots_for_five_changes(Backend::Sqlite, 5..=6).await;
}

/// T2 / §6 "export once per node per version", on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_snapshot_per_change_on_postgres() {
    if harness::postgres::available() {
        snapshots_for_five_changes(Backend::Postgres, 5..=6).await;
    }
}

async fn snapshots_for_five_changes(backend: Backend, allowed: std::ops::RangeInclusive<u64>) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dps = Vec::new();
    for _ in 0..3 {
        let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
        dp.first_config(DP_PLUGINS).await;
        dps.push(dp);
    }
    let before = app.state().cluster.snapshots_built();
    let mut last_hash = Value::Null;
    for i in 0..5 {
        created(
            &app,
            &format!("{}/routes", f.base),
            &json!({"name": format!("extra-{i}"), "paths": [format!("/extra-{i}")]}),
        )
        .await;
        for dp in &mut dps {
            let c = dp.config(WAIT).await;
            assert_eq!(c["config_table"]["routes"].as_array().unwrap().len(), 2 + i);
            last_hash = c["config_hash"].clone();
        }
    }
    let built = app.state().cluster.snapshots_built() - before;
    assert!(allowed.contains(&built), "{built} snapshots for 5 changes");
    for dp in &mut dps {
        assert!(dp.next(Duration::from_millis(200)).await.is_none());
    }
    assert_eq!(last_hash.as_str().map(str::len), Some(32));
}

// ---------------------------------------------------------------------------------
// T3: restart.
// ---------------------------------------------------------------------------------

/// A second konnektd on `app`'s database and data dir (a restart, or another node).
async fn start_on(
    database_url: &str,
    dir: &tempfile::TempDir,
    token: &str,
) -> konnektd::service::Running {
    let secret = konnektd::domain::token::TokenSecret::parse(token).unwrap();
    let args = harness::serve_args(database_url, dir, &secret);
    konnektd::service::start(&args)
        .await
        .expect("konnektd starts")
}

/// T3: after a restart on the same database and data dir, the same node reconnecting and
/// pinging its hash first receives the very same config hash.
async fn the_hash_survives_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let before = dp.first_config(DP_PLUGINS).await;
    let hash = before["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    drop(dp);
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let (url, token) = (app.database_url.clone(), app.token.clone());
    app.shutdown().await;

    let restarted = start_on(&url, &dir, &token).await;
    let mut dp = open(
        restarted.cluster_addr,
        &f.ca,
        Some(&f.creds),
        &outlet(&n, "fake-dp", "3.10.0"),
        None,
    )
    .await
    .expect("upgrade after restart");
    dp.basic_info(DP_PLUGINS).await;
    dp.ping(&hash).await;
    let after = dp.config(WAIT).await;
    check_reconfigure(&after);
    assert_eq!(after["config_hash"], hash);
    assert_eq!(after["hashes"], before["hashes"]);
    drop(dp);
    restarted.shutdown().await;
}

// ---------------------------------------------------------------------------------
// T4: compatibility.
// ---------------------------------------------------------------------------------

/// T4: a DP without ping-auth gets pongs but no config, stays connected, and its node
/// shows `plugin_set_incompatible` naming ping-auth.
async fn a_data_plane_without_a_configured_plugin_gets_no_config_but_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(&["cors", "key-auth"]).await;
    dp.ping(ZEROS).await;
    match dp.next(WAIT).await {
        Some(Event::Pong(p)) => assert_eq!(p, ZEROS.as_bytes()),
        other => panic!("expected a pong first, got {other:?}"),
    }
    assert!(dp.next(Duration::from_secs(2)).await.is_none());
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["compatibility_status"]["state"] == "COMPATIBILITY_STATE_INCOMPATIBLE"
    })
    .await;
    assert_eq!(
        node["compatibility_status"]["issues"],
        json!([{
            "code": "plugin_set_incompatible",
            "severity": "error",
            "description": "plugin 'ping-auth' is configured but not installed on the data plane",
            "resolution": "Install the plugin on the data plane and add it to KONG_PLUGINS, or remove it from the configuration.",
        }])
    );
    assert_eq!(node["config_hash"], ZEROS);
    dp.ping_pong(ZEROS).await;
}

/// T4: `node_version=4.0.0` gets a close frame (1008) after basic_info and its node row is
/// marked `kong_version_incompatible`.
async fn a_data_plane_of_another_major_version_is_closed_and_marked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "4.0.0").await;
    dp.basic_info(DP_PLUGINS).await;
    dp.ping(ZEROS).await;
    let close = dp.closed(WAIT).await.expect("a close frame");
    assert_eq!(close, (1008, "kong_version_incompatible".to_string()));
    assert!(
        dp.frames.iter().all(|f| f.opcode != 0x2),
        "no config was sent"
    );
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["version"], "4.0.0");
    assert_eq!(
        node["compatibility_status"]["state"],
        "COMPATIBILITY_STATE_INCOMPATIBLE"
    );
    assert_eq!(
        node["compatibility_status"]["issues"][0]["code"],
        "kong_version_incompatible"
    );
    assert_eq!(
        node["compatibility_status"]["issues"][0]["description"],
        "data plane major version 4 differs from control plane major version 3"
    );
    assert_eq!(
        node["compatibility_status"]["issues"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// T4: an older DP gets the fields of Kong's removed-fields table stripped but the same
/// `config_hash` and `hashes` as a 3.10 DP. konnektd can only configure custom plugins,
/// so the 3.4.0 case checks that nothing applicable is touched, and a 3.2.0 DP shows a
/// real removal (`updated_at`, below 3.3).
async fn an_older_data_plane_loses_removed_fields_but_keeps_the_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut current = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let reference = current.first_config(DP_PLUGINS).await;
    assert_eq!(
        reference["config_table"]["plugins"][0]["updated_at"],
        f.plugin["updated_at"]
    );

    let mut old = f.dp(app.cluster_addr(), &node_id(), "3.4.0").await;
    let for_3_4 = old.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_4["config_hash"], reference["config_hash"]);
    assert_eq!(for_3_4["config_table"], reference["config_table"]);

    let mut older = f.dp(app.cluster_addr(), &node_id(), "3.2.0").await;
    let for_3_2 = older.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_2["config_hash"], reference["config_hash"]);
    assert_eq!(for_3_2["hashes"], reference["hashes"]);
    for group in ["services", "routes", "plugins"] {
        let entity = &for_3_2["config_table"][group][0];
        assert!(entity.get("updated_at").is_none(), "{group}: {entity}");
        let mut expected = reference["config_table"][group][0].clone();
        expected.as_object_mut().unwrap().remove("updated_at");
        assert_eq!(entity, &expected);
    }
    // instance_name goes only below 3.2.
    assert!(
        for_3_2["config_table"]["plugins"][0]
            .get("instance_name")
            .is_some()
    );
}

// ---------------------------------------------------------------------------------
// T5: authentication.
// ---------------------------------------------------------------------------------

/// T5: without a client certificate there is no HTTP response at all, and no node.
async fn a_data_plane_without_a_client_certificate_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let result = open(
        app.cluster_addr(),
        &f.ca,
        None,
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await;
    match result {
        Ok(_) => panic!("upgraded without a client certificate"),
        Err(WsError::Http(response)) => panic!("got HTTP {}", response.status()),
        Err(_) => {}
    }
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

/// T5: a certificate nobody pinned gets 401 before the upgrade, and no node row.
async fn an_unpinned_certificate_gets_401_and_no_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let stranger = self_signed("stranger");
    let result = open(
        app.cluster_addr(),
        &f.ca,
        Some(&stranger),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await;
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("expected 401, got {e}"),
        Ok(_) => panic!("expected 401, got an upgrade"),
    }
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

async fn expect_401(addr: SocketAddr, ca: &str, creds: &Creds) {
    match open(
        addr,
        ca,
        Some(creds),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("expected 401, got {e}"),
        Ok(_) => panic!("expected 401, got an upgrade"),
    }
}

/// T5: deleting the pinned certificate (204) makes the next connection with it fail (401).
async fn an_unpinned_certificate_can_no_longer_connect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let extra = self_signed("rotating");
    let id = pin(&app, &f.cp, &extra.cert_pem).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&extra),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await
    .expect("pinned certificate connects");
    dp.first_config(DP_PLUGINS).await;
    drop(dp);
    let response = app
        .delete(&format!(
            "/v2/control-planes/{}/dp-client-certificates/{id}",
            f.cp
        ))
        .await;
    assert_eq!(response.status(), 204);
    expect_401(app.cluster_addr(), &f.ca, &extra).await;
    // The other pinned certificate is unaffected.
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
}

/// A reconnect storm (a control-plane restart): more data planes than the handshakes
/// the hub lets query the store at once connect together; every one gets its config and
/// its node row.
async fn data_planes_connecting_at_once_all_get_their_config(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let ids: Vec<String> = (0..24).map(|_| node_id()).collect();
    let connects = ids.iter().map(|n| {
        let (addr, f) = (app.cluster_addr(), &f);
        async move {
            let mut dp = f.dp(addr, n, "3.10.0").await;
            dp.first_config(DP_PLUGINS).await;
            dp
        }
    });
    let sessions = futures_util::future::join_all(connects).await;
    assert_eq!(sessions.len(), 24);
    for n in &ids {
        node_when(&app, &f.cp, n, |node| node["hostname"].is_string()).await;
    }
}

/// security.md §4.1: a session ends when its certificate's `notAfter` passes, with 1008
/// and the reason, without waiting for the next re-check.
async fn a_session_closes_when_its_certificate_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    // Long enough for pinning, TLS and the first config on a loaded machine.
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(8);
    let short = self_signed_until("short-lived", expires);
    pin(&app, &f.cp, &short.cert_pem).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&short),
        &outlet(&node_id(), "short-lived", "3.10.0"),
        None,
    )
    .await
    .expect("a certificate valid for 8 s more connects");
    dp.first_config(DP_PLUGINS).await;
    let close = dp
        .closed(Duration::from_secs(14))
        .await
        .expect("a close frame once it expires");
    assert_eq!(close, (1008, "the certificate has expired".to_string()));
    assert!(time::OffsetDateTime::now_utc() >= expires - time::Duration::seconds(1));
}

/// Kong's `CLUSTERING_TIMEOUT`: a data plane that upgrades but sends no `basic_info` is
/// closed after 5 s with 1008, and leaves no node row.
#[tokio::test]
async fn a_data_plane_silent_after_the_upgrade_is_closed_after_5_s() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f
        .dp_as(app.cluster_addr(), &f.creds, &n, "silent", "3.10.0")
        .await;
    let started = Instant::now();
    let close = dp
        .closed(Duration::from_secs(8))
        .await
        .expect("a close frame");
    assert_eq!(
        close,
        (
            1008,
            "the first message must be a binary basic_info".to_string()
        )
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4500),
        "closed after {waited:?}"
    );
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

/// Two data planes with different pinned certificates claim one node id, both past the
/// handshake (which saw no row yet) before either says `basic_info`: the first to be
/// recorded keeps the id, the other is closed with 1008, and the row keeps its hostname.
async fn of_two_certificates_racing_for_one_node_id_the_first_keeps_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let other = self_signed("other-dp");
    pin(&app, &f.cp, &other.cert_pem).await;
    let n = node_id();
    let mut first = f
        .dp_as(app.cluster_addr(), &other, &n, "first", "3.10.0")
        .await;
    let mut second = f
        .dp_as(app.cluster_addr(), &f.creds, &n, "second", "3.10.0")
        .await;
    first.basic_info(DP_PLUGINS).await;
    node_when(&app, &f.cp, &n, |node| node["hostname"] == "first").await;
    second.basic_info(DP_PLUGINS).await;
    let close = second.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (
            1008,
            "this node_id is registered with another certificate".to_string()
        )
    );
    first.config(WAIT).await;
    first.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["hostname"], "first");
}

/// The store-turn limit: with all 4 turns held longer than a handshake waits for one
/// (2 s), a data plane is refused 503 "the control plane is busy" on both outlets; once
/// a turn is free it connects.
async fn a_handshake_that_gets_no_store_turn_in_2_s_is_refused_with_503(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let hub = app.state().cluster.clone();
    let mut turns = Vec::new();
    for _ in 0..4 {
        turns.push(hub.store_turn().await.expect("a free turn"));
    }
    for path in [
        outlet(&node_id(), "busy", "3.10.0"),
        "/v2/outlet".to_string(),
    ] {
        let started = Instant::now();
        match open(app.cluster_addr(), &f.ca, Some(&f.creds), &path, None).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), 503, "{path}");
                let body = response.body().as_deref().unwrap_or_default();
                assert_eq!(String::from_utf8_lossy(body), "the control plane is busy");
            }
            Err(e) => panic!("{path}: expected 503, got {e}"),
            Ok(_) => panic!("{path}: expected 503, got an upgrade"),
        }
        assert!(started.elapsed() >= Duration::from_millis(1900), "{path}");
    }
    turns.pop();
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
}

/// What a server stopping on a signal does first (`close_sessions`, before its cluster
/// task ends): sessions get 1001, and the cluster listener takes no more data planes, so
/// they reconnect elsewhere rather than to the stopping node.
async fn closing_the_sessions_also_stops_taking_data_planes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    app.state().cluster.close_sessions(WAIT).await;
    let close = dp.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (1001, "the control plane is shutting down".to_string())
    );
    let again = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        &outlet(&node_id(), "late", "3.10.0"),
        None,
    )
    .await;
    assert!(
        again.is_err(),
        "a data plane got a session from a stopping server"
    );
}

/// A server that stops closes each data-plane session with 1001 "going away" (RFC 6455
/// §7.4.1) before it exits, so the data plane reconnects, to another node if there is
/// one, at once rather than when its next ping goes unanswered.
async fn a_stopping_server_closes_its_sessions_with_going_away(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dps = Vec::new();
    for version in ["3.10.0", "3.9.1"] {
        let mut dp = f.dp(app.cluster_addr(), &node_id(), version).await;
        dp.first_config(DP_PLUGINS).await;
        dps.push(dp);
    }
    let started = Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for mut dp in dps {
        let close = dp.closed(WAIT).await.expect("a close frame");
        assert_eq!(
            close,
            (1001, "the control plane is shutting down".to_string())
        );
    }
}

/// On shutdown, data planes get their 1001 at once, not after in-flight requests have
/// drained; draining and closing share the one grace period.
async fn data_planes_are_told_to_go_at_once_while_requests_drain(backend: Backend) {
    let grace = Duration::from_secs(3);
    let app = TestApp::spawn_with(backend, |args| args.shutdown_grace = grace).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    // A request that never finishes holds the HTTP drain for the whole grace period.
    // `100 Continue` comes once the handler reads the body: the request is in flight.
    let mut stalled = TcpStream::connect(app.addr()).await.unwrap();
    let head = format!(
        "POST /v2/control-planes HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n",
        app.token
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(WAIT, stalled.read_exact(&mut interim))
        .await
        .expect("an interim response")
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stalled.write_all(b"{").await.unwrap();
    let started = Instant::now();
    let stopping = tokio::spawn(app.shutdown());
    let close = dp.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (1001, "the control plane is shutting down".to_string())
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "told after {:?}",
        started.elapsed()
    );
    stopping.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= grace - Duration::from_millis(100) && took < grace + Duration::from_secs(1),
        "stopped after {took:?}"
    );
    drop(stalled);
}

/// security.md §4.1: unpinning a certificate closes every live session using it within a
/// bounded time (here: 10 s), though they outnumber the re-checks the hub runs at once.
async fn unpinning_closes_a_live_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let extra = self_signed("rotating");
    let id = pin(&app, &f.cp, &extra.cert_pem).await;
    let mut sessions = Vec::new();
    for i in 0..6 {
        let mut dp = open(
            app.cluster_addr(),
            &f.ca,
            Some(&extra),
            &outlet(&node_id(), &format!("fake-dp-{i}"), "3.10.0"),
            None,
        )
        .await
        .unwrap();
        dp.first_config(DP_PLUGINS).await;
        sessions.push(dp);
    }
    let response = app
        .delete(&format!(
            "/v2/control-planes/{}/dp-client-certificates/{id}",
            f.cp
        ))
        .await;
    assert_eq!(response.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    for mut dp in sessions {
        loop {
            dp.ping(ZEROS).await;
            match dp.next(Duration::from_millis(500)).await {
                Some(Event::Closed(_)) => break,
                Some(Event::Pong(_)) | None => {}
                other => panic!("unexpected {other:?}"),
            }
            assert!(Instant::now() < deadline, "session still open after 10 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The generate endpoint's key and certificate connect, trusting its `ca_cert` (the
/// cluster CA), by host name and by 127.0.0.1.
async fn a_generated_certificate_connects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let generated = created(
        &app,
        &format!(
            "/v2/control-planes/{}/dp-client-certificates/generate",
            f.cp
        ),
        &json!({}),
    )
    .await;
    assert_eq!(keys(&generated), ["ca_cert", "docker_run", "item", "key"]);
    assert_eq!(generated["ca_cert"], f.ca);
    let creds = Creds {
        cert_pem: generated["item"]["cert"].as_str().unwrap().into(),
        key_pem: generated["key"].as_str().unwrap().into(),
    };
    let docker_run = generated["docker_run"].as_str().unwrap();
    assert!(docker_run.contains(&format!(
        "-e \"KONG_CLUSTER_CERT={}\"",
        creds.cert_pem.trim_end()
    )));
    assert!(docker_run.contains(&format!(
        "-e \"KONG_CLUSTER_CERT_KEY={}\"",
        creds.key_pem.trim_end()
    )));
    let ca = generated["ca_cert"].as_str().unwrap();
    let n = node_id();
    let mut dp = open(
        app.cluster_addr(),
        ca,
        Some(&creds),
        &outlet(&n, "generated", "3.10.0"),
        None,
    )
    .await
    .expect("generated certificate connects");
    let config = dp.first_config(DP_PLUGINS).await;
    check_reconfigure(&config);
    assert_eq!(config["config_table"]["plugins"][0]["id"], f.plugin["id"]);
    // The server certificate also covers 127.0.0.1.
    tls_to(app.cluster_addr(), ca, Some(&creds), "127.0.0.1", &[])
        .await
        .expect("TLS by IP");
}

/// A Kong `gen_cert`-style certificate (X.509 v1, P-384, CN kong_clustering), pinned,
/// connects and receives config: konnektd does not make webpki parse it.
async fn a_kong_gen_cert_style_x509_v1_certificate_connects_when_pinned(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let v1 = kong_gen_cert_v1();
    expect_401(app.cluster_addr(), &f.ca, &v1).await;
    pin(&app, &f.cp, &v1.cert_pem).await;
    let n = node_id();
    let mut dp = f
        .dp_as(app.cluster_addr(), &v1, &n, "kong-v1", "3.10.0")
        .await;
    let config = dp.first_config(DP_PLUGINS).await;
    check_reconfigure(&config);
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(
        node["cert_details"],
        json!({"expiry_timestamp": unix(2035, 1, 1)})
    );
}

/// A `pki_client_certs` control plane accepts any certificate issued by its uploaded CA;
/// a certificate of another CA, or the same CA uploaded to a pinned control plane, is 401.
async fn pki_control_planes_trust_certificates_issued_by_an_uploaded_ca(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ca = ca_of(app.dir.path());
    let pki = app
        .create_control_plane(&json!({"name": "pki", "auth_type": "pki_client_certs"}))
        .await;
    let pki = pki["id"].as_str().unwrap();
    let (dp_ca_pem, dp_ca) = test_ca("dp ca");
    pin(&app, pki, &dp_ca_pem).await;
    let leaf = issued_by(&dp_ca, "leaf-1");
    let n = node_id();
    let mut dp = open(
        app.cluster_addr(),
        &ca,
        Some(&leaf),
        &outlet(&n, "pki-dp", "3.10.0"),
        None,
    )
    .await
    .expect("issued certificate connects");
    let config = dp.first_config(&[]).await;
    check_reconfigure(&config);
    assert_eq!(config["config_table"]["parameters"][0]["value"], json!(pki));
    node_when(&app, pki, &n, |node| node["hostname"] == "pki-dp").await;

    let (_, other_ca) = test_ca("other ca");
    expect_401(app.cluster_addr(), &ca, &issued_by(&other_ca, "leaf-2")).await;

    let pinned = app
        .create_control_plane(&json!({"name": "pinned", "auth_type": "pinned_client_certs"}))
        .await;
    let pinned = pinned["id"].as_str().unwrap();
    let (third_pem, third) = test_ca("third ca");
    pin(&app, pinned, &third_pem).await;
    expect_401(app.cluster_addr(), &ca, &issued_by(&third, "leaf-3")).await;
}

/// §1.2: missing `node_version` or a non-UUID `node_id` gets 400 before the upgrade.
async fn bad_handshake_queries_get_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    for path in [
        format!("/v1/outlet?node_id={}&node_hostname=x", node_id()),
        "/v1/outlet?node_hostname=x&node_version=3.10.0".to_string(),
        "/v1/outlet?node_id=nope&node_hostname=x&node_version=3.10.0".to_string(),
    ] {
        match open(app.cluster_addr(), &f.ca, Some(&f.creds), &path, None).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 400, "{path}"),
            Err(e) => panic!("{path}: {e}"),
            Ok(_) => panic!("{path}: upgraded"),
        }
    }
    // A missing hostname is tolerated.
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        &format!("/v1/outlet?node_id={}&node_version=3.10.0", node_id()),
        None,
    )
    .await
    .expect("upgrade without hostname");
    dp.first_config(DP_PLUGINS).await;
}

/// security.md §4.2 identity spoofing: another certificate reusing a node id is refused.
async fn a_node_id_is_bound_to_its_certificate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    let other = self_signed("other");
    pin(&app, &f.cp, &other.cert_pem).await;
    match open(
        app.cluster_addr(),
        &f.ca,
        Some(&other),
        &outlet(&n, "impostor", "3.10.0"),
        None,
    )
    .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 409),
        Err(e) => panic!("expected 409, got {e}"),
        Ok(_) => panic!("expected 409, got an upgrade"),
    }
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["hostname"], "fake-dp");
}

// ---------------------------------------------------------------------------------
// T6: error reports and liveness.
// ---------------------------------------------------------------------------------

/// T6: a Konnect-mode error report is stored as the node's `last_error` and the session
/// keeps ponging.
async fn error_reports_are_stored_and_the_session_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0.2").await;
    let config = dp.first_config(DP_PLUGINS).await;
    let error = json!({
        "name": "declarative configuration parse failure",
        "config_hash": config["config_hash"],
        "message": "x",
        "source": "test",
        "flattened_errors": [],
    });
    dp.send_binary(&json!({"type": "error", "error": error}))
        .await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| node.get("last_error").is_some()).await;
    assert_eq!(node["last_error"]["error"], error);
    let reported = node["last_error"]["reported_at"].as_i64().unwrap();
    assert!((now() - reported).abs() <= 5);
    dp.ping_pong(ZEROS).await;

    // A report over 64 KiB (a big config's flattened errors) is kept as its summary.
    let flattened: Vec<Value> = (0..2_000)
        .map(|i| json!({"entity_name": format!("route-{i}"), "errors": [{"message": "bad path"}]}))
        .collect();
    let huge = json!({
        "name": "declarative configuration parse failure",
        "config_hash": config["config_hash"],
        "message": "y".repeat(10_000),
        "flattened_errors": flattened,
    });
    dp.send_binary(&json!({"type": "error", "error": huge}))
        .await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["last_error"]["error"]["truncated"] == true
    })
    .await;
    assert_eq!(
        node["last_error"]["error"],
        json!({
            "name": "declarative configuration parse failure",
            "config_hash": config["config_hash"],
            "message": "y".repeat(4096),
            "truncated": true,
        })
    );
    dp.ping_pong(ZEROS).await;
}

/// T6 / security.md §4.2: a text frame closes with 1003; a binary `{"type":"bogus"}`
/// closes with 1008.
async fn text_frames_and_unknown_types_close_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    dp.write(0x1, b"hello").await;
    let close = dp.closed(WAIT).await.expect("close frame");
    assert_eq!(close.0, 1003);

    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    dp.send_binary(&json!({"type": "bogus"})).await;
    let close = dp.closed(WAIT).await.expect("close frame");
    assert_eq!(close.0, 1008);
}

/// T6: a 40-byte ping neither crashes the session nor lands in the node row.
async fn an_invalid_ping_is_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    let hash = config["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    dp.ping("0123456789012345678901234567890123456789").await;
    match dp.next(WAIT).await {
        // Ignoring (the pong comes back) or closing are both allowed.
        Some(Event::Pong(_)) => {
            dp.ping_pong(&hash).await;
        }
        Some(Event::Closed(_)) => {}
        other => panic!("unexpected {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["config_hash"], hash);
}

/// T6: with `cluster_ping_wait` = 1 s a DP that pings every 300 ms stays connected, and
/// one that goes silent is closed (1001) about 1 s later.
async fn a_silent_data_plane_is_closed_after_the_ping_wait(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_ping_wait = Duration::from_secs(1);
    })
    .await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dp.ping_pong(ZEROS).await;
    }
    let silent_since = Instant::now();
    let close = dp
        .closed(Duration::from_secs(3))
        .await
        .expect("close frame");
    let elapsed = silent_since.elapsed();
    assert_eq!(close.0, 1001);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed <= Duration::from_millis(2000),
        "{elapsed:?}"
    );
}

/// security.md F6, and Kong's socket timeout (`CLUSTERING_TIMEOUT`): a data plane that
/// stops reading, its TCP window full, is dropped once a config send has waited the write
/// timeout (1 s here); a data plane that reads gets the same config and the next one.
async fn a_data_plane_that_stops_reading_is_dropped_after_the_write_timeout(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_write_timeout = Duration::from_secs(1);
    })
    .await;
    let f = fixture(&app).await;
    // A small receive window: a config of hundreds of KB cannot be taken unread.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(app.cluster_addr()).await.unwrap();
    let tls = tls_over(tcp, &f.ca, Some(&f.creds), "localhost", &[b"http/1.1"])
        .await
        .unwrap();
    let path = outlet(&node_id(), "stuck-dp", "3.10.0");
    let mut stuck = upgrade(tls, app.cluster_addr(), &path, None)
        .await
        .expect("upgrade");
    stuck.first_config(DP_PLUGINS).await;
    let mut reading = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    reading.first_config(DP_PLUGINS).await;
    let consumers = format!("{}/consumers", f.base);
    let usernames = |config: &Value| -> Vec<String> {
        config["config_table"]["consumers"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["username"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Configs of 0.5 to 2 MB, compressed (random text): more than the kernel buffers on
    // both sides of the stuck connection hold (loopback grows the sender's up to 4 MB).
    for _ in 0..4 {
        let noise: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
            .take(700_000)
            .map(char::from)
            .collect();
        created(&app, &consumers, &json!({"username": noise})).await;
        assert!(usernames(&reading.config(WAIT).await).contains(&noise));
    }
    // The stuck data plane reads again well after the timeout: what was buffered, then
    // the end of the stream. Had its session waited on, the send would now complete and
    // the session go on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        stuck.closed(WAIT).await,
        None,
        "dropped, with no close frame"
    );
    created(&app, &consumers, &json!({"username": "after"})).await;
    assert!(usernames(&reading.config(WAIT).await).contains(&"after".to_string()));
}

// ---------------------------------------------------------------------------------
// T7: neighbours.
// ---------------------------------------------------------------------------------

/// T7: `HEAD /v1/wrpc` over mTLS is exactly 404, so 3.0 DPs fall back to `/v1/outlet`.
async fn head_v1_wrpc_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut tls = tls_to(app.cluster_addr(), &f.ca, Some(&f.creds), "localhost", &[])
        .await
        .unwrap();
    tls.write_all(
        format!(
            "HEAD /v1/wrpc HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            app.cluster_addr().port()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 1024];
    let read = tokio::time::timeout(WAIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..read]);
    assert!(text.starts_with("HTTP/1.1 404 "), "{text}");
}

/// T7: `/v2/outlet` with `kong.meta.v1` upgrades echoing it; the hello reply is plain
/// JSON, id 1, `x-snappy-framed`, and offers no `kong.sync.v2`. A frame over the inbound
/// limit closes it with 1009.
async fn the_v2_outlet_hello_offers_no_incremental_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        "/v2/outlet",
        Some("kong.meta.v1"),
    )
    .await
    .expect("v2 upgrade");
    assert_eq!(dp.response.status(), 101);
    assert_eq!(
        dp.response.headers()["sec-websocket-protocol"],
        "kong.meta.v1"
    );
    dp.send_binary(&json!({
        "jsonrpc": "2.0",
        "method": "kong.meta.v1.hello",
        "id": 1,
        "params": [{
            "rpc_capabilities": ["kong.sync.v2", "kong.debug.log_level.v1"],
            "rpc_frame_encodings": ["x-snappy-framed"],
            "kong_version": "3.10.0",
            "kong_hostname": "fake-dp",
            "kong_node_id": node_id(),
            "kong_conf": {},
        }],
    }))
    .await;
    let reply = match dp.next(WAIT).await {
        Some(Event::Binary(bytes)) => bytes,
        other => panic!("expected a binary hello reply, got {other:?}"),
    };
    assert_eq!(reply[0], b'{', "uncompressed JSON");
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "rpc_capabilities": [],
            "rpc_frame_encoding": "x-snappy-framed",
        }})
    );
    // The RPC endpoint has the inbound limit of the v1 one, and says so the same way.
    dp.stream.write_all(&oversized_frame_start()).await.unwrap();
    match dp.next(WAIT).await {
        Some(Event::Closed(Some((code, reason)))) => {
            assert_eq!((code, reason.as_str()), (1009, "message too big"));
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// T8: two konnektd nodes on one PostgreSQL.
// ---------------------------------------------------------------------------------

/// T8: DP on node B, write on node A: the new config reaches the DP within 1 s, and node
/// A's API lists the DP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_share_changes_and_nodes() {
    if !harness::postgres::available() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let f = fixture(&app).await;
    let b = start_on(&app.database_url, &app.dir, &app.token).await;
    let n = node_id();
    let mut dp = open(
        b.cluster_addr,
        &f.ca,
        Some(&f.creds),
        &outlet(&n, "on-b", "3.10.0"),
        None,
    )
    .await
    .expect("upgrade on node B");
    dp.first_config(DP_PLUGINS).await;
    // A first write may race node B's LISTEN connection at start-up (the 5 s safety
    // poll then delivers it); the 1 s promise is measured on the next one.
    created(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "warm-up", "paths": ["/w"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let first = dp.config(Duration::from_secs(7)).await;
    let started = Instant::now();
    created(
        &app,
        &format!("{}/routes", f.base),
        &json!({"name": "from-a", "paths": ["/a"], "service": {"id": f.service["id"]}}),
    )
    .await;
    let second = dp.config(Duration::from_secs(1)).await;
    assert!(started.elapsed() <= Duration::from_secs(1));
    check_reconfigure(&second);
    assert_eq!(changed_groups(&first, &second), ["config", "routes"]);
    let hash = second["config_hash"].as_str().unwrap().to_string();
    dp.ping_pong(&hash).await;
    let node = node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
    assert_eq!(node["hostname"], "on-b");
    let (_, expected) = status_and_json(
        app.request(
            Method::GET,
            &format!("/v2/control-planes/{}/expected-config-hash", f.cp),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(expected["expected_hash"], hash);
    drop(dp);
    b.shutdown().await;
}

/// security.md §4.2: a config larger than `--cluster-max-payload` is never sent (the data
/// plane would drop the connection); the data plane stays connected and its node says why.
async fn a_config_over_the_payload_limit_is_not_sent_and_the_node_says_why(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.cluster_max_payload = 4096).await;
    let f = fixture(&app).await;
    // Random text does not compress: this consumer alone outgrows the limit.
    let noise: String = (0..10_000)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    created(
        &app,
        &format!("{}/consumers", f.base),
        &json!({"username": "big", "custom_id": noise}),
    )
    .await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(DP_PLUGINS).await;
    dp.ping(ZEROS).await;
    match dp.next(WAIT).await {
        Some(Event::Pong(p)) => assert_eq!(p, ZEROS.as_bytes()),
        None => panic!("no pong"),
        Some(_) => panic!("expected only a pong, got another frame"),
    }
    assert!(
        dp.next(Duration::from_secs(1)).await.is_none(),
        "no config frame"
    );
    let node = node_when(&app, &f.cp, &n, |node| {
        node["compatibility_status"]["state"] == "COMPATIBILITY_STATE_INCOMPATIBLE"
    })
    .await;
    let issue = &node["compatibility_status"]["issues"][0];
    assert_eq!(issue["code"], "payload_too_large");
    assert!(
        issue["description"]
            .as_str()
            .unwrap()
            .ends_with("over the limit of 4096 bytes"),
        "{issue}"
    );
    dp.ping_pong(ZEROS).await;
}

/// security.md §4 ("Oversized frames"): data planes send small messages, so their limit
/// is its own (`--cluster-max-inbound`, 1 MiB). A frame of exactly the limit is read; one
/// announcing a byte more is refused from its header, before its payload arrives, with
/// close code 1009; others stay served.
async fn a_frame_over_the_inbound_limit_closes_the_session_with_1009_unread(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(DP_PLUGINS).await;
    assert!(matches!(dp.next(WAIT).await, Some(Event::Config(_))));
    // An error report of exactly 1 MiB is read, and kept as its summary.
    let mut report = json!({"type": "error", "error": {"name": "at the limit", "message": ""}});
    let padding = INBOUND_LIMIT - serde_json::to_vec(&report).unwrap().len();
    report["error"]["message"] = json!("y".repeat(padding));
    assert_eq!(serde_json::to_vec(&report).unwrap().len(), INBOUND_LIMIT);
    dp.send_binary(&report).await;
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["last_error"]["error"]["name"] == "at the limit"
    })
    .await;
    assert_eq!(node["last_error"]["error"]["truncated"], true);
    // A binary frame header claiming one byte more, then only 1 KiB of it.
    let header = oversized_frame_start();
    dp.stream.write_all(&header).await.unwrap();
    match dp.next(WAIT).await {
        Some(Event::Closed(Some((code, reason)))) => {
            assert_eq!((code, reason.as_str()), (1009, "message too big"));
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
    // The same limit holds for the first message, and the port serves the next one.
    let mut first = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    first.stream.write_all(&header).await.unwrap();
    match first.next(WAIT).await {
        Some(Event::Closed(Some((code, _)))) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    let mut next = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    next.basic_info(DP_PLUGINS).await;
    assert!(matches!(next.next(WAIT).await, Some(Event::Config(_))));
    next.ping_pong(ZEROS).await;
}

/// `--cluster-max-inbound`'s default.
const INBOUND_LIMIT: usize = 1 << 20;

/// The start of a masked binary frame announcing `INBOUND_LIMIT + 1` bytes: its header,
/// then 1 KiB of the payload.
fn oversized_frame_start() -> Vec<u8> {
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend((INBOUND_LIMIT as u64 + 1).to_be_bytes());
    frame.extend([0u8; 4]);
    frame.extend([0u8; 1024]);
    frame
}

/// security.md §4.1: a control plane cannot pin another's data-plane certificate (which
/// would lock both out); 409, and the first control plane's data planes still connect.
async fn a_certificate_pinned_by_one_control_plane_cannot_be_pinned_by_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let other = created(&app, "/v2/control-planes", &json!({"name": "other"})).await;
    let response = app
        .post_json(
            &format!(
                "/v2/control-planes/{}/dp-client-certificates",
                other["id"].as_str().unwrap()
            ),
            &json!({"cert": f.creds.cert_pem}),
        )
        .await;
    assert_eq!(response.status(), 409);
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    assert_eq!(config["type"], "reconfigure");
}

/// `--cluster-cert`, `--cluster-cert-key` and `--cluster-ca-cert`: konnektd serves the given
/// certificate and generates nothing; a data plane trusting the given CA syncs.
async fn certificate_files_given_by_flag_are_served_instead_of_generated_ones(backend: Backend) {
    let mut given = None;
    let app = TestApp::spawn_with(backend, |args| {
        let dir = args.store.data_dir.parent().unwrap().join("given");
        let files = konnektd::cluster::certificates::TlsFiles::in_data_dir(&dir);
        konnektd::cluster::certificates::ensure_generated(&files, &["localhost".to_string()])
            .unwrap();
        args.cluster_cert = Some(files.cert.clone());
        args.cluster_cert_key = Some(files.key.clone());
        args.cluster_ca_cert = Some(files.ca_cert.clone());
        given = Some(files);
    })
    .await;
    let given = given.unwrap();
    let generated = app.dir.path().join("data/tls");
    assert!(!generated.join("cluster.crt").exists(), "nothing generated");
    assert!(
        !generated.join("cluster-ca.crt").exists(),
        "nothing generated"
    );
    // The fixture trusts `<data dir>/tls/cluster-ca.crt`: make that the given CA.
    std::fs::create_dir_all(&generated).unwrap();
    std::fs::copy(&given.ca_cert, generated.join("cluster-ca.crt")).unwrap();
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    assert_eq!(config["type"], "reconfigure");
}
