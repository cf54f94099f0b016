//! `konnektd token create|list|revoke` against the store of a running server.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::harness::process::{konnektd, run};
use crate::harness::{Backend, TestApp};

both_backends!(the_token_commands_work_while_the_server_runs);

/// `create` prints the token alone; it works at once; `list` shows it without its
/// secret; `revoke` ends it on the next request.
async fn the_token_commands_work_while_the_server_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let data_dir = app.dir.path().join("data");
    let cli = || konnektd(&app.database_url, &data_dir);

    let (ok, stdout, stderr) = run(
        cli(),
        &["token", "create", "--name", "ci", "--ttl-days", "30"],
    )
    .await;
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout:?}");
    let token = lines[0];
    assert!(token.starts_with("kpat_") && token.len() == 54, "{token}");
    let call = |t: String| {
        app.client
            .get(app.url("/v2/control-planes"))
            .bearer_auth(t)
            .send()
    };
    assert_eq!(
        call(token.to_string()).await.unwrap().status(),
        StatusCode::OK
    );

    let (ok, _, stderr) = run(cli(), &["token", "create", "--name", "ci"]).await;
    assert!(!ok, "an active name cannot be taken twice");
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, _, _) = run(
        cli(),
        &["token", "create", "--name", "x", "--ttl-days", "400"],
    )
    .await;
    assert!(!ok, "ttl over 365 days");
    let cp_id = uuid::Uuid::new_v4().to_string();
    let (ok, _, _) = run(
        cli(),
        &["token", "create", "--name", "x", "--control-plane", &cp_id],
    )
    .await;
    assert!(!ok, "--control-plane needs --system-account");

    // A scope naming no control plane would open nothing: refused, naming the id; a
    // malformed one is refused by the argument parser.
    let unknown = uuid::Uuid::new_v4().to_string();
    let robot = |cp: &str| {
        [
            "token",
            "create",
            "--name",
            "robot",
            "--system-account",
            "--control-plane",
            cp,
        ]
        .map(String::from)
    };
    let args = robot(&unknown);
    let (ok, stdout, stderr) = run(cli(), &args.each_ref().map(String::as_str)).await;
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("no control plane {unknown}")),
        "{stderr}"
    );
    let args = robot("not-a-uuid");
    let (ok, _, stderr) = run(cli(), &args.each_ref().map(String::as_str)).await;
    assert!(!ok, "a malformed id is refused");
    assert!(stderr.contains("invalid value 'not-a-uuid'"), "{stderr}");

    let cp = app.create_control_plane(&json!({"name": "scoped"})).await;
    let cp_id = cp["id"].as_str().unwrap();
    let (ok, stdout, stderr) = run(
        cli(),
        &[
            "token",
            "create",
            "--name",
            "robot",
            "--system-account",
            "--control-plane",
            cp_id,
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let spat = stdout.trim().to_string();
    assert!(spat.starts_with("spat_"), "{spat}");
    let own = app
        .client
        .get(app.url(&format!("/v2/control-planes/{cp_id}")))
        .bearer_auth(&spat)
        .send();
    assert_eq!(own.await.unwrap().status(), StatusCode::OK);

    let (ok, listing, _) = run(cli(), &["token", "list"]).await;
    assert!(ok);
    assert!(
        !listing.contains("kpat_") && !listing.contains("spat_"),
        "{listing}"
    );
    let row = |name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(&format!("{name}\t")))
            .map(str::to_string)
    };
    let ci = row("ci").expect("ci is listed");
    assert!(ci.contains("\tpat\tACTIVE\t"), "{ci}");
    let robot = row("robot").expect("robot is listed");
    assert!(robot.ends_with(cp_id), "{robot}");

    let (ok, _, stderr) = run(cli(), &["token", "revoke", "ci"]).await;
    assert!(ok, "{stderr}");
    // The server authenticates from memory; on PostgreSQL it hears the CLI's revocation
    // through a notification, which arrives a moment after the CLI exits
    // (src/store/token_cache.rs), on SQLite at the next request.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = call(token.to_string()).await.unwrap().status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} 10 s after the revocation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, listing, _) = run(cli(), &["token", "list"]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("ci\t") && l.contains("\tREVOKED\t")),
        "{listing}"
    );
    let (ok, _, stderr) = run(cli(), &["token", "revoke", "ci"]).await;
    assert!(!ok && stderr.contains("no active token"), "{stderr}");
    // The name is free again once revoked.
    let (ok, _, _) = run(cli(), &["token", "create", "--name", "ci"]).await;
    assert!(ok);
    app.shutdown().await;
}
