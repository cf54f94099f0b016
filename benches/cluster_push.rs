//! Config push to data planes, end to end against the real server (a `konnektd serve`
//! child process) and N fake data planes in this process (one multi-threaded tokio
//! runtime, one mutual-TLS WebSocket each, all sharing one generated DP certificate,
//! each with its own node_id).
//!
//! Each data plane sends `basic_info` and a ping with 32 zeros, waits for its first
//! config, and afterwards behaves as Kong does: it pings with the new hash right after
//! each `reconfigure` (so the server records its status), and every 30 s.
//!
//! For N = 1, 100, 1000, 10000 (a fresh server on SQLite for each N):
//! 1. latency from a write's 2xx (PATCH of the service's `retries`, timed from the
//!    moment the HTTP response arrives) to each data plane receiving the `reconfigure`
//!    frame carrying that value (its config hash must differ from the previous one);
//!    p50/p99 over all data planes × rounds. Targets: p99 <= 100 ms at 1000 DPs,
//!    <= 250 ms at 10000.
//! 2. one payload per change, seen from the data planes: within a round every data
//!    plane gets byte-identical frames (SHA-256 of the frame bytes).
//! 3. RSS per idle connection: the server's VmRSS before connecting and after N idle,
//!    synced data planes, divided by N. Targets: <= 64 KiB at 1000, <= 32 KiB at 10000.
//! 4. Two nodes on one PostgreSQL (`KONNEKTD_BENCH_POSTGRES_URL`, else a throwaway
//!    cluster from /usr/lib/postgresql/*/bin): writes on node A, 100 DPs on node B.
//!    Target: p99 <= 250 ms.
//!
//! Baseline, measured in the same run on the same server: the round trip of a plain
//! `GET /status` (median of 200, keep-alive); the ratio latency / baseline is printed.
//! PASS/FAIL is printed, never asserted; the bench exits 0.
//!
//! The bench raises its own open-file limit to the hard limit (10,000 sockets here); the
//! server raises its own at start. The fake data planes are light enough for 10,000 on a
//! small machine: one task each, small WebSocket buffers, one shared rustls client
//! config, and each distinct frame decoded once (by digest) rather than once per data
//! plane. A data plane refused at connect (503: the server's store turns are busy) retries
//! after a second, as Kong's does after its reconnect delay; retries are counted.
//!
//! Run: `cargo bench --bench cluster_push` (`KONNEKTD_BENCH_PUSH_SIZES=1000,10000` picks
//! the single-node sizes; `KONNEKTD_BENCH_TWO_NODES=0` skips the two-node line).

use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const BUILT_BINARY: &str = env!("CARGO_BIN_EXE_konnektd");

/// The server binary: the one cargo built, or `KONNEKTD_BENCH_BINARY` (to compare a
/// patched build with the same bench).
fn binary() -> String {
    std::env::var("KONNEKTD_BENCH_BINARY").unwrap_or_else(|_| BUILT_BINARY.to_string())
}
const TOKEN: &str = "kpat_benchbenchbenchbenchbenchbenchbenchbenchbenchbenc";
const ZEROS: &str = "00000000000000000000000000000000";
const DP_VERSION: &str = "3.10.0.0";
const LATENCY_TARGET: Duration = Duration::from_millis(100);
const LATENCY_TARGET_10K: Duration = Duration::from_millis(250);
const RSS_TARGET_10K_KIB: f64 = 32.0;
const TWO_NODE_TARGET: Duration = Duration::from_millis(250);
const RSS_TARGET_KIB: f64 = 64.0;
const BASELINE_SAMPLES: usize = 200;
/// Data planes handshaking at once.
const CONNECT_CONCURRENCY: usize = 64;
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// Connection attempts per data plane before it counts as failed.
const CONNECT_ATTEMPTS: usize = 20;
const CONNECT_DEADLINE: Duration = Duration::from_secs(300);
/// A fake data plane's WebSocket read buffer (tungstenite's default is 128 KiB, which
/// would be 1.25 GiB at 10,000): frames larger than this still arrive, in more reads.
const DP_READ_BUFFER: usize = 4 * 1024;

type AnyResult<T> = anyhow::Result<T>;

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

struct Server {
    child: Child,
    pid: u32,
    base: String,
    cluster: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

/// utime + stime of a process (`self` or a pid), at 100 ticks per second.
fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn free_port() -> AnyResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    async fn start(database_url: Option<&str>) -> AnyResult<Server> {
        let dir = tempfile::Builder::new()
            .prefix("konnektd-bench-")
            .tempdir()?;
        let http_port = free_port()?;
        let cluster_port = free_port()?;
        // konnektd raises its own open-file limit (and inherits this process's, raised
        // in `main`, which an older binary given by KONNEKTD_BENCH_BINARY needs).
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--cluster-listen")
            .arg(format!("127.0.0.1:{cluster_port}"))
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--cluster-public-url")
            .arg(format!("https://localhost:{cluster_port}"))
            .env_remove("DATABASE_URL")
            .env_remove("KONNEKTD_LISTEN")
            .env_remove("KONNEKTD_CLUSTER_LISTEN")
            .env_remove("KONNEKTD_DATA_DIR")
            .env("KONNEKTD_BOOTSTRAP_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        let mut child = command.spawn()?;
        let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let base = format!("http://127.0.0.1:{http_port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let log = log.lock().unwrap().join("\n");
                anyhow::bail!("konnektd exited early ({status}):\n{log}");
            }
            if let Ok(r) = client.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("konnektd did not answer /status within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server {
            child,
            pid,
            base,
            cluster: SocketAddr::from(([127, 0, 0, 1], cluster_port)),
            log,
            _dir: dir,
        })
    }

    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(&self.pid.to_string())
    }

    fn warnings(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

// ---------------------------------------------------------------------------------
// The HTTP API
// ---------------------------------------------------------------------------------

struct Api {
    client: reqwest::Client,
    base: String,
}

struct DpCredentials {
    cert: String,
    key: String,
    ca: String,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: base.to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> AnyResult<Value> {
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "{method} {path}: {status}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create_control_plane(&self, name: &str) -> AnyResult<String> {
        let cp = self
            .call(
                reqwest::Method::POST,
                "/v2/control-planes",
                json!({ "name": name }),
            )
            .await?;
        id_of(&cp)
    }

    async fn create_service(&self, cp: &str) -> AnyResult<String> {
        let service = self
            .call(
                reqwest::Method::POST,
                &format!("/v2/control-planes/{cp}/core-entities/services"),
                json!({"name": "s", "host": "example.com"}),
            )
            .await?;
        id_of(&service)
    }

    async fn generate_certificate(&self, cp: &str) -> AnyResult<DpCredentials> {
        let body = self
            .call(
                reqwest::Method::POST,
                &format!("/v2/control-planes/{cp}/dp-client-certificates/generate"),
                json!({}),
            )
            .await?;
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("unexpected generate response: {body}"))
        };
        Ok(DpCredentials {
            cert: text(&body["item"]["cert"])?,
            key: text(&body["key"])?,
            ca: text(&body["ca_cert"])?,
        })
    }

    /// PATCHes `retries`; the instant the 2xx response arrived.
    async fn set_retries(&self, cp: &str, service: &str, retries: i64) -> AnyResult<Instant> {
        let response = self
            .client
            .patch(format!(
                "{}/v2/control-planes/{cp}/core-entities/services/{service}",
                self.base
            ))
            .bearer_auth(TOKEN)
            .json(&json!({ "retries": retries }))
            .send()
            .await?;
        let at = Instant::now();
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "PATCH service: {status}: {text}");
        Ok(at)
    }

    /// Round trips of `GET /status` on one keep-alive connection.
    async fn status_round_trips(&self, n: usize) -> AnyResult<Vec<Duration>> {
        let url = format!("{}/status", self.base);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n + 10 {
            let started = Instant::now();
            let response = self.client.get(&url).send().await?;
            let _ = response.bytes().await?;
            samples.push(started.elapsed());
        }
        samples.drain(..10); // warm-up
        Ok(samples)
    }
}

fn id_of(v: &Value) -> AnyResult<String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no id in {v}"))
}

// ---------------------------------------------------------------------------------
// Fake data planes
// ---------------------------------------------------------------------------------

enum Event {
    Frame {
        dp: usize,
        at: Instant,
        retries: Option<i64>,
        config_hash: String,
        digest: [u8; 32],
    },
    Failed {
        dp: usize,
        error: String,
    },
}

fn tls_config(creds: &DpCredentials) -> AnyResult<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(creds.ca.as_bytes()) {
        roots.add(cert?)?;
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(creds.cert.as_bytes()).collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(creds.key.as_bytes())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A spread of retry delays without a random-number crate: the data plane's index hashed.
fn rand_jitter(dp: usize, below: u64) -> u64 {
    (dp as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % below
}

fn read_frame(payload: &[u8]) -> AnyResult<(Option<i64>, String)> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(payload).read_to_end(&mut text)?;
    let message: Value = serde_json::from_slice(&text)?;
    anyhow::ensure!(message["type"] == "reconfigure", "not a reconfigure frame");
    let retries = message["config_table"]["services"][0]["retries"].as_i64();
    let hash = message["config_hash"].as_str().unwrap_or("").to_string();
    Ok((retries, hash))
}

/// Frames decoded so far, by digest: every data plane of a round gets the same bytes, so
/// each distinct frame is decoded once, not once per data plane (at 10,000 data planes
/// the decoding would otherwise take the bench more CPU than the server's fan-out).
type Decoded = Arc<Mutex<std::collections::HashMap<[u8; 32], (Option<i64>, String)>>>;

fn decode_once(
    decoded: &Decoded,
    digest: [u8; 32],
    payload: &[u8],
) -> AnyResult<(Option<i64>, String)> {
    if let Some(known) = decoded.lock().unwrap().get(&digest) {
        return Ok(known.clone());
    }
    let frame = read_frame(payload)?;
    decoded.lock().unwrap().insert(digest, frame.clone());
    Ok(frame)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// One connection attempt: TCP, TLS, the WebSocket upgrade.
async fn open_socket(
    dp: usize,
    node_id: uuid::Uuid,
    address: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> AnyResult<Socket> {
    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let tls = TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let url = format!(
        "wss://localhost:{}/v1/outlet?node_id={node_id}&node_hostname=bench-dp-{dp}&node_version={DP_VERSION}",
        address.port(),
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
        .read_buffer_size(DP_READ_BUFFER)
        .write_buffer_size(0);
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config)).await?;
    Ok(socket)
}

async fn data_plane(
    dp: usize,
    address: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    decoded: Decoded,
    retries: Arc<std::sync::atomic::AtomicUsize>,
) -> AnyResult<()> {
    let permit = gate.acquire_owned().await?;
    let node_id = uuid::Uuid::new_v4();
    let mut attempt = 1;
    let mut socket = loop {
        match open_socket(dp, node_id, address, tls.clone()).await {
            Ok(socket) => break socket,
            Err(_) if attempt < CONNECT_ATTEMPTS => {
                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500 + rand_jitter(dp, 1000))).await;
            }
            Err(e) => return Err(e.context(format!("after {attempt} attempts"))),
        }
    };
    let basic_info = json!({"type": "basic_info", "plugins": []});
    socket
        .send(Message::Binary(serde_json::to_vec(&basic_info)?.into()))
        .await?;
    socket
        .send(Message::Ping(ZEROS.as_bytes().to_vec().into()))
        .await?;
    drop(permit);
    let mut hash = ZEROS.to_string();
    let mut ticker = tokio::time::interval(Duration::from_secs(30));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                socket.send(Message::Ping(hash.clone().into_bytes().into())).await?;
            }
            message = socket.next() => {
                let Some(message) = message else {
                    anyhow::bail!("connection ended");
                };
                match message? {
                    Message::Binary(payload) => {
                        let at = Instant::now();
                        let digest: [u8; 32] = Sha256::digest(&payload).into();
                        let (retries, config_hash) = decode_once(&decoded, digest, &payload)?;
                        hash = config_hash.clone();
                        // Kong pings with the applied hash at once.
                        socket.send(Message::Ping(hash.clone().into_bytes().into())).await?;
                        let _ = events.send(Event::Frame { dp, at, retries, config_hash, digest });
                    }
                    Message::Close(frame) => {
                        anyhow::bail!("closed by the server: {frame:?}");
                    }
                    _ => {}
                }
            }
        }
    }
}

struct Fleet {
    tasks: Vec<JoinHandle<()>>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Latest config hash per data plane.
    hashes: Vec<String>,
    failures: Vec<String>,
    extra_frames: usize,
}

impl Fleet {
    /// Connects `n` data planes and waits until each got its first config.
    async fn connect(n: usize, address: SocketAddr, creds: &DpCredentials) -> AnyResult<Fleet> {
        let tls = tls_config(creds)?;
        let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let (tx, events) = mpsc::unbounded_channel();
        let decoded: Decoded = Default::default();
        let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks = (0..n)
            .map(|dp| {
                let (tls, gate, tx) = (tls.clone(), gate.clone(), tx.clone());
                let (decoded, retries) = (decoded.clone(), retries.clone());
                tokio::spawn(async move {
                    if let Err(e) =
                        data_plane(dp, address, tls, gate, tx.clone(), decoded, retries).await
                    {
                        let _ = tx.send(Event::Failed {
                            dp,
                            error: format!("{e:#}"),
                        });
                    }
                })
            })
            .collect();
        let mut fleet = Fleet {
            tasks,
            events,
            hashes: vec![String::new(); n],
            failures: Vec::new(),
            extra_frames: 0,
        };
        let started = Instant::now();
        let mut synced = 0;
        let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
        while synced < n {
            match tokio::time::timeout_at(deadline, fleet.events.recv()).await {
                Ok(Some(Event::Frame {
                    dp, config_hash, ..
                })) => {
                    if fleet.hashes[dp].is_empty() {
                        synced += 1;
                    }
                    fleet.hashes[dp] = config_hash;
                }
                Ok(Some(Event::Failed { dp, error })) => {
                    anyhow::bail!("data plane {dp} failed while connecting: {error}")
                }
                Ok(None) | Err(_) => {
                    anyhow::bail!(
                        "only {synced} of {n} data planes synced within {} s",
                        CONNECT_DEADLINE.as_secs()
                    )
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "  {n} data plane(s) connected and synced in {:.0} ms ({:.0} handshakes/s), {} connection retries",
            elapsed * 1000.0,
            n as f64 / elapsed,
            retries.load(std::sync::atomic::Ordering::Relaxed)
        );
        Ok(fleet)
    }

    /// Waits until every data plane got the config with `retries`; latencies from `t0`.
    async fn collect_round(&mut self, retries: i64, t0: Instant) -> AnyResult<RoundResult> {
        let n = self.hashes.len();
        let mut got = vec![false; n];
        let mut remaining = n;
        let mut result = RoundResult::default();
        let mut digests = HashSet::new();
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        while remaining > 0 {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Event::Frame {
                    dp,
                    at,
                    retries: r,
                    config_hash,
                    digest,
                })) => {
                    if r != Some(retries) || got[dp] {
                        self.extra_frames += 1;
                        self.hashes[dp] = config_hash;
                        continue;
                    }
                    got[dp] = true;
                    remaining -= 1;
                    if at < t0 {
                        result.before_response += 1;
                    }
                    if config_hash == self.hashes[dp] {
                        result.same_hash += 1;
                    }
                    self.hashes[dp] = config_hash;
                    digests.insert(digest);
                    result.latencies.push(at.saturating_duration_since(t0));
                }
                Ok(Some(Event::Failed { dp, error })) => {
                    self.failures.push(format!("dp {dp}: {error}"));
                    if !got[dp] {
                        got[dp] = true;
                        remaining -= 1;
                        result.missing += 1;
                    }
                }
                Ok(None) => anyhow::bail!("event channel closed"),
                Err(_) => {
                    result.missing += remaining;
                    break;
                }
            }
        }
        result.distinct_payloads = digests.len();
        Ok(result)
    }

    /// Frames that arrived outside any round (counted, not timed).
    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                Event::Frame {
                    dp, config_hash, ..
                } => {
                    self.extra_frames += 1;
                    self.hashes[dp] = config_hash;
                }
                Event::Failed { dp, error } => self.failures.push(format!("dp {dp}: {error}")),
            }
        }
    }

    fn close(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

#[derive(Default)]
struct RoundResult {
    /// In arrival order.
    latencies: Vec<Duration>,
    distinct_payloads: usize,
    missing: usize,
    same_hash: usize,
    before_response: usize,
}

// ---------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

struct PushFigures {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// Where the rounds write: the node's API, the control plane and the service.
#[derive(Clone, Copy)]
struct WriteTarget<'a> {
    api: &'a Api,
    /// The node whose CPU time is reported (the one the DPs are on).
    server: Option<&'a Server>,
    cp: &'a str,
    service: &'a str,
}

/// The write/push rounds and their report.
async fn run_rounds(
    label: &str,
    target: &WriteTarget<'_>,
    fleet: &mut Fleet,
    rounds: usize,
    settle: Duration,
    baseline: Duration,
) -> AnyResult<PushFigures> {
    let WriteTarget {
        api: writer,
        server: _,
        cp,
        service,
    } = *target;
    let n = fleet.hashes.len();
    let mut latencies = Vec::with_capacity(n * rounds);
    let (mut missing, mut same_hash, mut before, mut identical_rounds) = (0, 0, 0, 0);
    let mut max_distinct = 0;
    let (mut firsts, mut lasts) = (Vec::new(), Vec::new());
    let mut slowest = (0, Duration::ZERO, Duration::ZERO);
    let cpu = |server: Option<&Server>| {
        (
            server.and_then(Server::cpu_seconds).unwrap_or(0.0),
            cpu_seconds_of("self").unwrap_or(0.0),
        )
    };
    let cpu_before = cpu(target.server);
    let started = Instant::now();
    for round in 0..rounds {
        fleet.drain();
        let retries = 1 + (round as i64 % 30);
        let retries = if retries == 5 { 31 } else { retries }; // 5 is the default
        let t0 = writer.set_retries(cp, service, retries).await?;
        let result = fleet.collect_round(retries, t0).await?;
        missing += result.missing;
        same_hash += result.same_hash;
        before += result.before_response;
        max_distinct = max_distinct.max(result.distinct_payloads);
        if result.distinct_payloads == 1 && result.missing == 0 {
            identical_rounds += 1;
        }
        let first = result.latencies.iter().min().copied().unwrap_or_default();
        let last = result.latencies.iter().max().copied().unwrap_or_default();
        if last > slowest.2 {
            slowest = (round + 1, first, last);
        }
        firsts.push(first);
        lasts.push(last);
        latencies.extend(result.latencies);
        tokio::time::sleep(settle).await;
    }
    fleet.drain();
    let cpu_after = cpu(target.server);
    latencies.sort();
    let figures = PushFigures {
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
    };
    println!(
        "  {label}: {rounds} rounds x {n} DPs = {} deliveries in {:.1} s",
        latencies.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "    write 2xx -> reconfigure: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(figures.p50),
        ms(figures.p99),
        ms(figures.max)
    );
    println!(
        "    ratio to baseline (GET /status {:.3} ms): p50 {:.1}x, p99 {:.1}x",
        ms(baseline),
        ms(figures.p50) / ms(baseline),
        ms(figures.p99) / ms(baseline)
    );
    println!(
        "    identical payloads per change: {} ({identical_rounds}/{rounds} rounds byte-identical across all DPs, max {max_distinct} distinct payload(s) in a round)",
        if identical_rounds == rounds {
            "yes"
        } else {
            "no"
        }
    );
    println!(
        "    missing deliveries {missing}, unchanged hash {same_hash}, frames before the 2xx {before}, extra frames {}, DP failures {}",
        fleet.extra_frames,
        fleet.failures.len()
    );
    println!(
        "    per round: first DP median {:.2} ms, last DP median {:.2} ms; slowest round #{} first {:.2} ms, last {:.2} ms",
        ms(median(firsts)),
        ms(median(lasts)),
        slowest.0,
        ms(slowest.1),
        ms(slowest.2)
    );
    if target.server.is_some() {
        println!(
            "    CPU during the rounds (incl. settle pauses): server {:.2} s, bench/DPs {:.2} s ({:.1} ms and {:.1} ms per change)",
            cpu_after.0 - cpu_before.0,
            cpu_after.1 - cpu_before.1,
            (cpu_after.0 - cpu_before.0) * 1000.0 / rounds as f64,
            (cpu_after.1 - cpu_before.1) * 1000.0 / rounds as f64
        );
    }
    for failure in fleet.failures.iter().take(3) {
        println!("      {failure}");
    }
    Ok(figures)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    percentile(&samples, 0.5)
}

fn print_warnings(server: &Server, label: &str) {
    let log = server.warnings();
    if log.is_empty() {
        println!("  server log ({label}): no warnings");
        return;
    }
    println!("  server log ({label}): {} line(s), first:", log.len());
    for line in log.iter().take(3) {
        println!("    {}", line.chars().take(240).collect::<String>());
    }
}

// ---------------------------------------------------------------------------------
// One node on SQLite
// ---------------------------------------------------------------------------------

fn rss_target(n: usize) -> Option<f64> {
    match n {
        1000 => Some(RSS_TARGET_KIB),
        10_000 => Some(RSS_TARGET_10K_KIB),
        _ => None,
    }
}

fn latency_target(n: usize) -> Option<Duration> {
    match n {
        1000 => Some(LATENCY_TARGET),
        10_000 => Some(LATENCY_TARGET_10K),
        _ => None,
    }
}

async fn single_node(n: usize, rounds: usize, settle: Duration) -> AnyResult<()> {
    println!("\nN = {n} data plane(s), one node, SQLite");
    let server = Server::start(None).await?;
    let api = Api::new(&server.base);
    let cp = api.create_control_plane(&format!("bench-{n}")).await?;
    let service = api.create_service(&cp).await?;
    let creds = api.generate_certificate(&cp).await?;
    let baseline = median(api.status_round_trips(BASELINE_SAMPLES).await?);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = server.rss_kib();
    let mut fleet = Fleet::connect(n, server.cluster, &creds).await?;
    // Let the connect-time status writes finish, then look at an idle server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = server.rss_kib();
    let idle_baseline = median(api.status_round_trips(BASELINE_SAMPLES).await?);
    println!(
        "  baseline GET /status: {:.3} ms before connecting, {:.3} ms with {n} idle DPs",
        ms(baseline),
        ms(idle_baseline)
    );
    let figures = run_rounds(
        &format!("N={n}"),
        &WriteTarget {
            api: &api,
            server: Some(&server),
            cp: &cp,
            service: &service,
        },
        &mut fleet,
        rounds,
        settle,
        idle_baseline,
    )
    .await?;
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        let per = (after as f64 - before as f64) / n as f64;
        print!(
            "  server VmRSS: {before} KiB before, {after} KiB with {n} idle synced DPs: {per:.1} KiB per connection"
        );
        match rss_target(n) {
            Some(target) => println!(" (target <= {target} KiB: {})", verdict(per <= target)),
            None => println!(),
        }
    }
    if let Some(target) = latency_target(n) {
        println!(
            "  p99 at {n} DPs {:.2} ms (target <= {} ms): {}",
            ms(figures.p99),
            target.as_millis(),
            verdict(figures.p99 <= target)
        );
    }
    print_warnings(&server, &format!("N={n}"));
    fleet.close();
    server.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Two nodes on PostgreSQL
// ---------------------------------------------------------------------------------

#[path = "../tests/support/postgres_cluster.rs"]
mod postgres_cluster;

struct Postgres {
    admin_url: String,
    /// A throwaway cluster of this run's, to stop.
    owned: Option<postgres_cluster::Cluster>,
}

impl Postgres {
    fn start() -> AnyResult<Postgres> {
        if let Ok(url) = std::env::var("KONNEKTD_BENCH_POSTGRES_URL") {
            return Ok(Postgres {
                admin_url: url,
                owned: None,
            });
        }
        let cluster = postgres_cluster::Cluster::launch().map_err(anyhow::Error::msg)?;
        Ok(Postgres {
            admin_url: cluster.url.clone(),
            owned: Some(cluster),
        })
    }

    async fn create_database(&self) -> AnyResult<String> {
        postgres_cluster::create_database(&self.admin_url, "konnektd_bench")
            .await
            .map_err(anyhow::Error::msg)
    }

    /// Its files go with the process (the cluster's reaper).
    fn stop(self) {
        if let Some(cluster) = self.owned {
            let _ = cluster.stop("immediate");
        }
    }
}

async fn two_nodes(n: usize, rounds: usize, settle: Duration) -> AnyResult<()> {
    println!("\nTwo nodes on one PostgreSQL: writes on node A, {n} DPs on node B");
    let postgres = match Postgres::start() {
        Ok(p) => p,
        Err(e) => {
            println!("  SKIPPED: no PostgreSQL ({e:#}); set KONNEKTD_BENCH_POSTGRES_URL");
            return Ok(());
        }
    };
    println!(
        "  PostgreSQL: {}",
        if postgres.owned.is_some() {
            "throwaway cluster (fsync=off)"
        } else {
            "KONNEKTD_BENCH_POSTGRES_URL"
        }
    );
    let result = async {
        let url = postgres.create_database().await?;
        // A first, so only one node runs the migrations.
        let a = Server::start(Some(&url)).await?;
        let b = Server::start(Some(&url)).await?;
        let (api_a, api_b) = (Api::new(&a.base), Api::new(&b.base));
        let cp = api_a.create_control_plane("bench-two-nodes").await?;
        let service = api_a.create_service(&cp).await?;
        // From node B: the CA in the answer is the one B's cluster listener presents.
        let creds = api_b.generate_certificate(&cp).await?;
        let mut fleet = Fleet::connect(n, b.cluster, &creds).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let baseline = median(api_a.status_round_trips(BASELINE_SAMPLES).await?);
        println!("  baseline GET /status on node A: {:.3} ms", ms(baseline));
        let figures = run_rounds(
            &format!("A->B N={n}"),
            &WriteTarget {
                api: &api_a,
                server: Some(&b),
                cp: &cp,
                service: &service,
            },
            &mut fleet,
            rounds,
            settle,
            baseline,
        )
        .await?;
        println!(
            "  p99 across nodes at {n} DPs {:.2} ms (target <= {} ms): {}",
            ms(figures.p99),
            TWO_NODE_TARGET.as_millis(),
            verdict(figures.p99 <= TWO_NODE_TARGET)
        );
        print_warnings(&a, "node A");
        print_warnings(&b, "node B");
        fleet.close();
        a.stop().await;
        b.stop().await;
        AnyResult::Ok(())
    }
    .await;
    postgres.stop();
    result
}

// ---------------------------------------------------------------------------------

/// Raises this process's soft open-file limit to the hard limit (`fs.nr_open` when the
/// hard limit is unlimited); the soft limit after.
fn raise_open_file_limit() -> std::io::Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    let target = if hard == rlimit::INFINITY {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        hard
    };
    rlimit::increase_nofile_limit(target)
}

/// (data planes, rounds, settle pause between rounds)
fn single_node_sizes() -> Vec<(usize, usize, Duration)> {
    let all = [
        (1, 20, Duration::from_millis(100)),
        (100, 20, Duration::from_millis(300)),
        (1000, 20, Duration::from_millis(1000)),
        (10_000, 10, Duration::from_millis(3000)),
    ];
    match std::env::var("KONNEKTD_BENCH_PUSH_SIZES") {
        Ok(list) => {
            let wanted: Vec<usize> = list
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
            all.into_iter()
                .filter(|(n, _, _)| wanted.contains(n))
                .collect()
        }
        Err(_) => all.to_vec(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("cluster_push: konnektd {}", binary());
    let open_files = raise_open_file_limit();
    println!(
        "  {} CPU(s); bench process open-file limit raised to {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        open_files
            .as_ref()
            .map_or_else(|e| format!("? ({e})"), |n| n.to_string())
    );
    let sizes = single_node_sizes();
    if let (Ok(limit), Some(largest)) = (&open_files, sizes.iter().map(|s| s.0).max())
        && *limit < largest as u64 + 200
    {
        println!(
            "  note: N={largest} needs ~{largest} sockets in this process; the hard open-file limit is {limit}"
        );
    }
    runtime.block_on(async {
        for (n, rounds, settle) in sizes {
            if let Err(e) = single_node(n, rounds, settle).await {
                println!("  N={n} did not complete: {e:#}");
            }
        }
        if std::env::var("KONNEKTD_BENCH_TWO_NODES").as_deref() == Ok("0") {
            return;
        }
        if let Err(e) = two_nodes(100, 20, Duration::from_millis(300)).await {
            println!("  two-node run did not complete: {e:#}");
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
}
