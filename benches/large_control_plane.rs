//! One write reaching the data planes of a control plane that holds 100,000 entities,
//! against the real server (in this process, on SQLite) and a few fake data planes (one
//! mutual-TLS WebSocket each, as `benches/cluster_push.rs` makes them).
//!
//! The control plane is filled straight through SQL with a realistic mix, bodies as the
//! API stores them (every default written): 10% services, 20% routes (each on a
//! service), 25% consumers, 25% key-auth credentials (one per consumer), 20% plugins
//! (rate-limiting on services, key-auth on routes, correlation-id global ones). Then
//! `DPS` data planes connect and get the first config, and `ROUNDS` times a single
//! write (a PATCH of one service's `retries`, a different service each round) is timed
//! from its 2xx to each data plane receiving the frame with the new config hash.
//!
//! Floors, measured in the same run: the same write → reconfigure on a control plane
//! holding one service (the push machinery without the size); one full export of the
//! 100k config as every change cost before (`export_config`, Kong's hash, the gzip), and
//! the first snapshot of it (a data plane connecting). Target: p99 <= 250 ms at 100k.
//! PASS/FAIL is printed, never asserted.
//!
//! Run: `cargo bench --bench large_control_plane` (size: `KONNEKTD_BENCH_ENTITIES`,
//! rounds: `KONNEKTD_BENCH_ROUNDS`).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use konnektd::command_line::{ServeArgs, StoreArgs};
use konnektd::domain::token::{TokenKind, TokenSecret};
use konnektd::startup;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const TARGET: Duration = Duration::from_millis(250);
const DPS: usize = 3;
const ZEROS: &str = "00000000000000000000000000000000";
const ROUND_TIMEOUT: Duration = Duration::from_secs(20);
/// Rows per multi-row INSERT, under both backends' bound-parameter limits.
const BATCH: usize = 500;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// PATCHes a service's `retries`; the instant its 2xx arrived.
    async fn set_retries(&self, cp: &str, service: &str, retries: i64) -> Instant {
        self.call(
            reqwest::Method::PATCH,
            &format!("/v2/control-planes/{cp}/core-entities/services/{service}"),
            json!({ "retries": retries }),
        )
        .await;
        Instant::now()
    }
}

/// Fills `cp` with `count` entities in the mix described above, straight through SQL.
async fn fill(url: &str, cp: &str, count: usize) -> Vec<String> {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut tx = conn.begin().await.expect("begin");
    let id = |kind: u8, i: usize| {
        // Spread over the id space as random UUIDs are.
        let spread = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        format!("{spread:08x}-{kind:04x}-4000-8000-{i:012x}")
    };
    let (services, routes, consumers) = (count / 10, count / 5, count / 4);
    let plugins = count - services - routes - 2 * consumers;
    let mut rows: Vec<(&str, String, String)> = Vec::with_capacity(count);
    let mut service_ids = Vec::new();
    for i in 0..services {
        let sid = id(1, i);
        rows.push(("services", sid.clone(), json!({
            "id": sid, "name": format!("service-{i}"), "host": format!("backend-{i}.internal"),
            "port": 8080, "protocol": "http", "path": "/api", "retries": 5,
            "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000,
            "enabled": true, "tls_verify": null, "tls_verify_depth": null,
            "ca_certificates": null, "client_certificate": null,
            "tags": ["team-a", "bench"], "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
        }).to_string()));
        service_ids.push(sid);
    }
    for i in 0..routes {
        let rid = id(2, i);
        rows.push((
            "routes",
            rid.clone(),
            json!({
                "id": rid, "name": format!("route-{i}"), "paths": [format!("/svc/{i}")],
                "methods": ["GET", "POST"], "hosts": null, "headers": null, "snis": null,
                "sources": null, "destinations": null, "protocols": ["http", "https"],
                "https_redirect_status_code": 426, "regex_priority": 0, "strip_path": true,
                "path_handling": "v0", "preserve_host": false, "request_buffering": true,
                "response_buffering": true, "service": {"id": service_ids[i % services]},
                "tags": ["bench"], "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
            })
            .to_string(),
        ));
    }
    for i in 0..consumers {
        let cid = id(3, i);
        rows.push((
            "consumers",
            cid.clone(),
            json!({
                "id": cid, "username": format!("user-{i}"), "custom_id": format!("c-{i}"),
                "tags": ["bench"], "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
            })
            .to_string(),
        ));
        let kid = id(4, i);
        rows.push((
            "keyauth_credentials",
            kid.clone(),
            json!({
                "id": kid, "key": format!("key-{i}-{kid}"), "consumer": {"id": cid},
                "ttl": null, "tags": null, "created_at": 1_700_000_000,
            })
            .to_string(),
        ));
    }
    for i in 0..plugins {
        let pid = id(5, i);
        let body = match i % 3 {
            0 => json!({
                "id": pid, "name": "rate-limiting", "enabled": true,
                "service": {"id": service_ids[i % services]}, "route": null, "consumer": null,
                "protocols": ["grpc", "grpcs", "http", "https"],
                "config": {"second": null, "minute": 60 + i % 7, "hour": null, "day": null,
                    "month": null, "year": null, "limit_by": "consumer", "policy": "local",
                    "fault_tolerant": true, "hide_client_headers": false,
                    "error_code": 429, "error_message": "API rate limit exceeded",
                    "sync_rate": -1, "redis": {"host": null, "port": 6379, "timeout": 2000}},
                "tags": null, "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
            }),
            1 => json!({
                "id": pid, "name": "key-auth", "enabled": true,
                "route": {"id": id(2, i % routes)}, "service": null, "consumer": null,
                "protocols": ["grpc", "grpcs", "http", "https", "ws", "wss"],
                "config": {"key_names": ["apikey"], "hide_credentials": false,
                    "anonymous": null, "key_in_header": true, "key_in_query": true,
                    "key_in_body": false, "run_on_preflight": true, "realm": null},
                "tags": null, "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
            }),
            _ => json!({
                "id": pid, "name": "correlation-id", "enabled": true,
                "consumer": {"id": id(3, i % consumers)}, "service": null, "route": null,
                "protocols": ["grpc", "grpcs", "http", "https"],
                "config": {"header_name": "Kong-Request-ID", "generator": "uuid#counter",
                    "echo_downstream": false},
                "tags": null, "created_at": 1_700_000_000, "updated_at": 1_700_000_000,
            }),
        };
        rows.push(("plugins", pid, body.to_string()));
    }
    for chunk in rows.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO core_entities (control_plane_id, entity_type, id, name, body, created_at, updated_at) VALUES ",
        );
        for (r, _) in chunk.iter().enumerate() {
            let n = r * 5;
            sql.push_str(if r == 0 { "" } else { ", " });
            sql.push_str(&format!(
                "(${}, ${}, ${}, NULL, ${}, ${}, 1700000000)",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, body) in chunk {
            query = query
                .bind(cp)
                .bind(*kind)
                .bind(id.as_str())
                .bind(body.as_str())
                .bind(1_700_000_000_i64);
        }
        query.execute(&mut *tx).await.expect("insert");
    }
    tx.commit().await.expect("commit");
    service_ids
}

struct Credentials {
    cert: String,
    key: String,
    ca: String,
}

async fn credentials(api: &Api, cp: &str) -> Credentials {
    let body = api
        .call(
            reqwest::Method::POST,
            &format!("/v2/control-planes/{cp}/dp-client-certificates/generate"),
            json!({}),
        )
        .await;
    let text = |v: &Value| v.as_str().expect("PEM").to_string();
    Credentials {
        cert: text(&body["item"]["cert"]),
        key: text(&body["key"]),
        ca: text(&body["ca_cert"]),
    }
}

fn tls_config(creds: &Credentials) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(creds.ca.as_bytes()) {
        roots.add(cert.expect("CA")).expect("CA");
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(creds.cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(creds.key.as_bytes()).expect("key");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth"),
    )
}

/// A frame's arrival: the data plane, when, its config hash and its size.
struct Frame {
    at: Instant,
    hash: String,
    bytes: usize,
    payload: bytes::Bytes,
}

/// The config hash without inflating a whole many-megabyte frame: serde_json writes the
/// message's keys in order, `config_hash` first.
fn hash_of(payload: &[u8]) -> String {
    let mut head = [0u8; 64];
    let mut decoder = flate2::read::GzDecoder::new(payload);
    decoder.read_exact(&mut head).expect("a reconfigure frame");
    let text = String::from_utf8_lossy(&head);
    let start = text.find("\"config_hash\":\"").expect("config_hash first") + 15;
    text[start..start + 32].to_string()
}

/// One data plane: `basic_info`, then it pings each new hash as Kong does.
async fn data_plane(
    address: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    frames: mpsc::UnboundedSender<Frame>,
) {
    let tcp = TcpStream::connect(address).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let tls = TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS");
    let url = format!(
        "wss://localhost:{}/v1/outlet?node_id={}&node_hostname=bench-dp&node_version=3.10.0.0",
        address.port(),
        uuid::Uuid::new_v4(),
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config))
        .await
        .expect("upgrade");
    let plugins: Vec<Value> = ["rate-limiting", "key-auth", "correlation-id"]
        .iter()
        .map(|name| json!({"name": name, "version": "3.10.0"}))
        .collect();
    let basic_info = json!({"type": "basic_info", "plugins": plugins});
    socket
        .send(Message::Binary(
            serde_json::to_vec(&basic_info).expect("JSON").into(),
        ))
        .await
        .expect("basic_info");
    socket
        .send(Message::Ping(ZEROS.as_bytes().to_vec().into()))
        .await
        .expect("ping");
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Binary(payload) = message {
            let at = Instant::now();
            let hash = hash_of(&payload);
            let _ = socket
                .send(Message::Ping(hash.clone().into_bytes().into()))
                .await;
            let bytes = payload.len();
            let _ = frames.send(Frame {
                at,
                hash,
                bytes,
                payload,
            });
        }
    }
}

struct Fleet {
    frames: mpsc::UnboundedReceiver<Frame>,
    hashes: Vec<String>,
}

impl Fleet {
    async fn connect(
        n: usize,
        address: SocketAddr,
        creds: &Credentials,
    ) -> (Fleet, Duration, Frame) {
        let tls = tls_config(creds);
        let (tx, frames) = mpsc::unbounded_channel();
        let started = Instant::now();
        for _ in 0..n {
            tokio::spawn(data_plane(address, tls.clone(), tx.clone()));
        }
        let mut fleet = Fleet {
            frames,
            hashes: Vec::new(),
        };
        let mut first = None;
        while fleet.hashes.len() < n {
            let frame = tokio::time::timeout(Duration::from_secs(300), fleet.frames.recv())
                .await
                .expect("first configs in time")
                .expect("a frame");
            fleet.hashes.push(frame.hash.clone());
            first.get_or_insert(frame);
        }
        (fleet, started.elapsed(), first.expect("a first frame"))
    }

    /// Waits until every data plane got a frame whose hash differs from `before`; the
    /// latency of each from `t0`.
    async fn round(&mut self, before: &str, t0: Instant) -> (Vec<Duration>, Frame) {
        let mut latencies = Vec::new();
        let mut last = None;
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        while latencies.len() < self.hashes.len() {
            let frame = tokio::time::timeout_at(deadline, self.frames.recv())
                .await
                .expect("the round's frames in time")
                .expect("a frame");
            if frame.hash != before {
                latencies.push(frame.at.saturating_duration_since(t0));
                last = Some(frame);
            }
        }
        (latencies, last.expect("frames"))
    }
}

/// Write → reconfigure over `rounds` writes to `services`; sorted latencies over every
/// data plane and round, and the last frame.
async fn rounds(
    api: &Api,
    cp: &str,
    services: &[String],
    fleet: &mut Fleet,
    mut hash: String,
    rounds: usize,
) -> (Vec<Duration>, Frame) {
    let mut all = Vec::new();
    let mut last = None;
    for round in 0..rounds {
        let service = &services[(round * 7919) % services.len()];
        let t0 = api.set_retries(cp, service, (round % 9) as i64 + 10).await;
        let (latencies, frame) = fleet.round(&hash, t0).await;
        hash = frame.hash.clone();
        all.extend(latencies);
        last = Some(frame);
        // Let the data planes' pings and status rows settle, as between real writes.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    all.sort();
    (all, last.expect("a round"))
}

async fn run(entities: usize, n_rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut args = ServeArgs::with_defaults(StoreArgs {
        data_dir: dir.path().join("data"),
        database_url: Some(url.clone()),
    });
    args.listen = "127.0.0.1:0".parse().expect("address");
    args.cluster_listen = "127.0.0.1:0".parse().expect("address");
    args.bootstrap_token = Some(bootstrap.expose().to_string());
    args.shutdown_grace = Duration::from_secs(5);
    let running = startup::start(&args).await.expect("konnektd starts");
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        base: format!("http://{}", running.addr),
        token: bootstrap.expose().to_string(),
    };
    let create_cp = |name: &'static str| {
        api.call(
            reqwest::Method::POST,
            "/v2/control-planes",
            json!({"name": name}),
        )
    };
    let small = create_cp("small").await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let large = create_cp("large").await["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Floor 1: the same write on a control plane of one service.
    let service = api
        .call(
            reqwest::Method::POST,
            &format!("/v2/control-planes/{small}/core-entities/services"),
            json!({"name": "s", "host": "example.com"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (mut fleet, _, first) =
        Fleet::connect(DPS, running.cluster_addr, &credentials(&api, &small).await).await;
    let (floor, _) = rounds(&api, &small, &[service], &mut fleet, first.hash, n_rounds).await;
    drop(fleet);

    let started = Instant::now();
    let services = fill(&url, &large, entities).await;
    let filled = started.elapsed();

    // Floor 2: one full export as every change cost before, in this process.
    let store = running.state.0.store.clone();
    let cp_id = uuid::Uuid::parse_str(&large).expect("uuid");
    let started = Instant::now();
    let table = konnektd::cluster::export::export_config(&store, cp_id)
        .await
        .expect("export");
    let exported = started.elapsed();
    let hashes = konnektd::cluster::hash::config_hashes(&table);
    let hashed = started.elapsed() - exported;
    let full_frame = konnektd::cluster::export::encode_reconfigure(&table, &hashes);
    let full_export = started.elapsed();
    // What gzip level costs on the whole config (the incremental frame deflates only
    // changed chunks, at level 6).
    let json_bytes = serde_json::to_vec(&table).expect("JSON");
    drop(table);
    let mut levels = Vec::new();
    for level in [1, 6, 9] {
        let t = Instant::now();
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        std::io::Write::write_all(&mut encoder, &json_bytes).expect("gzip");
        let out = encoder.finish().expect("gzip");
        levels.push(format!(
            "level {level}: {:.0} ms, {:.1} MB",
            ms(t.elapsed()),
            out.len() as f64 / 1e6
        ));
    }
    println!(
        "  gzip of the whole {:.1} MB config: {}",
        json_bytes.len() as f64 / 1e6,
        levels.join("; ")
    );
    drop(json_bytes);

    let rss_before = rss_kib();
    let (mut fleet, first_config, first) =
        Fleet::connect(DPS, running.cluster_addr, &credentials(&api, &large).await).await;
    let rss_after = rss_kib();
    let first_bytes = first.bytes;
    let (latencies, last) = rounds(
        &api,
        &large,
        &services,
        &mut fleet,
        first.hash.clone(),
        n_rounds,
    )
    .await;

    // The last frame carries the last write and Kong's hash of what it carries.
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&last.payload[..])
        .read_to_end(&mut text)
        .expect("gzip");
    let message: Value = serde_json::from_slice(&text).expect("JSON");
    let expected = konnektd::cluster::hash::config_hashes(&message["config_table"]);
    let hash_ok = message["config_hash"] == expected.config;
    let count: usize = message["config_table"]
        .as_object()
        .expect("table")
        .values()
        .filter_map(Value::as_array)
        .map(Vec::len)
        .sum();

    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    let (f50, f99) = (percentile(&floor, 0.5), percentile(&floor, 0.99));
    println!(
        "large_control_plane: {entities} entities (filled in {:.1} s), {DPS} data planes, {n_rounds} single writes",
        filled.as_secs_f64()
    );
    println!(
        "  write -> reconfigure: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 <= {} ms: {})",
        ms(p50),
        ms(p99),
        ms(*latencies.last().expect("samples")),
        TARGET.as_millis(),
        verdict(p99 <= TARGET)
    );
    println!(
        "  floor, same write on a 1-service control plane: p50 {:.1} ms, p99 {:.1} ms; ratio p99 {:.1}x",
        ms(f50),
        ms(f99),
        p99.as_secs_f64() / f99.as_secs_f64()
    );
    println!(
        "  one full export as before (read+parse {:.0} ms, hash {:.0} ms, gzip {:.0} ms): {:.0} ms, {:.1} MB gzipped; p99 is {:.2}x of it",
        ms(exported),
        ms(hashed),
        ms(full_export - exported - hashed),
        ms(full_export),
        full_frame.len() as f64 / 1e6,
        p99.as_secs_f64() / full_export.as_secs_f64()
    );
    println!(
        "  first snapshot (a data plane connecting): {:.0} ms, frame {:.1} MB; server RSS +{:.0} MiB with the kept state",
        ms(first_config),
        first_bytes as f64 / 1e6,
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );
    println!(
        "  last frame: {count} entities, {:.1} MB; its hash is Kong's of its table: {}",
        last.bytes as f64 / 1e6,
        verdict(hash_ok)
    );
    let metrics = api
        .client
        .get(format!("{}/metrics", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let kept = metrics
        .lines()
        .find(|l| l.contains("config_export_state_bytes{") && l.contains(&large))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    println!(
        "  kept export state (config_export_state_bytes): {:.0} MiB, {:.0} bytes/entity",
        kept / 1048576.0,
        kept / entities as f64
    );
    let built = running.state.0.cluster.snapshots_built();
    println!("  snapshots built: {built}");
    running.shutdown().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    sqlx::any::install_default_drivers();
    let entities = env_or("KONNEKTD_BENCH_ENTITIES", 100_000);
    let n_rounds = env_or("KONNEKTD_BENCH_ROUNDS", 100);
    runtime.block_on(run(entities, n_rounds));
}
