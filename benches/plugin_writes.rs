//! `POST /v2/control-planes/{cp}/core-entities/plugins` over real HTTP (reqwest,
//! keep-alive, `CLIENTS` concurrent clients) against the machine's floor, measured in the
//! same run: a raw sqlx insert of the same row (the plugin's `core_entities` row, one
//! autocommitted `INSERT` on sqlx's own driver, with the same durability: SQLite WAL with
//! `synchronous=FULL`, PostgreSQL with `fsync` and `synchronous_commit` on), with the
//! same concurrency on a pool of one connection and on a pool of `CLIENTS`; the floor is
//! the faster of the two. A second line compares with the store's own write
//! (`Store::write_entity`: the row with its key, reference and notification). Rounds
//! alternate the sides, and the figure is the median of the rounds' ratios. SQLite
//! always; PostgreSQL on `KONNEKTD_BENCH_POSTGRES_URL` (a database konnektd may migrate
//! and write; each run works in a fresh control plane), else a throwaway durable cluster
//! from `/usr/lib/postgresql/*/bin`, else skipped.
//!
//! Every write creates a distinct plugin: the guide's ping-auth body, scoped to its own
//! consumer (plugins are unique per name and scope). Target: HTTP rate >= 50% of the raw
//! insert rate; PASS/FAIL is printed, never asserted.
//!
//! Run: `cargo bench --bench plugin_writes`

use std::sync::Arc;
use std::time::{Duration, Instant};

use konnektd::command_line::{ServeArgs, StoreArgs};
use konnektd::domain::Timestamp;
use konnektd::domain::token::{TokenKind, TokenSecret};
use konnektd::entities::plugins::plugin_scope_key;
use konnektd::lua::sandbox::Limits;
use konnektd::lua::schema_cache::{CompiledSchema, Ready, SchemaCache};
use konnektd::schema::plugin_entity::plugin_entity_schema;
use konnektd::schema::validate::{Context, Engine};
use konnektd::startup;
use konnektd::store::Store;
use konnektd::store::core_entities::{EntityRecord, EntityRef};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "../tests/support/postgres_cluster.rs"]
#[allow(dead_code)] // launched here, never stopped and restarted
mod postgres_cluster;

const ROUNDS: usize = 9;
const PER_ROUND: usize = 200;
const CLIENTS: usize = 4;
const WARMUP: usize = 2 * CLIENTS;
const TARGET_RATIO: f64 = 0.5;

const GUIDE_BODY: &str = r#"{"name":"ping-auth","enabled":true,"config":{"enable_debug_logging":true,"verify_service_certificate":false,"secret_header_name":"X-Secret","service_url":"https://ping.example.com","shared_secret":"s3cret"}}"#;

fn ping_auth_source() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .expect("ping-auth fixture")
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

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn created(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 201, "POST {path} {body}: {answer}");
        answer
    }
}

/// Runs `count` jobs over `CLIENTS` concurrent tasks; returns the wall time.
async fn concurrently<F, Fut>(count: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    concurrently_with(CLIENTS, count, job).await
}

/// Runs `count` jobs over `tasks` concurrent tasks; returns the wall time.
async fn concurrently_with<F, Fut>(tasks: usize, count: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let job = Arc::new(job);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|client| {
            let job = job.clone();
            tokio::spawn(async move {
                for i in (client..count).step_by(tasks) {
                    job(i).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("client task");
    }
    started.elapsed()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The row the write path would store for a ping-auth plugin on `consumer`, as
/// `entities::record_of` builds it, from the body `Engine::check` returns.
fn raw_record(validated: &Value, consumer: &str, now: i64) -> EntityRecord {
    let id = Uuid::new_v4().to_string();
    let mut body = validated.clone();
    body["id"] = json!(id);
    body["consumer"] = json!({ "id": consumer });
    body["created_at"] = json!(now);
    body["updated_at"] = json!(now);
    EntityRecord {
        kind: "plugins",
        id,
        name: Some("ping-auth".into()),
        body: body.to_string(),
        keys: vec![(
            "scope".into(),
            plugin_scope_key("ping-auth", [None, None, Some(consumer), None]),
        )],
        refs: vec![EntityRef {
            field: "consumer",
            target: "consumers",
            id: consumer.to_string(),
        }],
        tags: vec![],
        created_at: Timestamp::from_seconds(now),
        updated_at: Timestamp::from_seconds(now),
    }
}

/// A ping-auth plugin entity as `Engine::check` leaves it (auto fields and defaults).
fn validated_template() -> Value {
    let limits = Limits::default();
    let cache = SchemaCache::new(2, 1);
    let Ready::WithLua(mut compiled): Ready = cache
        .checkout(&ping_auth_source(), plugin_entity_schema, limits)
        .expect("ping-auth compiles")
    else {
        panic!("ping-auth has a custom_validator");
    };
    let schema = compiled.schema.clone();
    let functions: &mut CompiledSchema = &mut compiled;
    let input: Value = serde_json::from_str(GUIDE_BODY).expect("guide body");
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    Engine::new(functions, limits.pattern_steps, now)
        .check(&schema, &input, Context::Insert)
        .expect("the guide's body is valid")
}

/// sqlx's own pools on the bench's database, as the floor's writers use them.
#[derive(Clone)]
enum RawPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

const RAW_INSERT: &str = "INSERT INTO core_entities (control_plane_id, entity_type, id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl RawPool {
    async fn open(url: &str, connections: u32) -> RawPool {
        use std::str::FromStr;
        if url.starts_with("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            let options = SqliteConnectOptions::from_str(url)
                .expect("sqlite URL")
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            RawPool::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(connections)
                    .connect_with(options)
                    .await
                    .expect("raw SQLite pool"),
            )
        } else {
            RawPool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(connections)
                    .connect(url)
                    .await
                    .expect("raw PostgreSQL pool"),
            )
        }
    }

    /// The plugin's row, autocommitted.
    async fn insert(&self, cp: &str, record: &EntityRecord) {
        macro_rules! run {
            ($pool:expr) => {
                sqlx::query(RAW_INSERT)
                    .bind(cp)
                    .bind(record.kind)
                    .bind(&record.id)
                    .bind(record.name.as_deref())
                    .bind(&record.body)
                    .bind(record.created_at.seconds())
                    .bind(record.updated_at.seconds())
                    .execute($pool)
                    .await
                    .expect("raw insert")
            };
        }
        match self {
            RawPool::Sqlite(pool) => drop(run!(pool)),
            RawPool::Postgres(pool) => drop(run!(pool)),
        }
    }
}

async fn bench(label: &str, database_url: &str, dir: &tempfile::TempDir) {
    let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
    let running = startup::start(&serve_args(database_url, dir, &bootstrap))
        .await
        .expect("konnektd starts");
    let api = Arc::new(Api {
        client: reqwest::Client::new(),
        base: format!("http://{}", running.addr),
        token: bootstrap.expose().to_string(),
    });
    let cp = api
        .created(
            "/v2/control-planes",
            &json!({"name": format!("bench-{}", Uuid::new_v4().simple())}),
        )
        .await["id"]
        .as_str()
        .expect("control plane id")
        .to_string();
    let family = format!("/v2/control-planes/{cp}/core-entities");
    api.created(
        &format!("{family}/plugin-schemas"),
        &json!({ "lua_schema": ping_auth_source() }),
    )
    .await;

    // One consumer per plugin: WARMUP + ROUNDS * PER_ROUND over HTTP, as many raw.
    let http_count = WARMUP + ROUNDS * PER_ROUND;
    let total = http_count + ROUNDS * PER_ROUND;
    let consumers: Arc<Vec<String>> = {
        let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); total]));
        let (api, family, slots) = (api.clone(), family.clone(), ids.clone());
        let took = concurrently(total, move |i| {
            let (api, family, slots) = (api.clone(), family.clone(), slots.clone());
            async move {
                let consumer = api
                    .created(
                        &format!("{family}/consumers"),
                        &json!({"username": format!("bench-consumer-{i}")}),
                    )
                    .await;
                slots.lock().expect("ids")[i] = consumer["id"].as_str().expect("id").to_string();
            }
        })
        .await;
        println!(
            "{label}: {total} consumers created over HTTP in {took:.2?} ({:.0}/s)",
            total as f64 / took.as_secs_f64()
        );
        Arc::new(std::mem::take(&mut *ids.lock().expect("ids")))
    };

    let body: Value = serde_json::from_str(GUIDE_BODY).expect("guide body");
    let post = {
        let (api, family, consumers) = (api.clone(), family.clone(), consumers.clone());
        move |i: usize| {
            let (api, family) = (api.clone(), family.clone());
            let mut body = body.clone();
            body["consumer"] = json!({ "id": consumers[i] });
            async move {
                let plugin = api.created(&format!("{family}/plugins"), &body).await;
                assert_eq!(plugin["config"]["connection_timeout_ms"], 10000);
            }
        }
    };
    let post = Arc::new(post);
    // Warm-up: the Lua pool's VMs for ping-auth, connections, caches.
    {
        let post = post.clone();
        concurrently(WARMUP, move |i| post(i)).await;
    }

    let store: Store = running.state.store.clone();
    let control_plane = Uuid::parse_str(&cp).expect("uuid");
    let template = Arc::new(validated_template());
    let raw_pools = [
        RawPool::open(database_url, 1).await,
        RawPool::open(database_url, CLIENTS as u32).await,
    ];
    let (mut http_rates, mut raw_rates, mut raw_single) = (Vec::new(), Vec::new(), Vec::new());
    let (mut floor_n, mut floor_1) = (Vec::new(), Vec::new());
    let (mut ratios, mut store_ratios) = (Vec::new(), Vec::new());
    // Interleaved rounds, so both sides see the same machine noise.
    for round in 0..ROUNDS {
        let offset = WARMUP + round * PER_ROUND;
        let post = post.clone();
        let took = concurrently(PER_ROUND, move |i| post(offset + i)).await;
        http_rates.push(PER_ROUND as f64 / took.as_secs_f64());

        // The floor: the plugin's row alone, on a pool of one and of `CLIENTS`.
        let half = PER_ROUND / 2;
        for (pool, samples) in raw_pools.iter().zip([&mut floor_1, &mut floor_n]) {
            let (pool, consumers, template, cp) = (
                pool.clone(),
                consumers.clone(),
                template.clone(),
                cp.clone(),
            );
            let took = concurrently(half, move |i| {
                let (pool, cp) = (pool.clone(), cp.clone());
                let now = chrono::Utc::now().timestamp();
                let record = raw_record(&template, &consumers[offset + i], now);
                async move { pool.insert(&cp, &record).await }
            })
            .await;
            samples.push(half as f64 / took.as_secs_f64());
        }

        // Raw inserts, half with one writer and half with `CLIENTS`: SQLite serializes
        // writers (busy waits), so one writer can be the faster; the baseline is the
        // faster of the two.
        let offset = http_count + round * PER_ROUND;
        let half = PER_ROUND / 2;
        for (writers, offset, samples) in [
            (1, offset, &mut raw_single),
            (CLIENTS, offset + half, &mut raw_rates),
        ] {
            let (store, consumers, template) = (store.clone(), consumers.clone(), template.clone());
            let took = concurrently_with(writers, half, move |i| {
                let store = store.clone();
                let now = chrono::Utc::now().timestamp();
                let record = raw_record(&template, &consumers[offset + i], now);
                async move {
                    // Sends the same notification as the API's write (PostgreSQL only).
                    store
                        .write_entity(control_plane, &record, false)
                        .await
                        .expect("raw insert");
                }
            })
            .await;
            samples.push(half as f64 / took.as_secs_f64());
        }
        // Each round's pair shares the machine's state of the moment (fsync latency on
        // this disk drifts by several times within a run): the ratio is taken per round.
        let floor = floor_n[round].max(floor_1[round]);
        ratios.push(http_rates[round] / floor);
        let store_rate = raw_rates[round].max(raw_single[round]);
        store_ratios.push(http_rates[round] / store_rate);
    }
    let (http, raw_n, raw_1) = (median(http_rates), median(raw_rates), median(raw_single));
    let (floor_n, floor_1) = (median(floor_n), median(floor_1));
    let ratio = median(ratios);
    println!(
        "{label}: POST .../core-entities/plugins {http:>5.0}/s; Store::write_entity \
         {raw_n:>5.0}/s with {CLIENTS} writers, {raw_1:>5.0}/s with 1 (ratio {:.0}%)",
        median(store_ratios) * 100.0
    );
    println!(
        "{label}: raw sqlx insert of the row {floor_n:>5.0}/s on a pool of {CLIENTS}, \
         {floor_1:>5.0}/s on a pool of 1; median of the rounds' ratios to the faster \
         {:.0}% (target >= {:.0}%): {}",
        ratio * 100.0,
        TARGET_RATIO * 100.0,
        if ratio >= TARGET_RATIO {
            "PASS"
        } else {
            "FAIL"
        }
    );
    running.shutdown().await;
}

#[tokio::main]
async fn main() {
    println!(
        "median of {ROUNDS} rounds x {PER_ROUND} plugins, {CLIENTS} concurrent clients each side"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    bench("SQLite    ", &sqlite, &dir).await;
    match std::env::var("KONNEKTD_BENCH_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let dir = tempfile::tempdir().expect("temp dir");
            bench("PostgreSQL", &url, &dir).await;
        }
        _ => match postgres_cluster::Cluster::launch_durable() {
            Ok(cluster) => {
                let url = postgres_cluster::create_database(&cluster.url, "plugin_writes")
                    .await
                    .expect("a database");
                let dir = tempfile::tempdir().expect("temp dir");
                bench("PostgreSQL", &url, &dir).await;
            }
            Err(e) => println!(
                "PostgreSQL: skipped ({e}); set KONNEKTD_BENCH_POSTGRES_URL to a database konnektd may migrate"
            ),
        },
    }
}
