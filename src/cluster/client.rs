//! `konnektd dataplane connect`: a small data plane for users and tests. It connects
//! with a certificate, sends `basic_info` with a plugin list, reports each config it
//! receives (hash, entity counts) and pings with that hash, as a Kong data plane does.
//! Like Kong's data plane (`kong/clustering/data_plane.lua` `communicate`: "retrying
//! after" `math.random(5, 10)` seconds) it reconnects when the connection drops, after a
//! random delay, and gives up only on a refusal that retrying cannot fix.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::hash::ZERO_HASH;

/// How to connect and what to claim.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `host:port` of the cluster listener.
    pub address: String,
    /// The TLS server name (Kong's `cluster_server_name`).
    pub server_name: String,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub ca_cert: std::path::PathBuf,
    pub node_id: uuid::Uuid,
    pub hostname: String,
    pub version: String,
    pub plugins: Vec<String>,
    pub ping_interval: Duration,
    /// Stop after this many configs (for scripts and tests); run forever when unset.
    pub exit_after: Option<usize>,
    /// A dropped connection is retried after a random delay between this and twice this
    /// (Kong's data plane: 5 to 10 s).
    pub reconnect_delay: Duration,
}

/// What the client reports as it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A `reconfigure` arrived and was applied.
    Config(&'a ReceivedConfig),
    /// Connected, no config arrived within [`NO_CONFIG_NOTICE`]: the control plane holds
    /// it back (a configured plugin this data plane did not announce, a config over the
    /// payload limit) and the v1 protocol gives the data plane no reason.
    NoConfig,
    /// The connection dropped or could not be made; retrying after the delay.
    Retrying { reason: String, delay: Duration },
}

/// How long a connected data plane waits for its first config before saying it has none.
pub const NO_CONFIG_NOTICE: Duration = Duration::from_secs(5);

/// How one connection ended.
enum Ended {
    /// `exit_after` configs arrived.
    Done,
    /// The connection dropped or could not be made: worth another try.
    Retry(anyhow::Error),
}

/// What one `reconfigure` held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedConfig {
    pub hash: String,
    /// `(entity type, count)` in name order.
    pub counts: Vec<(String, usize)>,
    /// The whole inflated message (`type`, `config_table`, `config_hash`, `hashes`).
    pub message: Value,
}

impl std::fmt::Display for ReceivedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config {}", self.hash)?;
        for (kind, count) in &self.counts {
            write!(f, " {kind}={count}")?;
        }
        Ok(())
    }
}

fn tls_config(options: &ConnectOptions) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read(&options.ca_cert)?) {
        roots.add(cert?)?;
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(&options.cert)?).collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(&read(&options.key)?)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Inflated configs larger than this are refused (the 16 MiB cap of the protocol; a
/// gzip bomb from a rogue server stops here).
const MAX_INFLATED: u64 = 16 << 20;

/// Inflates and reads a `reconfigure` frame.
pub fn read_reconfigure(payload: &[u8]) -> anyhow::Result<ReceivedConfig> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(payload)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut json)?;
    anyhow::ensure!(
        json.len() as u64 <= MAX_INFLATED,
        "the config inflates to more than {MAX_INFLATED} bytes"
    );
    let message: Value = serde_json::from_slice(&json)?;
    anyhow::ensure!(
        message["type"] == "reconfigure",
        "not a reconfigure message"
    );
    let hash = message["config_hash"]
        .as_str()
        .unwrap_or(ZERO_HASH)
        .to_string();
    let mut counts: Vec<(String, usize)> = message["config_table"]
        .as_object()
        .map(|table| {
            table
                .iter()
                .filter(|(k, _)| !k.starts_with('_') && *k != "parameters")
                .filter_map(|(k, v)| v.as_array().map(|a| (k.clone(), a.len())))
                .collect()
        })
        .unwrap_or_default();
    counts.sort();
    Ok(ReceivedConfig {
        hash,
        counts,
        message,
    })
}

/// Connects and stays connected, reconnecting after a drop, until `exit_after` configs
/// arrived (`Ok` with their number) or the control plane refuses this data plane in a way
/// retrying cannot fix (`Err`: refused at the upgrade with a 4xx, such as 401 for an
/// unpinned certificate, or closed with 1008, such as `kong_version_incompatible`).
/// Configs are reported through `on_event`, not kept: a data plane may run for days.
pub async fn connect(
    options: &ConnectOptions,
    mut on_event: impl FnMut(Event<'_>),
) -> anyhow::Result<usize> {
    super::tls::install_crypto_provider();
    let connector = TlsConnector::from(tls_config(options)?);
    let mut state = State {
        hash: ZERO_HASH.to_string(),
        received: 0,
    };
    loop {
        match connect_once(options, &connector, &mut state, &mut on_event).await? {
            Ended::Done => return Ok(state.received),
            Ended::Retry(reason) => {
                let delay = options
                    .reconnect_delay
                    .mul_f64(rand::random_range(1.0..=2.0));
                on_event(Event::Retrying {
                    reason: format!("{reason:#}"),
                    delay,
                });
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// What a data plane keeps across connections.
struct State {
    /// The hash of the config it applied last, which it pings with after reconnecting.
    hash: String,
    received: usize,
}

/// Refusals no retry can fix end the client (`Err`); anything else ends the connection.
async fn connect_once(
    options: &ConnectOptions,
    connector: &TlsConnector,
    state: &mut State,
    on_event: &mut impl FnMut(Event<'_>),
) -> anyhow::Result<Ended> {
    let mut socket = match open(options, connector).await {
        Ok(socket) => socket,
        Err(e) => return refused(e).map(Ended::Retry),
    };
    match session(options, &mut socket, state, on_event).await {
        Ok(ended) => Ok(ended),
        Err(e) => refused(e).map(Ended::Retry),
    }
}

/// `Err` for a refusal retrying cannot fix, else the error to retry after.
fn refused(error: anyhow::Error) -> anyhow::Result<anyhow::Error> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    if let Some(WsError::Http(response)) = error.downcast_ref::<WsError>() {
        let status = response.status();
        // 408, 429 and 503 (store turns, docs/clustering.md) pass; others do not.
        let transient = matches!(status.as_u16(), 408 | 429 | 503) || status.is_server_error();
        if !transient {
            anyhow::bail!("the control plane refused this data plane: HTTP {status}");
        }
    }
    if error.is::<PolicyClose>() {
        return Err(error);
    }
    Ok(error)
}

/// A close with 1008: the control plane refuses this data plane as it is (version,
/// certificate, node id); reconnecting would get the same answer.
#[derive(Debug)]
struct PolicyClose(String);

impl std::fmt::Display for PolicyClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the control plane closed the connection: {}", self.0)
    }
}

impl std::error::Error for PolicyClose {}

type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

async fn open(options: &ConnectOptions, connector: &TlsConnector) -> anyhow::Result<Socket> {
    let tcp = TcpStream::connect(&options.address).await?;
    let name = ServerName::try_from(options.server_name.clone())?;
    let tls = connector.connect(name, tcp).await?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("node_id", &options.node_id.to_string())
        .append_pair("node_hostname", &options.hostname)
        .append_pair("node_version", &options.version)
        .finish();
    let url = format!("wss://{}/v1/outlet?{query}", options.address);
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config)).await?;
    Ok(socket)
}

/// One connection: `basic_info`, then configs and pings until it ends.
async fn session(
    options: &ConnectOptions,
    socket: &mut Socket,
    state: &mut State,
    on_event: &mut impl FnMut(Event<'_>),
) -> anyhow::Result<Ended> {
    let plugins: Vec<Value> = options.plugins.iter().map(|p| json!({"name": p})).collect();
    let basic_info = json!({"type": "basic_info", "plugins": plugins, "labels": {}});
    socket
        .send(Message::Binary(serde_json::to_vec(&basic_info)?.into()))
        .await?;
    socket
        .send(Message::Ping(state.hash.clone().into_bytes().into()))
        .await?;
    let mut configs_here = 0;
    let no_config = tokio::time::sleep(NO_CONFIG_NOTICE);
    tokio::pin!(no_config);
    let mut noticed = false;
    let mut ticker = tokio::time::interval(options.ping_interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut no_config, if !noticed && configs_here == 0 => {
                noticed = true;
                on_event(Event::NoConfig);
            }
            _ = ticker.tick() => {
                socket.send(Message::Ping(state.hash.clone().into_bytes().into())).await?;
            }
            message = socket.next() => {
                let Some(message) = message else {
                    anyhow::bail!("the connection ended");
                };
                match message? {
                    Message::Binary(payload) => {
                        let config = read_reconfigure(&payload)?;
                        state.hash = config.hash.clone();
                        // A Kong data plane pings at once with the hash it applied.
                        socket.send(Message::Ping(state.hash.clone().into_bytes().into())).await?;
                        on_event(Event::Config(&config));
                        configs_here += 1;
                        state.received += 1;
                        if options.exit_after.is_some_and(|n| state.received >= n) {
                            let _ = socket.close(None).await;
                            return Ok(Ended::Done);
                        }
                    }
                    Message::Close(frame) => {
                        let Some(frame) = frame else {
                            anyhow::bail!("the control plane closed the connection");
                        };
                        let reason = frame.reason.to_string();
                        if u16::from(frame.code) == 1008 {
                            return Err(PolicyClose(reason).into());
                        }
                        anyhow::bail!("the control plane closed the connection: {reason}");
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_frame_inflating_past_16_mib_is_refused() {
        let message = serde_json::json!({
            "type": "reconfigure",
            "config_hash": "0123456789abcdef0123456789abcdef",
            "config_table": {"_format_version": "3.0"},
        });
        let ok = read_reconfigure(&gzip(message.to_string().as_bytes())).unwrap();
        assert_eq!(ok.hash, "0123456789abcdef0123456789abcdef");

        // 17 MiB of spaces gzip to about 17 KiB: a bomb the cap stops.
        let mut bomb = message.to_string().into_bytes();
        bomb.splice(1..1, std::iter::repeat_n(b' ', 17 << 20));
        let packed = gzip(&bomb);
        assert!(packed.len() < 64 << 10, "{} bytes", packed.len());
        let refused = read_reconfigure(&packed).unwrap_err().to_string();
        assert!(
            refused.contains("inflates to more than 16777216 bytes"),
            "{refused}"
        );
    }
}
