//! How many data planes one node serves, and what lets it serve 10,000: the explicit
//! `--cluster-max-connections` (a 503 that says which limit, before the upgrade) and
//! `serve` raising its own open-file limit (docs/clustering.md, "Limits").

use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, node_id};
use crate::harness::data_plane::{open, outlet};
use crate::harness::process::{BINARY, ServerProcess, konnektd};
use crate::harness::{Backend, TestApp, fresh_database};

both_backends!(
    a_connection_over_the_limit_gets_503_naming_it_and_a_freed_slot_is_taken_again,
    serve_raises_its_open_file_limit_to_the_hard_limit,
    status_batches_larger_than_one_transaction_write_every_row,
);

const FULL: &str = "this node serves its maximum of 2 data-plane connections \
                    (--cluster-max-connections): connect to another node or raise the limit";

async fn refused_as_full(
    app: &TestApp,
    ca: &str,
    creds: &crate::harness::certificates::Creds,
    path: &str,
) {
    match open(app.cluster_addr(), ca, Some(creds), path, None).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 503, "{path}");
            let body = response.body().as_deref().unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(body), FULL, "{path}");
        }
        Err(e) => panic!("{path}: expected 503, got {e}"),
        Ok(_) => panic!("{path}: expected 503, got an upgrade"),
    }
}

async fn a_connection_over_the_limit_gets_503_naming_it_and_a_freed_slot_is_taken_again(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |args| args.cluster_max_connections = 2).await;
    let f = fixture(&app).await;
    let mut first = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    first.first_config(DP_PLUGINS).await;
    // The RPC outlet's sessions count too: a 3.10 data plane holds one of each.
    let rpc = open(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        "/v2/outlet",
        None,
    )
    .await
    .expect("the second slot");
    for path in [outlet(&node_id(), "third", "3.10.0"), "/v2/outlet".into()] {
        refused_as_full(&app, &f.ca, &f.creds, &path).await;
    }
    drop(first);
    // The session notices the closed socket and gives its slot back.
    let started = Instant::now();
    let mut again = loop {
        match open(
            app.cluster_addr(),
            &f.ca,
            Some(&f.creds),
            &outlet(&node_id(), "again", "3.10.0"),
            None,
        )
        .await
        {
            Ok(dp) => break dp,
            Err(WsError::Http(r))
                if r.status() == 503 && started.elapsed() < Duration::from_secs(10) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the freed slot was not given back: {e}"),
        }
    };
    again.first_config(DP_PLUGINS).await;
    refused_as_full(
        &app,
        &f.ca,
        &f.creds,
        &outlet(&node_id(), "fourth", "3.10.0"),
    )
    .await;
    drop(rpc);
}

/// The soft and hard "Max open files" of a process.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_string(), fields[4].to_string())
}

/// nginx's `worker_rlimit_nofile`, done by the server itself: started with a soft limit of
/// 256, `serve` runs with the hard limit and says so.
async fn serve_raises_its_open_file_limit_to_the_hard_limit(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let (_, hard) = open_file_limits(std::process::id());
    if hard == "unlimited" {
        // The raise stops at fs.nr_open then (a unit test covers it); nothing to compare.
        return;
    }
    let template = konnektd(&url, dir.path());
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" \"$@\"", BINARY])
        .envs(
            template
                .as_std()
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?))),
        )
        .env_remove("KONNEKTD_BOOTSTRAP_TOKEN")
        .env_remove("KONNEKTD_LISTEN")
        .kill_on_drop(true);
    let mut server = ServerProcess::start(command)
        .await
        .expect("konnektd starts");
    let pid = server.child.id().unwrap();
    assert_eq!(open_file_limits(pid), (hard.clone(), hard.clone()));
    let raised = format!("raised the open-file limit to the hard limit before=256 now={hard}");
    assert!(
        server.log.iter().any(|l| l.contains(&raised)),
        "{:#?}",
        server.log
    );
    let _ = server.child.kill().await;
}

/// 10,000 data planes pinging their new hash after a change make one batch of 10,000 rows,
/// written in transactions of `NODES_PER_TRANSACTION`: every row lands, the last chunk's
/// too, and a second batch updates every row.
async fn status_batches_larger_than_one_transaction_write_every_row(backend: Backend) {
    use konnektd::domain::Timestamp;
    use konnektd::store::data_planes::{NODES_PER_TRANSACTION, Node};
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let cp: uuid::Uuid = f.cp.parse().unwrap();
    let store = &app.state().store;
    let count = 2 * NODES_PER_TRANSACTION + 1;
    let batch = |hash: &str| -> Vec<(uuid::Uuid, Node)> {
        (0..count)
            .map(|i| {
                let now = Timestamp::now();
                let node = Node {
                    id: format!("00000000-0000-4000-8000-{i:012}"),
                    hostname: format!("dp-{i}"),
                    version: "3.10.0.0".into(),
                    config_hash: hash.into(),
                    labels: serde_json::json!({}),
                    compatibility: serde_json::json!({"config_sync_status": "fully_compatible"}),
                    last_error: None,
                    cert_fingerprint: format!("{i:064x}"),
                    cert_expiry: now,
                    last_ping: now,
                    created_at: now,
                    updated_at: now,
                };
                (cp, node)
            })
            .collect()
    };
    for hash in ["a".repeat(32), "b".repeat(32)] {
        store.upsert_nodes(&batch(&hash)).await.unwrap();
        let nodes = store.nodes(cp).await.unwrap();
        assert_eq!(nodes.len(), count);
        assert!(nodes.iter().all(|n| n.config_hash == hash), "{hash}");
        let last = format!("00000000-0000-4000-8000-{:012}", count - 1);
        assert!(
            nodes
                .iter()
                .any(|n| n.id == last && n.hostname == format!("dp-{}", count - 1))
        );
    }
}
