//! The control plane's side of the data-plane tests, through the Admin API: a control
//! plane with a service, a route, ping-auth and a pinned certificate; its nodes; and the
//! checks every `reconfigure` must pass.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::certificates::{Creds, self_signed};
use super::core_entities::create;
use super::data_plane::{Dp, WAIT, open, outlet};
use super::kong_hash::kong_config_hashes;
use super::{TestApp, status_and_json};

/// The plugins the fake data plane announces: ping-auth and some of Kong's bundled ones.
pub const DP_PLUGINS: &[&str] = &["cors", "key-auth", "ping-auth", "rate-limiting"];

/// What [`fixture`] made: the control plane, its entities, a pinned certificate and the
/// CA data planes trust.
pub struct Fixture {
    pub cp: String,
    pub base: String,
    pub service: Value,
    pub route: Value,
    pub plugin: Value,
    pub creds: Creds,
    pub ca: String,
}

/// The cluster CA konnektd generated in its data dir.
pub fn ca_of(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("data/tls/cluster-ca.crt")).expect("cluster CA")
}

/// Pins `cert_pem` to the control plane; returns the pinned certificate's id.
pub async fn pin(app: &TestApp, cp: &str, cert_pem: &str) -> String {
    let body = create(
        app,
        &format!("/v2/control-planes/{cp}/dp-client-certificates"),
        &json!({"cert": cert_pem}),
    )
    .await;
    body["item"]["id"].as_str().unwrap().to_string()
}

/// A control plane with ping-auth's schema, one service, a route on it, ping-auth on
/// the service, and a pinned DP certificate.
pub async fn fixture(app: &TestApp) -> Fixture {
    let cp = app.create_control_plane(&json!({"name": "sync"})).await;
    let cp = cp["id"].as_str().unwrap().to_string();
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    create(
        app,
        &format!("/konnect-api/api/runtime_groups/{cp}/v1/plugin-schemas"),
        &json!({"lua_schema": source}),
    )
    .await;
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let service = create(
        app,
        &format!("{base}/services"),
        &json!({"name": "upstream", "host": "upstream.test"}),
    )
    .await;
    let route = create(
        app,
        &format!("{base}/routes"),
        &json!({"name": "r1", "paths": ["/r1"], "service": {"id": service["id"]}}),
    )
    .await;
    let plugin = create(
        app,
        &format!("{base}/plugins"),
        &json!({
            "name": "ping-auth",
            "service": {"id": service["id"]},
            "config": {
                "service_url": "https://ping.example.com",
                "shared_secret": "s3cret",
                "secret_header_name": "X-Ping-Secret",
            },
        }),
    )
    .await;
    let creds = self_signed("fake-dp");
    pin(app, &cp, &creds.cert_pem).await;
    Fixture {
        cp,
        base,
        service,
        route,
        plugin,
        creds,
        ca: ca_of(app.dir.path()),
    }
}

impl Fixture {
    pub async fn dp(&self, addr: SocketAddr, node_id: &str, version: &str) -> Dp {
        self.dp_as(addr, &self.creds, node_id, "fake-dp", version)
            .await
    }

    /// A data plane with other credentials or another hostname, upgraded.
    pub async fn dp_as(
        &self,
        addr: SocketAddr,
        creds: &Creds,
        node_id: &str,
        hostname: &str,
        version: &str,
    ) -> Dp {
        open(
            addr,
            &self.ca,
            Some(creds),
            &outlet(node_id, hostname, version),
            None,
        )
        .await
        .expect("upgrade")
    }
}

/// A new node id.
pub fn node_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The control plane's node list.
pub async fn nodes(app: &TestApp, cp: &str) -> Value {
    let (status, body) =
        status_and_json(app.get(&format!("/v2/control-planes/{cp}/nodes")).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The node once `check` holds (polled for a few seconds).
pub async fn node_when(app: &TestApp, cp: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = status_and_json(
            app.get(&format!("/v2/control-planes/{cp}/nodes/{id}"))
                .await,
        )
        .await;
        if status == 200 && check(&body["item"]) {
            return body["item"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "node {id} never matched: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What the DP must receive for an API entity: foreign keys as plain id strings.
pub fn as_exported(entity: &Value) -> Value {
    let mut e = entity.clone();
    for key in ["service", "route", "consumer", "consumer_group"] {
        if let Some(id) = e.get(key).and_then(|v| v.get("id")).cloned() {
            e[key] = id;
        }
    }
    for key in ["consumer_group", "ordering", "partials"] {
        if e.get(key).is_some_and(Value::is_null) {
            e.as_object_mut().unwrap().remove(key);
        }
    }
    e
}

/// An object without its null members.
pub fn without_nulls(v: &Value) -> Value {
    let mut map = v.as_object().unwrap().clone();
    map.retain(|_, v| !v.is_null());
    Value::Object(map)
}

/// An object's keys, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The reconfigure envelope as Kong's control plane sends it (docs/clustering.md,
/// "Reconfigure"), and its hashes recomputed by the test's Kong hash.
pub fn check_reconfigure(message: &Value) {
    assert_eq!(
        keys(message),
        ["config_hash", "config_table", "hashes", "timestamp", "type"]
    );
    assert_eq!(message["type"], "reconfigure");
    let ts = message["timestamp"].as_f64().expect("numeric timestamp");
    assert!((ts - now() as f64).abs() < 60.0, "timestamp {ts}");
    let hash = message["config_hash"].as_str().unwrap();
    assert!(
        hash.len() == 32
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{hash}"
    );
    assert_eq!(
        keys(&message["hashes"]),
        [
            "config",
            "plugins",
            "routes",
            "services",
            "targets",
            "upstreams"
        ]
    );
    assert_eq!(message["hashes"]["config"], message["config_hash"]);
    assert_eq!(
        message["hashes"],
        kong_config_hashes(&message["config_table"])
    );
}

/// The groups of `hashes` that differ between two reconfigures.
pub fn changed_groups(before: &Value, after: &Value) -> Vec<String> {
    let mut changed: Vec<String> = keys(&before["hashes"])
        .into_iter()
        .filter(|k| before["hashes"][k] != after["hashes"][k])
        .collect();
    changed.sort();
    changed
}

/// A second konnektd on `app`'s database and data dir (a restart, or another node).
pub async fn start_on(
    database_url: &str,
    dir: &tempfile::TempDir,
    token: &str,
) -> konnektd::startup::Running {
    let secret = konnektd::domain::token::TokenSecret::parse(token).unwrap();
    let args = super::serve_args(database_url, dir, &secret);
    konnektd::startup::start(&args)
        .await
        .expect("konnektd starts")
}
