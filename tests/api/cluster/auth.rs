//! Which data planes get in: pinned and `pki_client_certs` certificates, expiry and
//! unpinning, node ids bound to their certificate, and the cluster listener's own
//! certificate (docs/threat-model.md, data planes).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::both_backends;
use crate::harness::certificates::{
    Creds, issued_by, kong_gen_cert_v1, self_signed, self_signed_until, test_ca, unix,
};
use crate::harness::cluster_fixture::{
    DP_PLUGINS, ca_of, check_reconfigure, fixture, keys, node_id, node_when, nodes, pin,
};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{Event, WAIT, open, outlet, tls_to};
use crate::harness::kong_hash::ZEROS;
use crate::harness::{Backend, TestApp};

both_backends!(
    a_data_plane_without_a_client_certificate_is_refused,
    an_unpinned_certificate_gets_401_and_no_node,
    an_unpinned_certificate_can_no_longer_connect,
    a_session_closes_when_its_certificate_expires,
    unpinning_closes_a_live_session,
    of_two_certificates_racing_for_one_node_id_the_first_keeps_it,
    a_node_id_is_bound_to_its_certificate,
    a_certificate_pinned_by_one_control_plane_cannot_be_pinned_by_another,
    a_generated_certificate_connects,
    a_kong_gen_cert_style_x509_v1_certificate_connects_when_pinned,
    pki_control_planes_trust_certificates_issued_by_an_uploaded_ca,
    certificate_files_given_by_flag_are_served_instead_of_generated_ones,
);

/// without a client certificate there is no HTTP response at all, and no node.
async fn a_data_plane_without_a_client_certificate_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let result = open(
        app.cluster_addr(),
        &f.ca,
        None,
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await;
    match result {
        Ok(_) => panic!("upgraded without a client certificate"),
        Err(WsError::Http(response)) => panic!("got HTTP {}", response.status()),
        Err(_) => {}
    }
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

/// a certificate nobody pinned gets 401 before the upgrade, and no node row.
async fn an_unpinned_certificate_gets_401_and_no_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let stranger = self_signed("stranger");
    let result = open(
        app.cluster_addr(),
        &f.ca,
        Some(&stranger),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await;
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("expected 401, got {e}"),
        Ok(_) => panic!("expected 401, got an upgrade"),
    }
    assert_eq!(nodes(&app, &f.cp).await["items"], json!([]));
}

async fn expect_401(addr: SocketAddr, ca: &str, creds: &Creds) {
    match open(
        addr,
        ca,
        Some(creds),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        Err(e) => panic!("expected 401, got {e}"),
        Ok(_) => panic!("expected 401, got an upgrade"),
    }
}

/// deleting the pinned certificate (204) makes the next connection with it fail (401).
async fn an_unpinned_certificate_can_no_longer_connect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let extra = self_signed("rotating");
    let id = pin(&app, &f.cp, &extra.cert_pem).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&extra),
        &outlet(&node_id(), "fake-dp", "3.10.0"),
        None,
    )
    .await
    .expect("pinned certificate connects");
    dp.first_config(DP_PLUGINS).await;
    drop(dp);
    let response = app
        .delete(&format!(
            "/v2/control-planes/{}/dp-client-certificates/{id}",
            f.cp
        ))
        .await;
    assert_eq!(response.status(), 204);
    expect_401(app.cluster_addr(), &f.ca, &extra).await;
    // The other pinned certificate is unaffected.
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
}

/// docs/threat-model.md, data planes: a session ends when its certificate's `notAfter` passes, with 1008
/// and the reason, without waiting for the next re-check.
async fn a_session_closes_when_its_certificate_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    // Long enough for pinning, TLS and the first config on a loaded machine.
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(8);
    let short = self_signed_until("short-lived", expires);
    pin(&app, &f.cp, &short.cert_pem).await;
    let mut dp = open(
        app.cluster_addr(),
        &f.ca,
        Some(&short),
        &outlet(&node_id(), "short-lived", "3.10.0"),
        None,
    )
    .await
    .expect("a certificate valid for 8 s more connects");
    dp.first_config(DP_PLUGINS).await;
    let close = dp
        .closed(Duration::from_secs(14))
        .await
        .expect("a close frame once it expires");
    assert_eq!(close, (1008, "the certificate has expired".to_string()));
    assert!(time::OffsetDateTime::now_utc() >= expires - time::Duration::seconds(1));
}

/// docs/threat-model.md, data planes: unpinning a certificate closes every live session using it within a
/// bounded time (here: 10 s), though they outnumber the re-checks the hub runs at once.
async fn unpinning_closes_a_live_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let extra = self_signed("rotating");
    let id = pin(&app, &f.cp, &extra.cert_pem).await;
    let mut sessions = Vec::new();
    for i in 0..6 {
        let mut dp = open(
            app.cluster_addr(),
            &f.ca,
            Some(&extra),
            &outlet(&node_id(), &format!("fake-dp-{i}"), "3.10.0"),
            None,
        )
        .await
        .unwrap();
        dp.first_config(DP_PLUGINS).await;
        sessions.push(dp);
    }
    let response = app
        .delete(&format!(
            "/v2/control-planes/{}/dp-client-certificates/{id}",
            f.cp
        ))
        .await;
    assert_eq!(response.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    for mut dp in sessions {
        loop {
            dp.ping(ZEROS).await;
            match dp.next(Duration::from_millis(500)).await {
                Some(Event::Closed(_)) => break,
                Some(Event::Pong(_)) | None => {}
                other => panic!("unexpected {other:?}"),
            }
            assert!(Instant::now() < deadline, "session still open after 10 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Two data planes with different pinned certificates claim one node id, both past the
/// handshake (which saw no row yet) before either says `basic_info`: the first to be
/// recorded keeps the id, the other is closed with 1008, and the row keeps its hostname.
async fn of_two_certificates_racing_for_one_node_id_the_first_keeps_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let other = self_signed("other-dp");
    pin(&app, &f.cp, &other.cert_pem).await;
    let n = node_id();
    let mut first = f
        .dp_as(app.cluster_addr(), &other, &n, "first", "3.10.0")
        .await;
    let mut second = f
        .dp_as(app.cluster_addr(), &f.creds, &n, "second", "3.10.0")
        .await;
    first.basic_info(DP_PLUGINS).await;
    node_when(&app, &f.cp, &n, |node| node["hostname"] == "first").await;
    second.basic_info(DP_PLUGINS).await;
    let close = second.closed(WAIT).await.expect("a close frame");
    assert_eq!(
        close,
        (
            1008,
            "this node_id is registered with another certificate".to_string()
        )
    );
    first.config(WAIT).await;
    first.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["hostname"], "first");
}

/// docs/threat-model.md, data planes (identity spoofing): another certificate reusing a node id is refused.
async fn a_node_id_is_bound_to_its_certificate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    let other = self_signed("other");
    pin(&app, &f.cp, &other.cert_pem).await;
    match open(
        app.cluster_addr(),
        &f.ca,
        Some(&other),
        &outlet(&n, "impostor", "3.10.0"),
        None,
    )
    .await
    {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 409),
        Err(e) => panic!("expected 409, got {e}"),
        Ok(_) => panic!("expected 409, got an upgrade"),
    }
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(node["hostname"], "fake-dp");
}

/// docs/threat-model.md, data planes: a control plane cannot pin another's data-plane certificate (which
/// would lock both out); 409, and the first control plane's data planes still connect.
async fn a_certificate_pinned_by_one_control_plane_cannot_be_pinned_by_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let other = create(&app, "/v2/control-planes", &json!({"name": "other"})).await;
    let response = app
        .post_json(
            &format!(
                "/v2/control-planes/{}/dp-client-certificates",
                other["id"].as_str().unwrap()
            ),
            &json!({"cert": f.creds.cert_pem}),
        )
        .await;
    assert_eq!(response.status(), 409);
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    assert_eq!(config["type"], "reconfigure");
}

/// The generate endpoint's key and certificate connect, trusting its `ca_cert` (the
/// cluster CA), by host name and by 127.0.0.1.
async fn a_generated_certificate_connects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let generated = create(
        &app,
        &format!(
            "/v2/control-planes/{}/dp-client-certificates/generate",
            f.cp
        ),
        &json!({}),
    )
    .await;
    assert_eq!(keys(&generated), ["ca_cert", "docker_run", "item", "key"]);
    assert_eq!(generated["ca_cert"], f.ca);
    let creds = Creds {
        cert_pem: generated["item"]["cert"].as_str().unwrap().into(),
        key_pem: generated["key"].as_str().unwrap().into(),
    };
    let docker_run = generated["docker_run"].as_str().unwrap();
    assert!(docker_run.contains(&format!(
        "-e \"KONG_CLUSTER_CERT={}\"",
        creds.cert_pem.trim_end()
    )));
    assert!(docker_run.contains(&format!(
        "-e \"KONG_CLUSTER_CERT_KEY={}\"",
        creds.key_pem.trim_end()
    )));
    let ca = generated["ca_cert"].as_str().unwrap();
    let n = node_id();
    let mut dp = open(
        app.cluster_addr(),
        ca,
        Some(&creds),
        &outlet(&n, "generated", "3.10.0"),
        None,
    )
    .await
    .expect("generated certificate connects");
    let config = dp.first_config(DP_PLUGINS).await;
    check_reconfigure(&config);
    assert_eq!(config["config_table"]["plugins"][0]["id"], f.plugin["id"]);
    // The server certificate also covers 127.0.0.1.
    tls_to(app.cluster_addr(), ca, Some(&creds), "127.0.0.1", &[])
        .await
        .expect("TLS by IP");
}

/// A Kong `gen_cert`-style certificate (X.509 v1, P-384, CN kong_clustering), pinned,
/// connects and receives config: konnektd does not make webpki parse it.
async fn a_kong_gen_cert_style_x509_v1_certificate_connects_when_pinned(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let v1 = kong_gen_cert_v1();
    expect_401(app.cluster_addr(), &f.ca, &v1).await;
    pin(&app, &f.cp, &v1.cert_pem).await;
    let n = node_id();
    let mut dp = f
        .dp_as(app.cluster_addr(), &v1, &n, "kong-v1", "3.10.0")
        .await;
    let config = dp.first_config(DP_PLUGINS).await;
    check_reconfigure(&config);
    let node = node_when(&app, &f.cp, &n, |_| true).await;
    assert_eq!(
        node["cert_details"],
        json!({"expiry_timestamp": unix(2035, 1, 1)})
    );
}

/// A `pki_client_certs` control plane accepts any certificate issued by its uploaded CA;
/// a certificate of another CA, or the same CA uploaded to a pinned control plane, is 401.
async fn pki_control_planes_trust_certificates_issued_by_an_uploaded_ca(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ca = ca_of(app.dir.path());
    let pki = app
        .create_control_plane(&json!({"name": "pki", "auth_type": "pki_client_certs"}))
        .await;
    let pki = pki["id"].as_str().unwrap();
    let (dp_ca_pem, dp_ca) = test_ca("dp ca");
    pin(&app, pki, &dp_ca_pem).await;
    let leaf = issued_by(&dp_ca, "leaf-1");
    let n = node_id();
    let mut dp = open(
        app.cluster_addr(),
        &ca,
        Some(&leaf),
        &outlet(&n, "pki-dp", "3.10.0"),
        None,
    )
    .await
    .expect("issued certificate connects");
    let config = dp.first_config(&[]).await;
    check_reconfigure(&config);
    assert_eq!(config["config_table"]["parameters"][0]["value"], json!(pki));
    node_when(&app, pki, &n, |node| node["hostname"] == "pki-dp").await;

    let (_, other_ca) = test_ca("other ca");
    expect_401(app.cluster_addr(), &ca, &issued_by(&other_ca, "leaf-2")).await;

    let pinned = app
        .create_control_plane(&json!({"name": "pinned", "auth_type": "pinned_client_certs"}))
        .await;
    let pinned = pinned["id"].as_str().unwrap();
    let (third_pem, third) = test_ca("third ca");
    pin(&app, pinned, &third_pem).await;
    expect_401(app.cluster_addr(), &ca, &issued_by(&third, "leaf-3")).await;
}

/// `--cluster-cert`, `--cluster-cert-key` and `--cluster-ca-cert`: konnektd serves the given
/// certificate and generates nothing; a data plane trusting the given CA syncs.
async fn certificate_files_given_by_flag_are_served_instead_of_generated_ones(backend: Backend) {
    let mut given = None;
    let app = TestApp::spawn_with(backend, |args| {
        let dir = args.store.data_dir.parent().unwrap().join("given");
        let files = konnektd::cluster::certificates::TlsFiles::in_data_dir(&dir);
        konnektd::cluster::certificates::ensure_generated(&files, &["localhost".to_string()])
            .unwrap();
        args.cluster_cert = Some(files.cert.clone());
        args.cluster_cert_key = Some(files.key.clone());
        args.cluster_ca_cert = Some(files.ca_cert.clone());
        given = Some(files);
    })
    .await;
    let given = given.unwrap();
    let generated = app.dir.path().join("data/tls");
    assert!(!generated.join("cluster.crt").exists(), "nothing generated");
    assert!(
        !generated.join("cluster-ca.crt").exists(),
        "nothing generated"
    );
    // The fixture trusts `<data dir>/tls/cluster-ca.crt`: make that the given CA.
    std::fs::create_dir_all(&generated).unwrap();
    std::fs::copy(&given.ca_cert, generated.join("cluster-ca.crt")).unwrap();
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = dp.first_config(DP_PLUGINS).await;
    assert_eq!(config["type"], "reconfigure");
}
