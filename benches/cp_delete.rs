//! `DELETE /v2/control-planes/{id}` of a control plane holding N core entities (10,000 and
//! 100,000 by default: a quarter each of services, routes, consumers and plugins, with
//! their keys, references and tags), over real HTTP, while one client keeps creating
//! consumers in another control plane and times each write.
//!
//! Floor, measured in the same run: the raw insert of the same rows, straight through
//! SQL in one transaction (`tests/support/bulk_entities.rs`). Targets: the delete answers
//! within 5 s, costs at most the raw insert of what it removes until its rows are gone
//! (ratio <= 1.0; PostgreSQL answers once the control plane is hidden and removes the
//! rows in the background), and no write to the other control plane waits a second. PASS/FAIL is printed,
//! never asserted. SQLite always; PostgreSQL on `KONNEKTD_BENCH_POSTGRES_URL`, else a
//! throwaway cluster from `/usr/lib/postgresql/*/bin`, else skipped.
//!
//! Run: `cargo bench --bench cp_delete` (sizes: `KONNEKTD_BENCH_DELETE_SIZES=10000,100000`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use konnektd::command_line::{ServeArgs, StoreArgs};
use konnektd::domain::token::{TokenKind, TokenSecret};
use konnektd::startup;
use serde_json::{Value, json};
use sqlx::Connection;

#[path = "../tests/support/bulk_entities.rs"]
mod bulk_entities;
#[path = "../tests/support/postgres_cluster.rs"]
#[allow(dead_code)] // the cluster is only launched here, never stopped and restarted
mod postgres_cluster;

const TARGET_RATIO: f64 = 1.0;
const OTHER_WRITE_TARGET: Duration = Duration::from_secs(1);
/// "Answers within seconds" (issue 18).
const ANSWER_TARGET: Duration = Duration::from_secs(5);

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

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> u16 {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request").status().as_u16()
    }

    async fn create_control_plane(&self, name: &str) -> String {
        let response = self
            .client
            .post(format!("{}/v2/control-planes", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"name": name}))
            .send()
            .await
            .expect("request");
        let body: Value = response.json().await.expect("JSON");
        body["id"].as_str().expect("id").to_string()
    }
}

async fn remaining_rows(url: &str, cp: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut total = 0;
    for table in [
        "core_entities",
        "core_entity_keys",
        "core_entity_refs",
        "core_entity_tags",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE control_plane_id = $1"
        )))
        .bind(cp)
        .fetch_one(&mut conn)
        .await
        .expect("count");
        total += n;
    }
    total
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

async fn run(backend: &str, url: &str, dir: &tempfile::TempDir, n: usize) {
    let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
    let running = startup::start(&serve_args(url, dir, &bootstrap))
        .await
        .expect("konnektd starts");
    let api = Arc::new(Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(1200))
            .build()
            .expect("client"),
        base: format!("http://{}", running.addr),
        token: bootstrap.expose().to_string(),
    });
    let doomed = api.create_control_plane(&format!("doomed-{n}")).await;
    let other = api.create_control_plane(&format!("other-{n}")).await;

    let started = Instant::now();
    bulk_entities::fill(url, &doomed, n).await;
    let floor = started.elapsed();

    // One client writing to the other control plane throughout.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (api, done, other) = (api.clone(), done.clone(), other.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !done.load(Ordering::Relaxed) {
                let body = json!({"username": format!("w{i}")});
                let t = Instant::now();
                let status = api
                    .send(
                        reqwest::Method::POST,
                        &format!("/v2/control-planes/{other}/core-entities/consumers"),
                        Some(&body),
                    )
                    .await;
                latencies.push(t.elapsed());
                assert_eq!(status, 201, "a write to the other control plane");
                i += 1;
            }
            latencies
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let status = api
        .send(
            reqwest::Method::DELETE,
            &format!("/v2/control-planes/{doomed}"),
            None,
        )
        .await;
    let took = started.elapsed();
    // PostgreSQL answers once the control plane is hidden and removes its rows in the
    // background: the cost is until they are gone, the other writes go on meanwhile.
    let mut left = remaining_rows(url, &doomed).await;
    let deadline = Instant::now() + Duration::from_secs(1200);
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = remaining_rows(url, &doomed).await;
    }
    let gone = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    done.store(true, Ordering::Relaxed);
    let mut latencies = writer.await.expect("writer");
    latencies.sort();
    let ratio = gone.as_secs_f64() / floor.as_secs_f64();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let worst = *latencies.last().expect("writes");
    println!(
        "{backend} N={n}: delete answered {status} in {:.2} s (target < {} s: {}); rows gone after {:.2} s ({:.1} µs/entity); raw insert of the same rows {:.2} s; ratio {ratio:.2} (target <= {TARGET_RATIO}: {}); rows left {left} ({})",
        took.as_secs_f64(),
        ANSWER_TARGET.as_secs(),
        verdict(took < ANSWER_TARGET),
        gone.as_secs_f64(),
        gone.as_secs_f64() * 1e6 / n as f64,
        floor.as_secs_f64(),
        verdict(ratio <= TARGET_RATIO),
        verdict(left == 0),
    );
    println!(
        "  other control plane: {} writes meanwhile, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target max < {} ms: {})",
        latencies.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        OTHER_WRITE_TARGET.as_millis(),
        verdict(worst < OTHER_WRITE_TARGET),
    );
    running.shutdown().await;
}

fn sizes() -> Vec<usize> {
    std::env::var("KONNEKTD_BENCH_DELETE_SIZES")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("a size"))
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 100_000])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "cp_delete: DELETE of a control plane with N entities, against the raw insert of its rows"
    );
    for &n in &sizes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        runtime.block_on(run("SQLite", &url, &dir, n));
    }
    let (admin_url, _cluster) = match std::env::var("KONNEKTD_BENCH_POSTGRES_URL") {
        Ok(url) => (url, None),
        Err(_) => match postgres_cluster::Cluster::launch() {
            Ok(cluster) => (cluster.url.clone(), Some(cluster)),
            Err(e) => {
                println!("PostgreSQL: skipped ({e}); set KONNEKTD_BENCH_POSTGRES_URL");
                return;
            }
        },
    };
    for &n in &sizes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = runtime
            .block_on(postgres_cluster::create_database(&admin_url, "cp_delete"))
            .expect("a database");
        runtime.block_on(run("PostgreSQL", &url, &dir, n));
    }
}
