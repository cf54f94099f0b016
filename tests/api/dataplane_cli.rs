//! `konnektd dataplane new` and `konnektd dataplane connect` against a running server:
//! the guide's "New Data Plane Node" step and a data plane syncing the ping-auth config;
//! `connect` holds what `dataplane connect` does over time (no config, restarts, refusals).

mod connect;
mod whole_config;

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::ping_auth_control_plane;
use crate::harness::process::{konnektd, run};
use crate::harness::{Backend, TestApp};

both_backends!(a_new_data_plane_connects_and_syncs_the_guides_config);

/// `dataplane new` pins a certificate and prints the guide's `docker run` filled in
/// for this konnektd; `dataplane connect` with that certificate receives the config
/// holding the ping-auth plugin, with the hash the API expects, and the node shows it.
async fn a_new_data_plane_connects_and_syncs_the_guides_config(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, cp) = ping_auth_control_plane(&app).await;
    let body = json!({"name": "ping-auth", "config": {
        "service_url": "https://ping.example.com", "shared_secret": "s", "secret_header_name": "X"}});
    assert_eq!(
        app.post_json(&format!("{base}/plugins"), &body)
            .await
            .status(),
        201
    );

    let data_dir = app.dir.path().join("data");
    let out = app.dir.path().join("dp");
    let cluster = app.cluster_addr();
    let public_url = format!("https://localhost:{}", cluster.port());
    let (ok, stdout, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "new",
            "--control-plane",
            &cp,
            "--cluster-public-url",
            &public_url,
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("docker run -d \\\n"), "{stdout}");
    for line in [
        "-v \"/plugins/kong/ping-auth:/usr/local/share/lua/5.1/kong/plugins/ping-auth\" \\",
        "-e \"KONG_PLUGINS=bundled,ping-auth\" \\",
        "-e \"KONG_LUA_PACKAGE_PATH=/usr/local/share/lua/5.1/kong/plugins/?.lua;;\" \\",
        "-e \"KONG_ROLE=data_plane\" \\",
        "-e \"KONG_CLUSTER_MTLS=pki\" \\",
        &format!(
            "-e \"KONG_CLUSTER_CONTROL_PLANE=localhost:{}\" \\",
            cluster.port()
        ),
        "-e \"KONG_CLUSTER_SERVER_NAME=localhost\" \\",
        "-e \"KONG_KONNECT_MODE=on\" \\",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line} in {stdout}");
    }
    let cert = std::fs::read_to_string(out.join("cluster.crt")).unwrap();
    assert!(stdout.contains(&format!("-e \"KONG_CLUSTER_CERT={}\"", cert.trim_end())));
    let listed: Value = app
        .get(&format!("/v2/control-planes/{cp}/dp-client-certificates"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"][0]["cert"], cert,
        "the certificate is pinned"
    );

    let node_id = uuid::Uuid::new_v4().to_string();
    let (ok, stdout, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "connect",
            "--address",
            &format!("localhost:{}", cluster.port()),
            "--cert",
            out.join("cluster.crt").to_str().unwrap(),
            "--key",
            out.join("cluster.key").to_str().unwrap(),
            "--ca-cert",
            out.join("cluster-ca.crt").to_str().unwrap(),
            "--node-id",
            &node_id,
            "--hostname",
            "cli-dp",
            "--plugins",
            "ping-auth,key-auth",
            "--exit-after",
            "1",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let expected: Value = app
        .get(&format!("/v2/control-planes/{cp}/expected-config-hash"))
        .await
        .json()
        .await
        .unwrap();
    let hash = expected["expected_hash"].as_str().unwrap();
    assert_eq!(stdout.trim(), format!("config {hash} plugins=1"));
    // The last ping may still be on its way when the client exits.
    let mut node = Value::Null;
    for _ in 0..40 {
        node = app
            .get(&format!("/v2/control-planes/{cp}/nodes/{node_id}"))
            .await
            .json()
            .await
            .unwrap();
        if node["item"]["config_hash"] == hash {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(node["item"]["hostname"], "cli-dp");
    assert_eq!(
        node["item"]["config_hash"], hash,
        "the data plane pinged the hash it applied"
    );
    assert_eq!(
        node["item"]["compatibility_status"]["state"],
        "COMPATIBILITY_STATE_FULLY_COMPATIBLE"
    );
}
