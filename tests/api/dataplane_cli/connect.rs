//! `konnektd dataplane connect` as an operator runs it, against a konnektd process: what
//! it says when no config comes (and the WARN the server logs for it), `--print-config`,
//! reconnecting after the control plane restarts, and the refusals it gives up on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use konnektd::domain::token::{TokenKind, TokenSecret};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd, run};
use crate::harness::{Backend, fresh_database};

both_backends!(
    a_data_plane_lacking_a_configured_plugin_gets_one_server_warn_and_is_told_no_config,
    connect_prints_the_config_and_reconnects_after_a_control_plane_restart_as_kongs_data_plane_does,
    connect_exits_non_zero_on_a_refusal_retrying_cannot_fix,
);

/// A konnektd process on a cluster port of the test's choosing (a restart keeps it), with
/// a control plane holding a ping-auth plugin and a data-plane certificate pinned to it.
struct Setup {
    url: String,
    dir: TempDir,
    token: TokenSecret,
    cluster_port: u16,
    server: Option<ServerProcess>,
    cp: String,
    dp_dir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server(url: &str, dir: &Path, token: &TokenSecret, port: u16) -> ServerProcess {
    let mut command = konnektd(url, dir);
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose())
        .env("KONNEKTD_CLUSTER_LISTEN", format!("127.0.0.1:{port}"));
    ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"))
}

async fn setup(backend: Backend) -> Setup {
    let (url, dir) = fresh_database(backend).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let cluster_port = free_port();
    let server = start_server(&url, dir.path(), &token, cluster_port).await;
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(server.url(&path))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
    };
    let created: Value = post("/v2/control-planes".into(), json!({"name": "connect"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cp = created["id"].as_str().unwrap().to_string();
    let base = format!("/konnect-api/api/runtime_groups/{cp}");
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    let uploaded = post(
        format!("{base}/v1/plugin-schemas"),
        json!({"lua_schema": schema}),
    )
    .await
    .unwrap();
    assert_eq!(uploaded.status(), 201);
    let plugin = post(
        format!("{base}/plugins"),
        json!({"name": "ping-auth", "config": {
            "service_url": "https://ping.example.com", "shared_secret": "s", "secret_header_name": "X"}}),
    )
    .await
    .unwrap();
    assert_eq!(plugin.status(), 201);
    let dp_dir = dir.path().join("dp");
    let (ok, _, stderr) = run(
        konnektd(&url, dir.path()),
        &[
            "dataplane",
            "new",
            "--control-plane",
            &cp,
            "--out",
            dp_dir.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    Setup {
        url,
        dir,
        token,
        cluster_port,
        server: Some(server),
        cp,
        dp_dir,
    }
}

impl Setup {
    /// `dataplane connect` with the pinned certificate and `extra` flags.
    fn connect_command(&self, extra: &[&str]) -> tokio::process::Command {
        let mut command = konnektd(&self.url, self.dir.path());
        command
            .args([
                "dataplane",
                "connect",
                "--address",
                &format!("localhost:{}", self.cluster_port),
            ])
            .arg("--cert")
            .arg(self.dp_dir.join("cluster.crt"))
            .arg("--key")
            .arg(self.dp_dir.join("cluster.key"))
            .arg("--ca-cert")
            .arg(self.dp_dir.join("cluster-ca.crt"))
            .args(extra);
        command
    }

    fn server(&self) -> &ServerProcess {
        self.server.as_ref().unwrap()
    }

    /// Stops the server on SIGTERM and returns its whole log.
    async fn stop(&mut self) -> Vec<String> {
        let server = self.server.take().unwrap();
        server.signal(15);
        let (code, log) = server.wait().await;
        assert_eq!(code, Some(0), "{log:#?}");
        log
    }
}

/// A running `dataplane connect` and its output, line by line.
struct Running {
    child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
}

fn lines(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn spawn(mut command: tokio::process::Command) -> Running {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn dataplane connect");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    Running {
        child,
        stdout,
        stderr,
    }
}

/// The next line of `rx` within `wait`, `None` when there is none.
async fn next_line(rx: &mut mpsc::UnboundedReceiver<String>, wait: Duration) -> Option<String> {
    tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
}

/// Lines of `rx` until one matches, within `wait`; panics with what was seen otherwise.
async fn line_matching(
    rx: &mut mpsc::UnboundedReceiver<String>,
    wait: Duration,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_line(rx, left).await {
            Some(line) if check(&line) => return line,
            Some(line) => seen.push(line),
            None => panic!("no matching line within {wait:?}; saw {seen:#?}"),
        }
    }
}

fn signal(child: &Child, signal: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().expect("running").to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The data plane announces `cors` only, while the control plane's config holds
/// ping-auth: it gets no config. The server logs one WARN naming the node (id and
/// hostname), the control plane and ping-auth, not one per ping or per config, as Kong's
/// control plane warns ("configured ... plugin is missing from data plane",
/// `kong/clustering/compat/init.lua`); `dataplane connect`, given no reason by the v1
/// protocol, says it got no config and where the reason is.
async fn a_data_plane_lacking_a_configured_plugin_gets_one_server_warn_and_is_told_no_config(
    backend: Backend,
) {
    let mut s = setup(backend).await;
    let node_id = uuid::Uuid::new_v4().to_string();
    let mut dp = spawn(s.connect_command(&[
        "--plugins",
        "cors",
        "--node-id",
        &node_id,
        "--hostname",
        "lacking-dp",
        "--ping-interval",
        "200ms",
    ]));
    let notice = line_matching(&mut dp.stderr, Duration::from_secs(15), |l| {
        l.starts_with("no config:")
    })
    .await;
    assert!(
        notice.contains("the control plane did not send one")
            && notice.contains(&format!("/nodes/{node_id}")),
        "{notice}"
    );
    assert_eq!(next_line(&mut dp.stdout, Duration::ZERO).await, None);
    // Another change that still needs ping-auth: no second WARN.
    let client = reqwest::Client::new();
    let service = client
        .post(s.server().url(&format!(
            "/v2/control-planes/{}/core-entities/services",
            s.cp
        )))
        .bearer_auth(s.token.expose())
        .json(&json!({"name": "more", "url": "http://example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(service.status(), 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    dp.child.start_kill().unwrap();
    let log = s.stop().await;
    let warns: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("lacks configured plugins"))
        .collect();
    assert_eq!(warns.len(), 1, "{log:#?}");
    for part in [
        format!("dp.node_id=\"{node_id}\""),
        "dp.hostname=\"lacking-dp\"".to_string(),
        format!("cp.id={}", s.cp),
        "missing_plugins=\"ping-auth\"".to_string(),
    ] {
        assert!(warns[0].contains(&part), "{part} in {}", warns[0]);
    }
}

/// `--print-config` prints the received message as one JSON line after its `config`
/// line. When the control plane stops, `dataplane connect` does not exit: it reconnects
/// after a random delay, as Kong's data plane does (`kong/clustering/data_plane.lua`,
/// "retrying after" `math.random(5, 10)` seconds), and gets the config again from the
/// server restarted on the same port and data dir. Ctrl-C ends it with a non-zero code.
async fn connect_prints_the_config_and_reconnects_after_a_control_plane_restart_as_kongs_data_plane_does(
    backend: Backend,
) {
    let mut s = setup(backend).await;
    let mut dp = spawn(s.connect_command(&["--print-config", "--reconnect-delay", "100ms"]));
    let first = line_matching(&mut dp.stdout, Duration::from_secs(15), |l| {
        l.starts_with("config ")
    })
    .await;
    let hash = first.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(first, format!("config {hash} plugins=1"));
    let printed: Value = serde_json::from_str(
        &next_line(&mut dp.stdout, Duration::from_secs(5))
            .await
            .expect("the config's JSON line"),
    )
    .expect("one line of JSON");
    assert_eq!(printed["type"], "reconfigure");
    assert_eq!(printed["config_hash"], hash.as_str());
    assert_eq!(printed["config_table"]["plugins"][0]["name"], "ping-auth");
    assert_eq!(
        printed["config_table"]["plugins"][0]["config"]["service_url"],
        "https://ping.example.com"
    );

    s.stop().await;
    let dropped = line_matching(&mut dp.stderr, Duration::from_secs(10), |l| {
        l.starts_with("disconnected:")
    })
    .await;
    assert!(dropped.contains("reconnecting in"), "{dropped}");
    assert!(
        dp.child.try_wait().unwrap().is_none(),
        "connect exited when the control plane stopped"
    );
    s.server = Some(start_server(&s.url, s.dir.path(), &s.token, s.cluster_port).await);
    let second = line_matching(&mut dp.stdout, Duration::from_secs(20), |l| {
        l.starts_with("config ")
    })
    .await;
    assert_eq!(second, first, "the same content, the same hash");

    signal(&dp.child, 2);
    let status = tokio::time::timeout(Duration::from_secs(10), dp.child.wait())
        .await
        .expect("exits on SIGINT")
        .unwrap();
    assert!(!status.success(), "{status:?}");
    s.stop().await;
}

/// Another major is closed with `kong_version_incompatible` (1008), and an unpinned
/// certificate gets 401 before the upgrade: retrying gets the same answer, so
/// `dataplane connect` exits non-zero at once, naming it.
async fn connect_exits_non_zero_on_a_refusal_retrying_cannot_fix(backend: Backend) {
    let mut s = setup(backend).await;
    let refused = |extra: &'static [&'static str]| {
        let command = s.connect_command(extra);
        async move {
            let out = tokio::time::timeout(Duration::from_secs(15), command_output(command))
                .await
                .expect("connect gives up instead of retrying");
            assert!(!out.0, "{}", out.1);
            out.1
        }
    };
    let stderr = refused(&["--version", "4.0.0.0"]).await;
    assert!(stderr.contains("kong_version_incompatible"), "{stderr}");

    let client = reqwest::Client::new();
    let certs_url = s.server().url(&format!(
        "/v2/control-planes/{}/dp-client-certificates",
        s.cp
    ));
    let listed: Value = client
        .get(&certs_url)
        .bearer_auth(s.token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap();
    let deleted = client
        .delete(format!("{certs_url}/{id}"))
        .bearer_auth(s.token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let stderr = refused(&[]).await;
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    s.stop().await;
}

/// Exit success and stderr of a one-shot command.
async fn command_output(mut command: tokio::process::Command) -> (bool, String) {
    let out = command.stdin(Stdio::null()).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
