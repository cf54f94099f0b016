//! Issue 19's "Done when": a configuration using every kind a real gateway needs reaches
//! `konnektd dataplane connect --print-config` in the shape of Kong's declarative export
//! (`kong/db/declarative/export.lua` `export_config`: one array per DAO, under the DAO's
//! name, every foreign key as its plain id) with Kong's hash
//! (`kong/clustering/config_helper.lua`, recomputed by the test's own implementation), and
//! that hash is the one the API expects and the node reports.

use serde_json::{Map, Value, json};

use crate::both_backends;
use crate::harness::cluster_fixture::check_reconfigure;
use crate::harness::core_entities::{create, fetch, ping_auth_control_plane};
use crate::harness::process::{konnektd, run};
use crate::harness::{Backend, TestApp};

both_backends!(a_whole_gateway_config_reaches_the_data_plane_as_kong_exports_it);

/// `value` without `null` members, at every depth: the API leaves unset fields out
/// (docs/api.md, decision 6) where the export keeps them.
fn without_nulls_deep(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls_deep(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls_deep).collect()),
        other => other.clone(),
    }
}

/// An entity as the API answers it, with each reference (`{"id": ...}`) as its plain id:
/// what the export must hold for it.
fn as_kong_exports(entity: &Value) -> Value {
    let Value::Object(map) = without_nulls_deep(entity) else {
        panic!("an entity: {entity}");
    };
    let collapsed: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| match v {
            Value::Object(reference) if reference.len() == 1 && reference.contains_key("id") => {
                (k, reference["id"].clone())
            }
            other => (k, other),
        })
        .collect();
    Value::Object(collapsed)
}

/// The one row of `section` whose id is `entity`'s, compared whole with the API's answer.
fn assert_exported(table: &Value, section: &str, entity: &Value) {
    let rows = table[section]
        .as_array()
        .unwrap_or_else(|| panic!("no {section} in {table}"));
    let row = rows
        .iter()
        .find(|r| r["id"] == entity["id"])
        .unwrap_or_else(|| panic!("{} not in {section}: {rows:?}", entity["id"]));
    assert_eq!(
        without_nulls_deep(row),
        as_kong_exports(entity),
        "{section}"
    );
}

async fn a_whole_gateway_config_reaches_the_data_plane_as_kong_exports_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, cp) = ping_auth_control_plane(&app).await;
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let post = |path: &str, body: Value| {
        let path = format!("{base}/{path}");
        let app = &app;
        async move { create(app, &path, &body).await }
    };

    let service = post(
        "services",
        json!({"name": "orders", "url": "https://orders.internal:8443/v1"}),
    )
    .await;
    let route = post(
        "services/orders/routes",
        json!({"name": "orders", "paths": ["/orders"], "hosts": ["api.example.com"]}),
    )
    .await;
    let (cert_pem, key_pem) = {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["api.example.com".into()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    };
    let certificate = post("certificates", json!({"cert": cert_pem, "key": key_pem})).await;
    let cert_id = certificate["id"].as_str().unwrap();
    let sni = post(
        &format!("certificates/{cert_id}/snis"),
        json!({"name": "api.example.com"}),
    )
    .await;
    let upstream = post("upstreams", json!({"name": "orders.internal"})).await;
    let target = post(
        "upstreams/orders.internal/targets",
        json!({"target": "10.0.0.7:8443", "weight": 50}),
    )
    .await;
    let alice = post("consumers", json!({"username": "alice"})).await;
    let key_auth = post("consumers/alice/key-auth", json!({"key": "alice-key"})).await;
    let basic_auth = post(
        "consumers/alice/basic-auth",
        json!({"username": "alice", "password": "s3cret"}),
    )
    .await;
    let gold = post("consumer_groups", json!({"name": "gold"})).await;
    post(
        "consumer_groups/gold/consumers",
        json!({"consumer": "alice"}),
    )
    .await;
    let ping_auth = post(
        "plugins",
        json!({"name": "ping-auth", "config": {
            "service_url": "https://ping.example.com", "shared_secret": "s",
            "secret_header_name": "X"}}),
    )
    .await;
    let key_auth_plugin = post(
        "services/orders/plugins",
        json!({"name": "key-auth", "config": {"key_names": ["apikey"]}}),
    )
    .await;
    let rate_limiting = post(
        "plugins",
        json!({"name": "rate-limiting", "consumer_group": {"id": gold["id"]},
               "config": {"minute": 5, "policy": "local"}}),
    )
    .await;

    let data_dir = app.dir.path().join("data");
    let out = app.dir.path().join("dp");
    let (ok, _, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "new",
            "--control-plane",
            &cp,
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let node_id = uuid::Uuid::new_v4().to_string();
    let (ok, stdout, stderr) = run(
        konnektd(&app.database_url, &data_dir),
        &[
            "dataplane",
            "connect",
            "--address",
            &format!("localhost:{}", app.cluster_addr().port()),
            "--cert",
            out.join("cluster.crt").to_str().unwrap(),
            "--key",
            out.join("cluster.key").to_str().unwrap(),
            "--ca-cert",
            out.join("cluster-ca.crt").to_str().unwrap(),
            "--node-id",
            &node_id,
            "--print-config",
            "--exit-after",
            "1",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    let mut lines = stdout.lines();
    let announced = lines.next().expect("the config line");
    let printed: Value = serde_json::from_str(lines.next().expect("the config's JSON line"))
        .expect("one line of JSON");

    // Kong's hash, recomputed here from the printed table, is what the API expects and
    // what the data plane says it applied.
    check_reconfigure(&printed);
    let expected = fetch(
        &app,
        &format!("/v2/control-planes/{cp}/expected-config-hash"),
    )
    .await;
    let hash = expected["expected_hash"].as_str().unwrap();
    assert_eq!(printed["config_hash"], hash);
    assert_eq!(
        announced,
        format!(
            "config {hash} basicauth_credentials=1 certificates=1 consumer_group_consumers=1 \
             consumer_groups=1 consumers=1 keyauth_credentials=1 plugins=3 routes=1 \
             services=1 snis=1 targets=1 upstreams=1"
        )
    );

    let table = &printed["config_table"];
    let mut sections: Vec<&str> = table
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    sections.sort_unstable();
    assert_eq!(
        sections,
        [
            "_format_version",
            "_transform",
            "basicauth_credentials",
            "certificates",
            "consumer_group_consumers",
            "consumer_groups",
            "consumers",
            "keyauth_credentials",
            "parameters",
            "plugins",
            "routes",
            "services",
            "snis",
            "targets",
            "upstreams",
        ]
    );
    assert_eq!(table["_format_version"], "3.0");
    assert_eq!(table["_transform"], false);
    assert_eq!(
        table["parameters"],
        json!([{"key": "cluster_id", "value": cp}])
    );
    // The API answers a certificate with the names of its SNIs (Kong's certificates DAO
    // adds them on read); the export reads the table, which has no such column.
    let mut certificate = certificate.clone();
    certificate.as_object_mut().unwrap().remove("snis");
    for (section, entity) in [
        ("services", &service),
        ("routes", &route),
        ("certificates", &certificate),
        ("snis", &sni),
        ("upstreams", &upstream),
        ("targets", &target),
        ("consumers", &alice),
        ("keyauth_credentials", &key_auth),
        ("basicauth_credentials", &basic_auth),
        ("consumer_groups", &gold),
        ("plugins", &ping_auth),
        ("plugins", &key_auth_plugin),
        ("plugins", &rate_limiting),
    ] {
        assert_exported(table, section, entity);
    }
    // The references themselves, spelled out: plain ids.
    assert_eq!(table["routes"][0]["service"], service["id"]);
    assert_eq!(table["snis"][0]["certificate"], certificate["id"]);
    assert_eq!(table["targets"][0]["upstream"], upstream["id"]);
    assert_eq!(table["keyauth_credentials"][0]["consumer"], alice["id"]);
    assert_eq!(table["basicauth_credentials"][0]["consumer"], alice["id"]);
    assert_ne!(
        table["basicauth_credentials"][0]["password"], "s3cret",
        "stored hashed, never in clear"
    );
    let membership = &table["consumer_group_consumers"];
    assert_eq!(membership.as_array().unwrap().len(), 1, "{membership}");
    assert_eq!(membership[0]["consumer_group"], gold["id"]);
    assert_eq!(membership[0]["consumer"], alice["id"]);
    let plugin = |name: &str| {
        table["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} exported"))
            .clone()
    };
    assert_eq!(plugin("key-auth")["service"], service["id"]);
    assert_eq!(plugin("rate-limiting")["consumer_group"], gold["id"]);
    // Defaults filled in as Kong stores them, nulls kept in the config.
    assert_eq!(plugin("rate-limiting")["config"]["limit_by"], "consumer");
    assert_eq!(plugin("key-auth")["config"]["anonymous"], Value::Null);

    // The node reports the hash it applied (its last ping may still be on its way).
    let mut reported = Value::Null;
    for _ in 0..200 {
        let node = fetch(&app, &format!("/v2/control-planes/{cp}/nodes/{node_id}")).await;
        reported = node["item"]["config_hash"].clone();
        if reported == hash {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(reported, hash);
    app.shutdown().await;
}
