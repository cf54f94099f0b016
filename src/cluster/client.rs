//! `konnektd dataplane connect`: a small data plane for users and tests. It connects
//! with a certificate, sends `basic_info` with a plugin list, reports each config it
//! receives (hash, entity counts) and pings with that hash, as a Kong data plane does.

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
}

/// What one `reconfigure` held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedConfig {
    pub hash: String,
    /// `(entity type, count)` in name order.
    pub counts: Vec<(String, usize)>,
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
    Ok(ReceivedConfig { hash, counts })
}

/// Connects and runs until the connection ends or `exit_after` configs arrived,
/// calling `on_config` for each; returns how many arrived (none is kept: a data plane
/// may run for days).
pub async fn connect(
    options: &ConnectOptions,
    mut on_config: impl FnMut(&ReceivedConfig),
) -> anyhow::Result<usize> {
    super::tls::install_crypto_provider();
    let connector = TlsConnector::from(tls_config(options)?);
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
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(url, tls, Some(config)).await?;
    let plugins: Vec<Value> = options.plugins.iter().map(|p| json!({"name": p})).collect();
    let basic_info = json!({"type": "basic_info", "plugins": plugins, "labels": {}});
    socket
        .send(Message::Binary(serde_json::to_vec(&basic_info)?.into()))
        .await?;
    let mut hash = ZERO_HASH.to_string();
    socket
        .send(Message::Ping(hash.clone().into_bytes().into()))
        .await?;
    let mut received = 0;
    let mut ticker = tokio::time::interval(options.ping_interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                socket.send(Message::Ping(hash.clone().into_bytes().into())).await?;
            }
            message = socket.next() => {
                let Some(message) = message else { break };
                match message? {
                    Message::Binary(payload) => {
                        let config = read_reconfigure(&payload)?;
                        hash = config.hash.clone();
                        // A Kong data plane pings at once with the hash it applied.
                        socket.send(Message::Ping(hash.clone().into_bytes().into())).await?;
                        on_config(&config);
                        received += 1;
                        if options.exit_after.is_some_and(|n| received >= n) {
                            let _ = socket.close(None).await;
                            break;
                        }
                    }
                    Message::Close(frame) => {
                        if let Some(frame) = frame {
                            anyhow::bail!("the control plane closed the connection: {}", frame.reason);
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(received)
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
