//! Upstreams, targets, certificates, SNIs and CA certificates reach data planes as
//! Kong's declarative export writes them (`kong/db/declarative/export.lua`: whole rows,
//! nulls kept, foreign keys as plain ids), with Kong's group hashes for upstreams and
//! targets (`calculate_config_hash`), and older data planes get Kong's checkers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::cluster_fixture::{
    DP_PLUGINS, changed_groups, check_reconfigure, fixture, node_id,
};
use crate::harness::core_entities::create;
use crate::harness::{Backend, TestApp};

both_backends!(
    balancing_and_tls_entities_reach_the_data_plane_in_kongs_shape,
    older_data_planes_get_kongs_upstream_checkers,
);

fn one<'a>(config: &'a Value, group: &str) -> &'a Value {
    let items = config["config_table"][group]
        .as_array()
        .unwrap_or_else(|| panic!("{group}: {config}"));
    assert_eq!(items.len(), 1, "{group}");
    &items[0]
}

async fn balancing_and_tls_entities_reach_the_data_plane_in_kongs_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let first = dp.first_config(DP_PLUGINS).await;
    let wait = Duration::from_secs(5);

    let upstream = create(
        &app,
        &format!("{}/upstreams", f.base),
        &json!({"name": "backend.internal"}),
    )
    .await;
    let upstream_id = upstream["id"].as_str().unwrap();
    let after_upstream = dp.config(wait).await;
    check_reconfigure(&after_upstream);
    assert_eq!(
        changed_groups(&first, &after_upstream),
        ["config", "upstreams"]
    );
    // The whole row, nulls included (the API leaves them out).
    let exported = one(&after_upstream, "upstreams");
    assert_eq!(exported["host_header"], Value::Null);
    assert_eq!(exported["client_certificate"], Value::Null);
    assert_eq!(exported["healthchecks"]["active"]["https_sni"], Value::Null);
    assert_eq!(exported["name"], "backend.internal");

    let target = create(
        &app,
        &format!("{}/upstreams/{upstream_id}/targets", f.base),
        &json!({"target": "10.0.0.7", "weight": 50}),
    )
    .await;
    let after_target = dp.config(wait).await;
    check_reconfigure(&after_target);
    assert_eq!(
        changed_groups(&after_upstream, &after_target),
        ["config", "targets"]
    );
    let exported = one(&after_target, "targets");
    assert_eq!(exported["upstream"], json!(upstream_id));
    assert_eq!(exported["target"], "10.0.0.7:8000");
    assert_eq!(exported["id"], target["id"]);
    assert_eq!(exported["weight"], 50);

    let (cert, key) = {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["api.example.com".into()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    };
    let certificate = create(
        &app,
        &format!("{}/certificates", f.base),
        &json!({"cert": cert, "key": key}),
    )
    .await;
    let cert_id = certificate["id"].as_str().unwrap();
    dp.config(wait).await;
    create(
        &app,
        &format!("{}/certificates/{cert_id}/snis", f.base),
        &json!({"name": "api.example.com"}),
    )
    .await;
    let with_sni = dp.config(wait).await;
    check_reconfigure(&with_sni);
    // Not one of Kong's hash groups: only the rest (and so `config`) changes.
    assert_eq!(changed_groups(&after_target, &with_sni), ["config"]);
    let exported = one(&with_sni, "certificates");
    assert_eq!(
        (exported["cert"].clone(), exported["key"].clone()),
        (json!(cert), json!(key))
    );
    assert_eq!(exported["cert_alt"], Value::Null);
    let sni = one(&with_sni, "snis");
    assert_eq!(sni["certificate"], json!(cert_id));
    assert_eq!(sni["name"], "api.example.com");

    // The service's client certificate is a plain id too.
    let service_path = format!("{}/services/{}", f.base, f.service["id"].as_str().unwrap());
    let patched = app
        .patch_json(
            &service_path,
            &json!({"protocol": "https", "port": 443, "client_certificate": {"id": cert_id}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let with_client_cert = dp.config(wait).await;
    check_reconfigure(&with_client_cert);
    assert_eq!(
        one(&with_client_cert, "services")["client_certificate"],
        json!(cert_id)
    );

    // Deleting the upstream takes its targets: both groups change.
    assert_eq!(
        app.delete(&format!("{}/upstreams/{upstream_id}", f.base))
            .await
            .status(),
        204
    );
    let gone = dp.config(wait).await;
    check_reconfigure(&gone);
    assert_eq!(
        changed_groups(&with_client_cert, &gone),
        ["config", "targets", "upstreams"]
    );
    assert!(gone["config_table"].get("targets").is_none());
    app.shutdown().await;
}

/// Kong's checkers for upstreams: `latency` becomes `round-robin` before 3.2,
/// `use_srv_name` goes before 3.1, `updated_at` goes before 3.3.
async fn older_data_planes_get_kongs_upstream_checkers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    create(
        &app,
        &format!("{}/upstreams", f.base),
        &json!({"name": "lat", "algorithm": "latency"}),
    )
    .await;
    let mut old = f.dp(app.cluster_addr(), &node_id(), "3.0.1").await;
    let config = old.first_config(DP_PLUGINS).await;
    let upstream = one(&config, "upstreams");
    assert_eq!(upstream["algorithm"], "round-robin");
    assert!(upstream.get("use_srv_name").is_none() && upstream.get("updated_at").is_none());
    let mut current = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let config = current.first_config(DP_PLUGINS).await;
    let upstream = one(&config, "upstreams");
    assert_eq!(upstream["algorithm"], "latency");
    assert_eq!(upstream["use_srv_name"], false);
    app.shutdown().await;
}
