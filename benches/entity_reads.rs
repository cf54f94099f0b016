//! `GET /v2/control-planes/{cp}/core-entities/plugins/{id}` over real HTTP (reqwest,
//! keep-alive, `CLIENTS` concurrent clients, the server in this process on an ephemeral
//! port) against two floors measured in the same run, on SQLite and on PostgreSQL:
//!
//! - hello-world: an axum server that answers every GET with the same plugin's JSON
//!   (the `Value` cloned and encoded per request, as a handler would), over the same
//!   kind of client: what HTTP alone costs for an answer of that size;
//! - the raw read: the same row's body read straight from the same database with sqlx's
//!   own driver for it (`SELECT body FROM core_entities WHERE control_plane_id = $1 AND
//!   entity_type = $2 AND id = $3`), `CLIENTS` concurrent readers, no HTTP, on a pool set
//!   as konnektd sets its own (8 connections and konnektd's pragmas on SQLite, 16 on
//!   PostgreSQL; no test before acquire).
//!
//! Rounds alternate the three sides, and each figure is the median of the rounds' ratios.
//! Targets: konnektd >= 0.5 x the raw read (issue 18), and aiming at 0.5 x hello-world;
//! PASS/FAIL is printed, never asserted.
//!
//! PostgreSQL: `KONNEKTD_BENCH_POSTGRES_URL`, else a throwaway cluster from
//! `/usr/lib/postgresql/*/bin`, else skipped.
//!
//! Run: `cargo bench --bench entity_reads`

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use konnektd::command_line::{ServeArgs, StoreArgs};
use konnektd::domain::token::{TokenKind, TokenSecret};
use konnektd::startup;
use serde_json::{Value, json};
use sqlx::Executor;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

#[path = "../tests/support/postgres_cluster.rs"]
#[allow(dead_code)] // the cluster is only launched here, never stopped and restarted
mod postgres_cluster;

const ROUNDS: usize = 7;
const PER_ROUND: usize = 3_000;
const CLIENTS: usize = 4;
const WARMUP: usize = 500;
const TARGET_RAW: f64 = 0.5;
const AIM_HELLO: f64 = 0.5;

/// A plugin of the bundled `correlation-id`, with tags: a body of about 300 bytes.
fn plugin_body() -> Value {
    json!({
        "name": "correlation-id",
        "enabled": true,
        "tags": ["bench", "reads"],
        "config": {"header_name": "X-Request-Id", "generator": "uuid#counter", "echo_downstream": true}
    })
}

/// `konnektd serve` with its defaults (`ServeArgs::with_defaults`), on ephemeral ports.
fn serve_args(database_url: &str, dir: &tempfile::TempDir, bootstrap: &TokenSecret) -> ServeArgs {
    let mut args = ServeArgs::with_defaults(StoreArgs {
        data_dir: dir.path().join("data"),
        database_url: Some(database_url.to_string()),
    });
    args.listen = "127.0.0.1:0".parse().expect("address");
    args.cluster_listen = "127.0.0.1:0".parse().expect("address");
    args.bootstrap_token = Some(bootstrap.expose().to_string());
    args.shutdown_grace = Duration::from_secs(5);
    args
}

/// Runs `count` jobs over `CLIENTS` concurrent tasks; returns the rate per second.
async fn rate<F, Fut>(count: usize, job: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let job = Arc::new(job);
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let job = job.clone();
            tokio::spawn(async move {
                for _ in (client..count).step_by(CLIENTS) {
                    job().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("client task");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// One GET that must answer 200 with a body of `length` bytes.
async fn get_ok(client: &reqwest::Client, url: &str, token: Option<&str>, length: usize) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), length, "GET {url}");
}

/// The hello-world floor: every GET answers `answer`, encoded per request.
async fn hello_world(answer: Value) -> String {
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/{*rest}",
        get(move || {
            let answer = answer.clone();
            async move { Json(Value::clone(&answer)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("hello-world") });
    format!("http://{addr}/hello")
}

/// konnektd's pragmas, set on each of its SQLite connections (`src/store/sqlite.rs`).
const SQLITE_PRAGMAS: &str = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON;";

const RAW_READ: &str =
    "SELECT body FROM core_entities WHERE control_plane_id = $1 AND entity_type = $2 AND id = $3";

/// The raw read's pool: sqlx's own driver for the backend, set as konnektd sets its pool.
#[derive(Clone)]
enum RawPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl RawPool {
    async fn open(database_url: &str) -> RawPool {
        if let Some(path) = database_url.strip_prefix("sqlite://") {
            let path = path.split('?').next().expect("a path");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                })
                .connect_with(SqliteConnectOptions::new().filename(path))
                .await
                .expect("raw SQLite pool");
            RawPool::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
                .connect(database_url)
                .await
                .expect("raw PostgreSQL pool");
            RawPool::Postgres(pool)
        }
    }

    async fn read(&self, cp: &str, id: &str) -> String {
        let query = sqlx::query_scalar(RAW_READ);
        match self {
            RawPool::Sqlite(pool) => {
                query
                    .bind(cp)
                    .bind("plugins")
                    .bind(id)
                    .fetch_one(pool)
                    .await
            }
            RawPool::Postgres(pool) => {
                sqlx::query_scalar(RAW_READ)
                    .bind(cp)
                    .bind("plugins")
                    .bind(id)
                    .fetch_one(pool)
                    .await
            }
        }
        .expect("raw read")
    }

    async fn close(&self) {
        match self {
            RawPool::Sqlite(pool) => pool.close().await,
            RawPool::Postgres(pool) => pool.close().await,
        }
    }
}

async fn bench(label: &str, database_url: &str, dir: &tempfile::TempDir) {
    let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
    let running = startup::start(&serve_args(database_url, dir, &bootstrap))
        .await
        .expect("konnektd starts");
    let token = bootstrap.expose().to_string();
    let client = reqwest::Client::new();
    let base = format!("http://{}", running.addr);

    let created = |url: String, body: Value| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 201, "POST {url}");
            response.json::<Value>().await.expect("JSON")
        }
    };
    let cp = created(
        format!("{base}/v2/control-planes"),
        json!({"name": format!("bench-{}", Uuid::new_v4().simple())}),
    )
    .await["id"]
        .as_str()
        .expect("control plane id")
        .to_string();
    let family = format!("{base}/v2/control-planes/{cp}/core-entities");
    let plugin = created(format!("{family}/plugins"), plugin_body()).await;
    let id = plugin["id"].as_str().expect("plugin id").to_string();
    let url = format!("{family}/plugins/{id}");

    // The answer as konnektd gives it, for its length and for hello-world to send.
    let answer = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    let length = answer.len();
    let answer: Value = serde_json::from_slice(&answer).expect("JSON answer");
    let hello = hello_world(answer).await;

    let raw_pool = RawPool::open(database_url).await;
    let stored = raw_pool.read(&cp, &id).await.len();
    println!("{label}: answer {length} bytes, stored body {stored} bytes");
    let raw = {
        let (pool, cp, id) = (raw_pool.clone(), cp.clone(), id.clone());
        move || {
            let (pool, cp, id) = (pool.clone(), cp.clone(), id.clone());
            async move {
                let body = pool.read(&cp, &id).await;
                assert_eq!(body.len(), stored);
            }
        }
    };
    let konnektd = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        move || {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move { get_ok(&client, &url, Some(&token), length).await }
        }
    };
    let hello_get = {
        let client = client.clone();
        move || {
            let (client, hello) = (client.clone(), hello.clone());
            async move { get_ok(&client, &hello, None, length).await }
        }
    };

    // Warm-up: connections, caches (the token's row among them).
    rate(WARMUP, konnektd.clone()).await;
    rate(WARMUP, hello_get.clone()).await;
    rate(WARMUP, raw.clone()).await;

    let (mut ours, mut hellos, mut raws) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_raw, mut to_hello) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let k = rate(PER_ROUND, konnektd.clone()).await;
        let h = rate(PER_ROUND, hello_get.clone()).await;
        let r = rate(PER_ROUND, raw.clone()).await;
        ours.push(k);
        hellos.push(h);
        raws.push(r);
        to_raw.push(k / r);
        to_hello.push(k / h);
    }
    let (k, h, r) = (median(ours), median(hellos), median(raws));
    let (to_raw, to_hello) = (median(to_raw), median(to_hello));
    let verdict = |ratio: f64, target: f64| if ratio >= target { "PASS" } else { "FAIL" };
    println!(
        "{label}: GET .../core-entities/plugins/{{id}} {k:>6.0}/s; hello-world {h:>6.0}/s; raw sqlx read {r:>6.0}/s"
    );
    println!(
        "{label}: ratio to the raw read {to_raw:.2} (target >= {TARGET_RAW}): {}; to hello-world {to_hello:.2} (aim >= {AIM_HELLO}): {}",
        verdict(to_raw, TARGET_RAW),
        verdict(to_hello, AIM_HELLO),
    );
    raw_pool.close().await;
    running.shutdown().await;
}

#[tokio::main]
async fn main() {
    println!(
        "median of {ROUNDS} rounds x {PER_ROUND} reads, {CLIENTS} concurrent clients each side"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    bench("SQLite", &sqlite, &dir).await;
    let (admin_url, _cluster) = match std::env::var("KONNEKTD_BENCH_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => match postgres_cluster::Cluster::launch() {
            Ok(cluster) => (cluster.url.clone(), Some(cluster)),
            Err(e) => {
                println!("PostgreSQL: skipped ({e}); set KONNEKTD_BENCH_POSTGRES_URL");
                return;
            }
        },
    };
    let url = postgres_cluster::create_database(&admin_url, "entity_reads")
        .await
        .expect("a database");
    let dir = tempfile::tempdir().expect("temp dir");
    bench("PostgreSQL", &url, &dir).await;
}
