//! A fake Kong data plane, written from Kong's side of the protocol (docs/clustering.md),
//! with none of konnektd's cluster modules: rustls, tokio-tungstenite's client handshake,
//! then its own frame codec so every frame's FIN, RSV, mask and opcode can be checked.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::certificates::Creds;
use super::kong_hash::ZEROS;

/// How long the fake data plane waits for the server by default.
pub const WAIT: Duration = Duration::from_secs(3);

/// A WebSocket frame as received, its header bits kept for checking.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    pub masked: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
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

/// What the fake data plane makes of the next frame.
#[derive(Debug)]
pub enum Event {
    Config(Value),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame's code and reason, or `None` when the stream just ended.
    Closed(Option<(u16, String)>),
    /// Read through `Debug` in panic messages.
    #[allow(dead_code)]
    Other(RawFrame),
}

/// One fake data plane's session, past the WebSocket upgrade.
pub struct Dp {
    pub stream: TlsStream<TcpStream>,
    buf: Vec<u8>,
    /// Every frame received, in order.
    pub frames: Vec<RawFrame>,
    pub response: tokio_tungstenite::tungstenite::handshake::client::Response,
    pub accept_expected: String,
    pub alpn: Option<Vec<u8>>,
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

/// A TLS connection to `addr`, trusting `ca_pem`, with `creds` as the client certificate.
pub async fn tls_to(
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

/// [`tls_to`] over a TCP connection made already (a socket with options of its own).
pub async fn tls_over(
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
pub async fn open(
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
pub async fn upgrade(
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

/// The v1 handshake path with its query.
pub fn outlet(node_id: &str, hostname: &str, version: &str) -> String {
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
    pub async fn write(&mut self, opcode: u8, payload: &[u8]) {
        self.stream
            .write_all(&client_frame(opcode, payload))
            .await
            .unwrap();
    }

    pub async fn send_binary(&mut self, body: &Value) {
        self.write(0x2, &serde_json::to_vec(body).unwrap()).await;
    }

    pub async fn basic_info(&mut self, plugins: &[&str]) {
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

    pub async fn ping(&mut self, payload: &str) {
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
    pub async fn next(&mut self, wait: Duration) -> Option<Event> {
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
    pub async fn config(&mut self, wait: Duration) -> Value {
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
    pub async fn ping_pong(&mut self, payload: &str) {
        self.ping(payload).await;
        match self.next(WAIT).await {
            Some(Event::Pong(p)) => assert_eq!(p, payload.as_bytes()),
            other => panic!("expected a pong, got {other:?}"),
        }
    }

    /// Sends basic_info and a zero ping; returns the first config once both it and the
    /// pong arrived (in either order).
    pub async fn first_config(&mut self, plugins: &[&str]) -> Value {
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
    pub async fn closed(&mut self, wait: Duration) -> Option<(u16, String)> {
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

/// `--cluster-max-inbound`'s default.
pub const INBOUND_LIMIT: usize = 1 << 20;

/// The start of a masked binary frame announcing `INBOUND_LIMIT + 1` bytes: its header,
/// then 1 KiB of the payload.
pub fn oversized_frame_start() -> Vec<u8> {
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend((INBOUND_LIMIT as u64 + 1).to_be_bytes());
    frame.extend([0u8; 4]);
    frame.extend([0u8; 1024]);
    frame
}
