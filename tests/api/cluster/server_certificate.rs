//! The cluster listener's server certificate follows `--cluster-public-url`: a generated
//! one is reissued by the same CA when the public host is new to it (data planes keep
//! trusting `cluster-ca.crt`), and one given by flag that does not cover the host is
//! served as it is, with a startup warning naming both.

use konnektd::domain::token::{TokenKind, TokenSecret};

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, ca_of, fixture, node_id};
use crate::harness::data_plane::{outlet, tls_to, upgrade};
use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, TestApp, fresh_database, serve_args};

both_backends!(
    a_restart_on_a_new_public_host_serves_it_under_the_same_ca,
    the_reissue_is_logged_naming_the_host,
    a_given_certificate_that_misses_the_public_host_gets_a_startup_warning,
);

/// The report: restarted with `--cluster-public-url https://konnektd.internal:…`,
/// a data plane verifying the server against `cluster-ca.crt` with server name
/// `konnektd.internal` (Kong's `KONG_CLUSTER_SERVER_NAME`) completes the handshake and
/// syncs; `cluster-ca.crt` is byte for byte what it was.
async fn a_restart_on_a_new_public_host_serves_it_under_the_same_ca(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let ca_before = std::fs::read(app.dir.path().join("data/tls/cluster-ca.crt")).unwrap();
    let refused = tls_to(
        app.cluster_addr(),
        &f.ca,
        Some(&f.creds),
        "konnektd.internal",
        &[b"http/1.1"],
    )
    .await;
    assert!(
        refused.is_err(),
        "the first certificate names localhost only"
    );
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let (url, token) = (app.database_url.clone(), app.token.clone());
    app.shutdown().await;

    let mut args = serve_args(&url, &dir, &TokenSecret::parse(&token).unwrap());
    args.cluster_public_url = Some("https://konnektd.internal:18415".into());
    let restarted = konnektd::startup::start(&args).await.expect("restarts");
    let ca_after = std::fs::read(dir.path().join("data/tls/cluster-ca.crt")).unwrap();
    assert_eq!(ca_after, ca_before, "cluster-ca.crt is unchanged");
    assert_eq!(ca_of(dir.path()), f.ca);

    let addr = restarted.cluster_addr;
    let tls = tls_to(
        addr,
        &f.ca,
        Some(&f.creds),
        "konnektd.internal",
        &[b"http/1.1"],
    )
    .await
    .expect("the server certificate is valid for konnektd.internal");
    let mut dp = upgrade(tls, addr, &outlet(&node_id(), "fake-dp", "3.10.0"), None)
        .await
        .expect("upgrade");
    let config = dp.first_config(DP_PLUGINS).await;
    assert!(config["config_hash"].is_string(), "{config}");
    drop(dp);
    // localhost still works: the names it had stay covered.
    tls_to(addr, &f.ca, Some(&f.creds), "localhost", &[b"http/1.1"])
        .await
        .expect("still valid for localhost");
    restarted.shutdown().await;
}

/// The real binary says what it did, naming the host, at the start that reissued it and
/// not at the next one.
async fn the_reissue_is_logged_naming_the_host(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let start = |public_url: Option<&str>| {
        let mut command = konnektd(&url, dir.path());
        command.env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose());
        if let Some(u) = public_url {
            command.env("KONNEKTD_CLUSTER_PUBLIC_URL", u);
        }
        ServerProcess::start(command)
    };
    let stop = |server: ServerProcess| async move {
        server.signal(15);
        server.wait().await
    };
    let reissued = |log: &[String]| {
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("reissued it for konnektd.internal"))
    };
    let first = start(None).await.expect("starts");
    let (_, log) = stop(first).await;
    assert!(!reissued(&log), "{log:#?}");
    let second = start(Some("https://konnektd.internal:18415"))
        .await
        .expect("restarts");
    let (_, log) = stop(second).await;
    assert!(reissued(&log), "{log:#?}");
    let third = start(Some("https://konnektd.internal:18415"))
        .await
        .expect("restarts");
    let (_, log) = stop(third).await;
    assert!(!reissued(&log), "covered now: {log:#?}");
}

/// `--cluster-cert` is the operator's: never replaced, but a startup WARN names the file
/// and the host it misses.
async fn a_given_certificate_that_misses_the_public_host_gets_a_startup_warning(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let given = dir.path().join("given");
    std::fs::create_dir_all(&given).unwrap();
    let files = konnektd::cluster::certificates::TlsFiles::in_data_dir(&given);
    konnektd::cluster::certificates::ensure_generated(&files, &["other.example".to_string()])
        .unwrap();
    let cert_before = std::fs::read(&files.cert).unwrap();
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let start = |public_url: &str| {
        let mut command = konnektd(&url, &dir.path().join("data"));
        command
            .env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose())
            .env("KONNEKTD_CLUSTER_CERT", &files.cert)
            .env("KONNEKTD_CLUSTER_CERT_KEY", &files.key)
            .env("KONNEKTD_CLUSTER_PUBLIC_URL", public_url);
        ServerProcess::start(command)
    };
    let warned = |log: &[String]| {
        log.iter().any(|l| {
            l.contains("WARN")
                && l.contains(&files.cert.display().to_string())
                && l.contains("does not cover konnektd.internal")
        })
    };
    let server = start("https://konnektd.internal:18415")
        .await
        .expect("starts");
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(warned(&log), "{log:#?}");
    assert_eq!(
        std::fs::read(&files.cert).unwrap(),
        cert_before,
        "not replaced"
    );

    let server = start("https://other.example:18415").await.expect("starts");
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(
        !log.iter().any(|l| l.contains("does not cover")),
        "{log:#?}"
    );
}
