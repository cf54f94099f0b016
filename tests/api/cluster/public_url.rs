//! `--cluster-public-url` as data planes meet it: its port defaults from
//! `--cluster-listen` (control planes' endpoints, the `docker run`), an explicit one wins,
//! a loopback host gets a note beside the `docker run`, and `dataplane new` writes the
//! data plane's key for its owner only.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{create, ping_auth_control_plane};
use crate::harness::process::{konnektd, run};
use crate::harness::{Backend, TestApp};

both_backends!(
    the_public_url_takes_the_cluster_listeners_port,
    an_explicit_public_url_wins_and_gets_no_note,
    dataplane_new_uses_the_listeners_port_notes_localhost_and_writes_its_key_0600,
);

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn generated(app: &TestApp, cp: &str) -> Value {
    create(
        app,
        &format!("/v2/control-planes/{cp}/dp-client-certificates/generate"),
        &json!({}),
    )
    .await
}

/// The report: with the listener on another port, control planes and the
/// `docker run` still said 8005.
async fn the_public_url_takes_the_cluster_listeners_port(backend: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_listen = format!("127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    let cp = app
        .create_control_plane(&json!({"name": "public-url"}))
        .await;
    let expected = format!("https://localhost:{port}");
    assert_eq!(cp["config"]["control_plane_endpoint"], expected);
    assert_eq!(cp["config"]["telemetry_endpoint"], expected);
    let new = generated(&app, cp["id"].as_str().unwrap()).await;
    let docker_run = new["docker_run"].as_str().unwrap();
    assert!(
        docker_run.contains(&format!(
            "-e \"KONG_CLUSTER_CONTROL_PLANE=localhost:{port}\""
        )),
        "{docker_run}"
    );
    // localhost in a container is the container: said first, as a shell comment.
    let (note, command) = docker_run.split_once('\n').unwrap();
    assert!(note.starts_with("# note: "), "{docker_run}");
    assert!(note.contains("--cluster-public-url"), "{note}");
    assert!(note.contains("host.docker.internal"), "{note}");
    assert!(command.starts_with("docker run -d \\\n"), "{docker_run}");
}

async fn an_explicit_public_url_wins_and_gets_no_note(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| {
        args.cluster_listen = "127.0.0.1:0".parse().unwrap();
        args.cluster_public_url = Some("https://cp.example.com:443".into());
    })
    .await;
    let cp = app
        .create_control_plane(&json!({"name": "public-url"}))
        .await;
    assert_eq!(
        cp["config"]["control_plane_endpoint"],
        "https://cp.example.com:443"
    );
    assert_eq!(
        cp["config"]["telemetry_endpoint"],
        "https://cp.example.com:443"
    );
    let new = generated(&app, cp["id"].as_str().unwrap()).await;
    let docker_run = new["docker_run"].as_str().unwrap();
    assert!(docker_run.starts_with("docker run -d \\\n"), "{docker_run}");
    assert!(docker_run.contains("-e \"KONG_CLUSTER_CONTROL_PLANE=cp.example.com:443\""));
}

/// `dataplane new` with `--cluster-listen 127.0.0.1:18405` and no public URL prints a
/// `docker run` for `localhost:18405`, the loopback note on stderr (stdout stays the
/// script), and writes `cluster.key` 0600; the server's generated keys are 0600 too.
async fn dataplane_new_uses_the_listeners_port_notes_localhost_and_writes_its_key_0600(
    backend: Backend,
) {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(backend).await;
    let (_, cp) = ping_auth_control_plane(&app).await;
    let data_dir = app.dir.path().join("data");
    let out = app.dir.path().join("dp");
    let (ok, stdout, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "new",
            "--control-plane",
            &cp,
            "--cluster-listen",
            "127.0.0.1:18405",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("docker run -d \\\n"), "{stdout}");
    assert!(
        stdout.contains("-e \"KONG_CLUSTER_CONTROL_PLANE=localhost:18405\" \\\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("inside a container localhost is"),
        "{stderr}"
    );
    assert!(stderr.contains("host.docker.internal"), "{stderr}");
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(out.join("cluster.key")), 0o600, "the data plane's key");
    assert_eq!(
        mode(data_dir.join("tls/cluster.key")),
        0o600,
        "the server key"
    );
    assert_eq!(
        mode(data_dir.join("tls/cluster-ca.key")),
        0o600,
        "the CA key"
    );

    let (ok, stdout, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "new",
            "--control-plane",
            &cp,
            "--cluster-listen",
            "127.0.0.1:18405",
            "--cluster-public-url",
            "https://konnektd.internal:18415",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("-e \"KONG_CLUSTER_CONTROL_PLANE=konnektd.internal:18415\" \\\n"),
        "{stdout}"
    );
    assert!(!stderr.contains("note:"), "{stderr}");
}
