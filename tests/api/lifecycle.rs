//! The process as an operator meets it: crashes, signals, the first start.

use std::time::Duration;

use konnektd::domain::token::{TokenKind, TokenSecret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, fresh_database};

both_backends!(
    writes_that_answered_201_survive_kill_9,
    sigterm_lets_in_flight_requests_finish_then_exits_0,
    a_first_start_with_no_token_logs_one_admin_token_once,
);

async fn start(url: &str, dir: &std::path::Path, bootstrap: Option<&str>) -> ServerProcess {
    let mut command = konnektd(url, dir);
    if let Some(token) = bootstrap {
        command.env("KONNEKTD_BOOTSTRAP_TOKEN", token);
    }
    ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"))
}

async fn list_names(client: &reqwest::Client, server: &ServerProcess, token: &str) -> Vec<String> {
    let list: Value = client
        .get(server.url("/v2/control-planes?page[size]=1000"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cp| cp["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every acknowledged create is there after SIGKILL right behind the last 201.
async fn writes_that_answered_201_survive_kill_9(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let server = start(&url, dir.path(), Some(token.expose())).await;
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for i in 0..25 {
        let name = format!("cp-{i:02}");
        let response = client
            .post(server.url("/v2/control-planes"))
            .bearer_auth(token.expose())
            .json(&json!({"name": name, "labels": {"n": format!("v{i}")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        acknowledged.push(name);
    }
    server.signal(9);
    let (code, _) = server.wait().await;
    assert_eq!(code, None, "killed by a signal");
    let server = start(&url, dir.path(), Some(token.expose())).await;
    assert_eq!(
        list_names(&client, &server, token.expose()).await,
        acknowledged
    );
    server.signal(15);
    server.wait().await;
}

/// SIGTERM: a request already under way is answered, new connections are refused,
/// and the process exits 0.
async fn sigterm_lets_in_flight_requests_finish_then_exits_0(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let server = start(&url, dir.path(), Some(token.expose())).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let body = json!({"name": "in-flight"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /v2/control-planes HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{head}",
        token.expose(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal(15);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no new connections after SIGTERM"
    );
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("answered and closed")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let (code, _) = server.wait().await;
    assert_eq!(code, Some(0));
    let server = start(&url, dir.path(), Some(token.expose())).await;
    assert_eq!(
        list_names(&reqwest::Client::new(), &server, token.expose()).await,
        ["in-flight"]
    );
    server.signal(15);
    server.wait().await;
}

/// With no token anywhere, the first start logs one admin token, which works; later
/// starts log none.
async fn a_first_start_with_no_token_logs_one_admin_token_once(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let server = start(&url, dir.path(), None).await;
    let tokens: Vec<&str> = server
        .log
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with("kpat_"))
        .collect();
    assert_eq!(tokens.len(), 1, "{:#?}", server.log);
    let token = TokenSecret::parse(tokens[0])
        .expect("a well-formed token")
        .expose()
        .to_string();
    let client = reqwest::Client::new();
    assert_eq!(
        list_names(&client, &server, &token).await,
        Vec::<String>::new()
    );
    server.signal(15);
    assert_eq!(server.wait().await.0, Some(0));
    let server = start(&url, dir.path(), None).await;
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(!log.iter().any(|l| l.contains("kpat_")), "{log:#?}");
}

/// A bootstrap token that is not `kpat_` + 49 alphanumerics stops the start with a
/// message naming the variable.
#[tokio::test]
async fn a_malformed_bootstrap_token_stops_the_start() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    for bad in ["kpat_short", &format!("spat_{}", "a".repeat(49))] {
        let mut command = konnektd(&url, dir.path());
        command.env("KONNEKTD_BOOTSTRAP_TOKEN", bad);
        let log = match ServerProcess::start(command).await {
            Ok(_) => panic!("started with {bad}"),
            Err(log) => log,
        };
        assert!(
            log.iter().any(|l| l.contains("KONNEKTD_BOOTSTRAP_TOKEN")),
            "{log:#?}"
        );
    }
}

/// Uploaded Lua and what it returns or raises never reach the server's log, even at
/// debug level.
#[tokio::test]
async fn uploaded_lua_never_reaches_the_log() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut command = konnektd(&url, dir.path());
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose())
        .env("RUST_LOG", "debug");
    let server = ServerProcess::start(command)
        .await
        .expect("konnektd starts");
    let client = reqwest::Client::new();
    let base = plugin_schemas_of_new_control_plane(&client, &server, token.expose(), "logs").await;
    let marker = "SECRET-MARKER-7f3a";
    let uploads = [
        format!(
            "return {{ name = 'marked', fields = {{ {{ config = {{ type = 'record', fields = {{ {{ s = {{ type = 'string', default = '{marker}' }} }} }} }} }} }} }}"
        ),
        format!("error('{marker}')"),
        format!("return {{ name = '{marker}' }}"),
    ];
    for upload in uploads {
        let response = client
            .post(server.url(&base))
            .bearer_auth(token.expose())
            .json(&json!({ "lua_schema": upload }))
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500);
    }
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(
        log.iter().any(|l| l.contains("plugin-schemas")),
        "requests are logged: {log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains(marker)), "{log:#?}");
}

/// Plugin secrets (`shared_secret`, referenceable) never reach the server's log, even at
/// debug level and even when the write is refused or the validator fails on it.
#[tokio::test]
async fn plugin_secrets_never_reach_the_log() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut command = konnektd(&url, dir.path());
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose())
        .env("RUST_LOG", "debug");
    let server = ServerProcess::start(command)
        .await
        .expect("konnektd starts");
    let client = reqwest::Client::new();
    let schemas =
        plugin_schemas_of_new_control_plane(&client, &server, token.expose(), "secrets").await;
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    let response = client
        .post(server.url(&schemas))
        .bearer_auth(token.expose())
        .json(&json!({ "lua_schema": source }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let plugins = schemas.replace("plugin-schemas", "plugins");
    let marker = "SECRET-MARKER-91c2";
    let configs = [
        json!({"service_url": "https://ping.example.com", "shared_secret": marker, "secret_header_name": "X"}),
        json!({"service_url": format!("ftp://{marker}"), "shared_secret": marker, "secret_header_name": "X"}),
        json!({"service_url": "https://ping.example.com", "shared_secret": 7, "secret_header_name": marker, "x": marker}),
    ];
    let mut statuses = Vec::new();
    for config in configs {
        let response = client
            .post(server.url(&plugins))
            .bearer_auth(token.expose())
            .json(&json!({"name": "ping-auth", "config": config}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 400, 400]);
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(
        log.iter().any(|l| l.contains("/plugins")),
        "requests are logged: {log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains(marker)), "{log:#?}");
}

/// `--cluster-kong-version` must be a Kong version: anything else stops the start with
/// a message naming the flag, before any port is bound.
#[tokio::test]
async fn a_cluster_kong_version_that_is_not_a_version_refuses_to_start() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut args = crate::harness::serve_args(&url, &dir, &token);
    args.cluster_kong_version = "latest".into();
    let error = konnektd::startup::start(&args)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        error.to_string(),
        "--cluster-kong-version 'latest' is not a Kong version"
    );
}

/// Creates a control plane on `server` and returns its plugin-schemas collection path.
async fn plugin_schemas_of_new_control_plane(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    name: &str,
) -> String {
    let cp: Value = client
        .post(server.url("/v2/control-planes"))
        .bearer_auth(token)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!(
        "/v2/control-planes/{}/core-entities/plugin-schemas",
        cp["id"].as_str().unwrap()
    )
}

/// Kilobytes of a `/proc/<pid>/status` line such as `VmHWM` (peak) or `VmRSS`.
fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix(" kB")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// Memory bombs, several at once, leave the server's peak memory within the Lua
/// memory limit times the Lua concurrency (plus slack for the rest of the process).
#[tokio::test]
async fn memory_bombs_keep_the_server_within_its_lua_memory_budget() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let limit_mib = 32u64;
    let concurrency = 2u64;
    let mut command = konnektd(&url, dir.path());
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose())
        .env("KONNEKTD_LUA_MEMORY_LIMIT", (limit_mib << 20).to_string())
        .env("KONNEKTD_LUA_CONCURRENCY", concurrency.to_string());
    let server = ServerProcess::start(command)
        .await
        .expect("konnektd starts");
    let pid = server.child.id().unwrap();
    let client = reqwest::Client::new();
    let base = plugin_schemas_of_new_control_plane(&client, &server, token.expose(), "bombs").await;
    let before_kb = proc_status_kb(pid, "VmRSS");
    let bombs = [
        "local s = 'x' while true do s = s .. s end",
        "local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep('y', 1024) .. i end",
        "return { s = string.rep('z', 2^30) }",
        "local s = string.rep('a', 2^20) return { s = s:gsub('.', ('b'):rep(1000)) }",
    ];
    let mut uploads = Vec::new();
    for round in 0..3 {
        for bomb in bombs {
            let client = client.clone();
            let url = server.url(&base);
            let token = token.expose().to_string();
            let body = json!({ "lua_schema": format!("-- {round}\n{bomb}") });
            uploads.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
    }
    // More bombs than Lua workers: the queue overflows into 503s, which is the point.
    let mut refused = 0;
    for upload in uploads {
        match upload.await.unwrap() {
            400 => refused += 1,
            503 => {}
            other => panic!("a bomb got {other}"),
        }
    }
    // The first `concurrency` bombs get a worker at once, however loaded the machine is.
    assert!(
        refused >= concurrency,
        "at least the first bombs ran to their limit ({refused})"
    );
    let peak_kb = proc_status_kb(pid, "VmHWM");
    let budget_kb = (concurrency * limit_mib + 48) << 10;
    eprintln!("RSS before {before_kb} kB, peak {peak_kb} kB, budget +{budget_kb} kB");
    assert!(
        peak_kb.saturating_sub(before_kb) < budget_kb,
        "peak {peak_kb} kB vs {before_kb} kB before: more than {budget_kb} kB"
    );
    let status = client
        .get(server.url("/status"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    server.signal(15);
    server.wait().await;
}

/// docs/threat-model.md (the database goes away): PostgreSQL goes away mid-traffic. Writes and reads get 503 within 2 s
/// (never a hang, never a 2xx); once it is back, writes succeed within 10 s with nobody doing
/// anything; every write answered 201 is still there. On a cluster of the test's own, so
/// the suite's shared one is never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
async fn a_postgresql_outage_answers_503_and_writes_resume_when_it_returns() {
    use crate::harness::postgres::Cluster;
    use crate::harness::{TestApp, status_and_json};
    use std::time::Instant;

    if !crate::harness::postgres::available() {
        return;
    }
    let cluster = match tokio::task::spawn_blocking(Cluster::launch).await.unwrap() {
        Ok(cluster) => cluster,
        // A server given by URL, without binaries here to start one of our own.
        Err(e) if std::env::var("KONNEKTD_TEST_POSTGRES_URL").is_ok() => {
            eprintln!("skipped: no PostgreSQL of the test's own ({e})");
            return;
        }
        Err(e) => panic!("a PostgreSQL cluster of the test's own: {e}"),
    };
    let url = cluster.url.clone();
    let app = TestApp::spawn_with(Backend::Postgres, |args| {
        args.store.database_url = Some(url);
    })
    .await;
    let cp = app.create_control_plane(&json!({"name": "outage"})).await;
    let services = format!(
        "/v2/control-planes/{}/core-entities/services",
        cp["id"].as_str().unwrap()
    );
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let name = format!("before-{i}");
        let (status, body) = status_and_json(
            app.post_json(&services, &json!({"name": name, "host": "upstream.test"}))
                .await,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        acknowledged.push(name);
    }

    let stopper = tokio::task::spawn_blocking(move || {
        cluster.stop("fast").expect("pg_ctl stop");
        cluster
    });
    let cluster = stopper.await.unwrap();
    for i in 0..3 {
        let started = Instant::now();
        let response = app
            .post_json(
                &services,
                &json!({"name": format!("during-{i}"), "host": "upstream.test"}),
            )
            .await;
        let took = started.elapsed();
        assert!(response.headers().contains_key("retry-after"));
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 503, "{body}");
        assert!(took < Duration::from_secs(2), "answered after {took:?}");
        // Reads too: the list and one entity, token check included, never a 401 or 500.
        for path in [services.clone(), format!("{services}/before-0")] {
            let started = Instant::now();
            let response = app.get(&path).await;
            let took = started.elapsed();
            assert!(response.headers().contains_key("retry-after"), "{path}");
            let (status, body) = status_and_json(response).await;
            assert_eq!(status, 503, "{path}: {body}");
            assert!(
                took < Duration::from_secs(2),
                "{path} answered after {took:?}"
            );
        }
    }

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().expect("pg_ctl start");
        cluster
    })
    .await
    .unwrap();
    let back = Instant::now();
    loop {
        let name = format!("after-{}", acknowledged.len());
        let (status, body) = status_and_json(
            app.post_json(&services, &json!({"name": name, "host": "upstream.test"}))
                .await,
        )
        .await;
        if status == 201 {
            acknowledged.push(name);
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "writes did not resume"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "writes resumed {:?} after PostgreSQL was back",
        back.elapsed()
    );
    let (status, list) = status_and_json(app.get(&format!("{services}?size=100")).await).await;
    assert_eq!(status, 200, "{list}");
    let names = crate::harness::sorted_names(&list);
    acknowledged.sort();
    assert_eq!(names, acknowledged, "every 201 is kept, nothing else");
    app.shutdown().await;
    let _ = cluster.stop("immediate");
}
