//! Kong 3.10's bundled plugins, validated by konnektd's own schemas (`src/lua/plugins/`):
//! a minimal config gets Kong's defaults, a wrong one Kong's texts, on both backends.
//! One file per group of plugins; each case names the Kong documentation or source it
//! follows.

mod ai;
mod auth;
mod functions;
mod logs;
mod traffic;

use serde_json::{Value, json};

use crate::harness::core_entities::koko;
use crate::harness::{Backend, TestApp, status_and_json};

/// What a plugin write should answer.
pub enum Expect {
    /// 201, and the stored `config` is exactly this (Kong's defaults written out).
    Stored(Value),
    /// 400 `validation error` with exactly these details.
    Refused(Vec<Value>),
}

/// One plugin write: the body's other fields (`protocols`, `enabled`, ...) may be given.
pub struct Case {
    pub plugin: &'static str,
    pub body: Value,
    pub expect: Expect,
}

/// A case posting `{"name": plugin, "config": config}`.
pub fn config(plugin: &'static str, config: Value, expect: Expect) -> Case {
    Case {
        plugin,
        body: json!({ "config": config }),
        expect,
    }
}

/// Runs every case against a fresh server of `backend`, each as a global plugin that is
/// deleted again, so cases of one plugin do not clash on Kong's one-per-scope rule.
pub async fn run(backend: Backend, cases: Vec<Case>) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "bundled"})).await;
    let plugins = format!(
        "/v2/control-planes/{}/core-entities/plugins",
        cp["id"].as_str().unwrap()
    );
    for case in cases {
        let mut body = case.body.clone();
        body["name"] = json!(case.plugin);
        let response = app.post_json(&plugins, &body).await;
        let warning = response.headers().get("warning").cloned();
        let (status, answer) = status_and_json(response).await;
        match &case.expect {
            Expect::Stored(config) => {
                assert_eq!(status, 201, "{} {body}: {answer}", case.plugin);
                assert_eq!(&answer["config"], config, "{} {body}", case.plugin);
                assert_eq!(warning, None, "{} is validated", case.plugin);
                let id = answer["id"].as_str().unwrap();
                let deleted = app.delete(&format!("{plugins}/{id}")).await;
                assert_eq!(deleted.status(), 204);
            }
            Expect::Refused(details) => {
                assert_eq!(status, 400, "{} {body}: {answer}", case.plugin);
                assert_eq!(
                    answer,
                    koko("validation error", details.clone()),
                    "{} {body}",
                    case.plugin
                );
            }
        }
    }
    app.shutdown().await;
}

crate::both_backends!(enterprise_plugins_are_stored_as_given_and_say_they_are_not_validated);

/// A Kong Enterprise plugin Konnect offers has no public schema: its config is stored as
/// given, and the answer says so; the bundled ones are validated and say nothing.
async fn enterprise_plugins_are_stored_as_given_and_say_they_are_not_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app
        .create_control_plane(&json!({"name": "enterprise"}))
        .await;
    let base = format!(
        "/v2/control-planes/{}/core-entities",
        cp["id"].as_str().unwrap()
    );
    let plugins = format!("{base}/plugins");
    let body = json!({"name": "openid-connect", "config": {"issuer": 5, "anything": [1]}});
    let response = app.post_json(&plugins, &body).await;
    let warning = response.headers().get("warning").cloned();
    let (status, created) = status_and_json(response).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"], body["config"]);
    assert_eq!(
        warning.unwrap().to_str().unwrap(),
        "299 - \"plugin 'openid-connect' is not validated: its schema is not public, so konnektd stores its config as given\""
    );
    let item = format!("{plugins}/{}", created["id"].as_str().unwrap());
    let fetched = app.get(&item).await;
    assert!(fetched.headers().contains_key("warning"));
    let (status, _) = status_and_json(
        app.get(&format!("{base}/schemas/plugins/openid-connect"))
            .await,
    )
    .await;
    assert_eq!(status, 404, "no public schema to serve");
    // A bundled plugin's schema is served, with Kong's defaults in it.
    let (status, schema) =
        status_and_json(app.get(&format!("{base}/schemas/plugins/key-auth")).await).await;
    assert_eq!(status, 200, "{schema}");
    let config = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f.get("config"))
        .unwrap();
    assert!(
        config.to_string().contains(r#""default":["apikey"]"#),
        "{config}"
    );
    app.shutdown().await;
}
