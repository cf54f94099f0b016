//! Plugins, as the PingOne guide configures ping-auth (ping-auth-konnect-guide.md,
//! "Configuring the ping-auth plugin in Konnect"), with Kong's validation semantics
//! (schema-language.md §1.3) and Konnect's error bodies (api-contract.md §4.4).

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    the_guides_api_path_works_verbatim,
    ping_auth_configs_kong_rejects_get_kongs_messages,
    a_vault_reference_is_a_valid_shared_secret,
    unknown_plugins_and_missing_references_are_refused,
    one_plugin_per_name_and_scope,
    nested_collections_scope_plugins_to_their_parent,
    put_patch_and_rejected_writes_leave_nothing_half_done,
    deleting_a_service_deletes_its_plugins,
    a_schema_in_use_cannot_be_deleted,
    dry_run_validation_reports_every_error_and_stores_nothing,
    every_config_the_engine_accepts_round_trips_unchanged,
    deleting_a_control_plane_deletes_its_entities,
    each_schema_change_holds_for_the_next_plugin_write,
);

const PING_AUTH_BODY: &str = r#"{
  "name": "ping-auth",
  "enabled": true,
  "config": {
    "enable_debug_logging": true,
    "verify_service_certificate": false,
    "secret_header_name": "X-Ping-Secret",
    "service_url": "https://ping.example.com",
    "shared_secret": "s3cret"
  }
}"#;

fn guide_body() -> Value {
    serde_json::from_str(PING_AUTH_BODY).unwrap()
}

fn ping_auth_config(changes: Value) -> Value {
    let mut config = json!({
        "service_url": "https://ping.example.com",
        "shared_secret": "s",
        "secret_header_name": "X-Secret",
    });
    for (k, v) in changes.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"name": "ping-auth", "config": config})
}

/// A control plane with ping-auth's schema uploaded; returns its legacy base path
/// (`/konnect-api/api/runtime_groups/{id}`) and the id.
pub(crate) async fn ping_auth_control_plane(app: &TestApp) -> (String, String) {
    let cp = app.create_control_plane(&json!({"name": "ping"})).await;
    let id = cp["id"].as_str().unwrap().to_string();
    let base = format!("/konnect-api/api/runtime_groups/{id}");
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ping-auth/schema.lua"
    ))
    .unwrap();
    let response = app
        .post_json(
            &format!("{base}/v1/plugin-schemas"),
            &json!({ "lua_schema": source }),
        )
        .await;
    assert_eq!(response.status(), 201);
    (base, id)
}

/// Koko `details` as `(field, messages)` pairs.
type Details = Vec<(Option<String>, Value)>;

/// A Koko error body's `(field, messages)` pairs, after checking its envelope.
async fn koko(response: reqwest::Response, message: &str) -> Details {
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert_eq!(body["message"], message, "{body}");
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(
                d["@type"],
                "type.googleapis.com/kong.admin.model.v1.ErrorDetail"
            );
            (
                d["field"].as_str().map(str::to_string),
                d["messages"].clone(),
            )
        })
        .collect()
}

fn detail(field: &str, message: &str) -> (Option<String>, Value) {
    (Some(field.to_string()), json!([message]))
}

/// The guide's steps by API, verbatim: upload schema.lua, see it in available-plugins,
/// POST the ping-auth plugin, read it back with Kong's defaults filled.
async fn the_guides_api_path_works_verbatim(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, cp) = ping_auth_control_plane(&app).await;
    let available: Value = app
        .get(&format!("{base}/v1/available-plugins"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        available["names"]
            .as_array()
            .unwrap()
            .contains(&json!("ping-auth"))
    );
    assert!(available["schemas"]["ping-auth"]["fields"].is_array());

    let response = app
        .request(Method::POST, &format!("{base}/plugins"))
        .header("content-type", "application/json")
        .body(PING_AUTH_BODY)
        .send()
        .await
        .unwrap();
    let (status, created) = status_and_json(response).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let created_at = created["created_at"].as_i64().unwrap();
    assert!(
        created_at > 1_700_000_000 && created_at < 10_000_000_000,
        "seconds"
    );
    assert_eq!(created["updated_at"], created_at);
    assert_eq!(
        created,
        json!({
            "id": id,
            "name": "ping-auth",
            "enabled": true,
            "protocols": ["grpc", "grpcs", "http", "https"],
            "config": {
                "enable_debug_logging": true,
                "verify_service_certificate": false,
                "secret_header_name": "X-Ping-Secret",
                "service_url": "https://ping.example.com",
                "shared_secret": "s3cret",
                "connection_keepAlive_ms": 60000,
                "connection_timeout_ms": 10000,
            },
            "created_at": created_at,
            "updated_at": created_at,
        }),
        "unset fields (service, route, consumer, tags, instance_name) are left out"
    );
    let (status, read) = status_and_json(app.get(&format!("{base}/plugins/{id}")).await).await;
    assert_eq!((status, &read), (200, &created));
    for family in [
        format!("/v2/control-planes/{cp}/core-entities"),
        format!("/v2/runtime-groups/{cp}/core-entities"),
    ] {
        let (status, listed) = status_and_json(app.get(&format!("{family}/plugins")).await).await;
        assert_eq!(status, 200);
        assert_eq!(listed["data"], json!([created]), "{family}");
        assert_eq!(listed["next"], Value::Null);
    }
}

/// Each ping-auth config Kong refuses gets Kong's message at Kong's field
/// (schema-language.md §1.3, verified against Kong 3.10), flattened as Koko does.
async fn ping_auth_configs_kong_rejects_get_kongs_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugins = format!("{base}/plugins");
    let missing = "required field missing";
    let cases: Vec<(Value, Details)> = vec![
        (
            json!({"name": "ping-auth"}),
            vec![
                detail("config.secret_header_name", missing),
                detail("config.service_url", missing),
                detail("config.shared_secret", missing),
            ],
        ),
        (
            json!({"name": "ping-auth", "config": {}}),
            vec![
                detail("config.secret_header_name", missing),
                detail("config.service_url", missing),
                detail("config.shared_secret", missing),
            ],
        ),
        (
            ping_auth_config(json!({"service_url": "ftp://example.com"})),
            vec![detail(
                "config",
                "URL scheme must be either 'http' or 'https'",
            )],
        ),
        (
            ping_auth_config(json!({"service_url": "example.com"})),
            vec![detail(
                "config",
                "URL scheme must be either 'http' or 'https'",
            )],
        ),
        (
            ping_auth_config(json!({"service_url": "https://"})),
            vec![detail("config", "URL host cannot be blank")],
        ),
        (
            ping_auth_config(json!({"service_url": "", "shared_secret": ""})),
            vec![
                detail("config.service_url", "length must be at least 1"),
                detail("config.shared_secret", "length must be at least 1"),
            ],
        ),
        (
            ping_auth_config(json!({
                "service_url": 5, "shared_secret": true, "connection_timeout_ms": 0,
                "connection_keepAlive_ms": 1.5, "verify_service_certificate": "yes", "foo": 1,
            })),
            vec![
                detail("config.connection_keepAlive_ms", "expected an integer"),
                detail(
                    "config.connection_timeout_ms",
                    "value must be greater than 0",
                ),
                detail("config.foo", "unknown field"),
                detail("config.service_url", "expected a string"),
                detail("config.shared_secret", "expected a string"),
                detail("config.verify_service_certificate", "expected a boolean"),
            ],
        ),
        (
            json!({"name": "ping-auth", "config": null}),
            vec![detail("config", missing)],
        ),
        (
            json!({"name": "ping-auth", "config": "x"}),
            vec![detail("config", "expected a record")],
        ),
        (
            {
                let mut body = ping_auth_config(json!({}));
                body["consumer"] = json!({"id": "not-a-uuid"});
                body
            },
            vec![detail("consumer.id", "expected a valid UUID")],
        ),
        (
            {
                let mut body = ping_auth_config(json!({}));
                body["protocols"] = json!(["bogus"]);
                body
            },
            vec![detail(
                "protocols[0]",
                "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp",
            )],
        ),
        (
            {
                let mut body = ping_auth_config(json!({}));
                body["colour"] = json!("red");
                body
            },
            vec![detail("colour", "unknown field")],
        ),
    ];
    for (body, expected) in cases {
        let response = app.post_json(&plugins, &body).await;
        assert_eq!(koko(response, "validation error").await, expected, "{body}");
    }
    let (_, listed) = status_and_json(app.get(&plugins).await).await;
    assert_eq!(listed["data"], json!([]), "no rejected write was stored");

    // Accepted as Kong accepts them: mixed case kept as given, explicit null kept.
    let body = ping_auth_config(
        json!({"service_url": "HTTPS://E.COM/Path", "enable_debug_logging": null}),
    );
    let (status, created) = status_and_json(app.post_json(&plugins, &body).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["service_url"], "HTTPS://E.COM/Path");
    assert_eq!(created["config"]["enable_debug_logging"], Value::Null);
    assert!(
        created["config"]
            .as_object()
            .unwrap()
            .contains_key("enable_debug_logging")
    );
}

/// ping-auth 1.2.0 marks `shared_secret` referenceable: a vault reference is stored as
/// written and never resolved by the control plane.
async fn a_vault_reference_is_a_valid_shared_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let body = ping_auth_config(json!({"shared_secret": "{vault://env/ping-secret}"}));
    let (status, created) =
        status_and_json(app.post_json(&format!("{base}/plugins"), &body).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["config"]["shared_secret"],
        "{vault://env/ping-secret}"
    );
}

/// Koko's texts: an unknown plugin is a field error on `name`; a scope that does not
/// exist is a data constraint error on `<scope>.id` with Kong's foreign-key text.
async fn unknown_plugins_and_missing_references_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugins = format!("{base}/plugins");
    let response = app
        .post_json(&plugins, &json!({"name": "no-such-plugin", "config": {}}))
        .await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail("name", "plugin(no-such-plugin) does not exist")]
    );
    let response = app.post_json(&plugins, &json!({"config": {}})).await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail("name", "required field missing")]
    );
    let ghost = "7c1a1f9e-4b9f-4c53-9b8e-0a7f1f0e5a11";
    let mut body = ping_auth_config(json!({}));
    body["service"] = json!({"id": ghost});
    let response = app.post_json(&plugins, &body).await;
    let (status, error) = status_and_json(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"code": 3, "message": "data constraint error", "details": [{
            "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
            "type": "ERROR_TYPE_REFERENCE",
            "field": "service.id",
            "messages": [format!("the foreign key '{{id=\"{ghost}\"}}' does not reference an existing 'services' entity.")],
        }]})
    );
    let (_, listed) = status_and_json(app.get(&plugins).await).await;
    assert_eq!(listed["data"], json!([]));
}

/// Kong's plugins `cache_key`: one plugin per name and scope; the same plugin on
/// another scope is fine.
async fn one_plugin_per_name_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugins = format!("{base}/plugins");
    let body = ping_auth_config(json!({}));
    assert_eq!(app.post_json(&plugins, &body).await.status(), 201);
    let (status, error) = status_and_json(app.post_json(&plugins, &body).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"code": 3, "message": "data constraint error", "details": [{
            "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
            "type": "ERROR_TYPE_REFERENCE",
            "messages": ["unique-plugin-per-entity (type: unique) constraint failed for value 'ping-auth::::': "],
        }]})
    );
    let consumer: Value = app
        .post_json(&format!("{base}/consumers"), &json!({"username": "ann"}))
        .await
        .json()
        .await
        .unwrap();
    let mut scoped = body.clone();
    scoped["consumer"] = json!({"id": consumer["id"]});
    let (status, created) = status_and_json(app.post_json(&plugins, &scoped).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["consumer"], json!({"id": consumer["id"]}));
    let (_, listed) = status_and_json(app.get(&plugins).await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

/// `POST /services/{id or name}/plugins` scopes the plugin to the service; nested
/// reads only see that service's plugins.
async fn nested_collections_scope_plugins_to_their_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let service: Value = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "orders", "url": "http://orders.internal"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let global: Value = app
        .post_json(&format!("{base}/plugins"), &ping_auth_config(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let nested = format!("{base}/services/orders/plugins");
    let (status, scoped) =
        status_and_json(app.post_json(&nested, &ping_auth_config(json!({}))).await).await;
    assert_eq!(status, 201, "{scoped}");
    assert_eq!(scoped["service"], json!({"id": service["id"]}));
    let (_, listed) = status_and_json(app.get(&nested).await).await;
    assert_eq!(listed["data"], json!([scoped]));
    let other = format!("{nested}/{}", global["id"].as_str().unwrap());
    assert_eq!(
        app.get(&other).await.status(),
        404,
        "a global plugin is not the service's"
    );
    let by_id = format!(
        "{base}/services/{}/plugins/{}",
        service["id"].as_str().unwrap(),
        scoped["id"].as_str().unwrap()
    );
    let (status, read) = status_and_json(app.get(&by_id).await).await;
    assert_eq!((status, read), (200, scoped));
    let response = app.get(&format!("{base}/services/missing/plugins")).await;
    assert_eq!(response.status(), 404);
}

/// PUT creates or replaces by id; PATCH merges into `config` as Kong's does; a
/// rejected PUT or PATCH leaves the stored plugin exactly as it was.
async fn put_patch_and_rejected_writes_leave_nothing_half_done(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let id = "5b9c0c5e-35a2-4b7e-9b43-2f5dbd1d6f10";
    let item = format!("{base}/plugins/{id}");
    let put = |body: Value| {
        let app = &app;
        let item = item.clone();
        async move {
            status_and_json(
                app.request(Method::PUT, &item)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, created) = put(ping_auth_config(json!({}))).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], id);
    let (status, patched) = status_and_json(
        app.patch_json(&item, &json!({"config": {"connection_timeout_ms": 500}}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["config"]["connection_timeout_ms"], 500);
    assert_eq!(patched["config"]["service_url"], "https://ping.example.com");
    assert_eq!(patched["created_at"], created["created_at"]);

    let before = app.get(&item).await.text().await.unwrap();
    let response = app
        .patch_json(&item, &json!({"config": {"service_url": "ftp://x"}}))
        .await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail(
            "config",
            "URL scheme must be either 'http' or 'https'"
        )]
    );
    let (status, _) = put(ping_auth_config(json!({"connection_timeout_ms": -1}))).await;
    assert_eq!(status, 400);
    assert_eq!(app.get(&item).await.text().await.unwrap(), before);

    let (status, replaced) = put(ping_auth_config(json!({"secret_header_name": "X-Other"}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        replaced["config"]["connection_timeout_ms"], 10000,
        "PUT replaces"
    );
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(app.delete(&item).await.status(), 204);
    assert_eq!(app.delete(&item).await.status(), 204, "idempotent");
    assert_eq!(app.get(&item).await.status(), 404);
}

/// Kong's `on_delete = "cascade"` on plugins' foreign keys.
async fn deleting_a_service_deletes_its_plugins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let response = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "s", "host": "example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let plugin: Value = app
        .post_json(
            &format!("{base}/services/s/plugins"),
            &ping_auth_config(json!({})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("{base}/services/s")).await.status(),
        204
    );
    let plugin_path = format!("{base}/plugins/{}", plugin["id"].as_str().unwrap());
    assert_eq!(app.get(&plugin_path).await.status(), 404);
}

/// Konnect's answer when plugins still use a schema (DOCS-OLD update-custom-plugin.md).
async fn a_schema_in_use_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugin: Value = app
        .post_json(&format!("{base}/plugins"), &ping_auth_config(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let schema = format!("{base}/v1/plugin-schemas/ping-auth");
    let (status, body) = status_and_json(app.delete(&schema).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert_eq!(
        body["message"],
        "plugin schema is currently in use, please delete existing plugins using the schema and try again"
    );
    assert_eq!(app.get(&schema).await.status(), 200, "still there");
    let plugin_path = format!("{base}/plugins/{}", plugin["id"].as_str().unwrap());
    assert_eq!(app.delete(&plugin_path).await.status(), 204);
    assert_eq!(app.delete(&schema).await.status(), 204);
}

/// `POST .../schemas/plugins/validate`: Kong's dry run, every error at once.
async fn dry_run_validation_reports_every_error_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, id) = ping_auth_control_plane(&app).await;
    for validate in [
        format!("{base}/schemas/plugins/validate"),
        format!("/v2/control-planes/{id}/core-entities/schemas/plugins/validate"),
    ] {
        let (status, body) = status_and_json(app.post_json(&validate, &guide_body()).await).await;
        assert_eq!(
            (status, body),
            (200, json!({"message": "schema validation successful"}))
        );
        let bad =
            json!({"name": "ping-auth", "enabled": "yes", "config": {"service_url": "https://x"}});
        let response = app.post_json(&validate, &bad).await;
        assert_eq!(
            koko(response, "validation error").await,
            vec![
                detail("config.secret_header_name", "required field missing"),
                detail("config.shared_secret", "required field missing"),
                detail("enabled", "expected a boolean"),
            ]
        );
    }
    let (_, listed) = status_and_json(app.get(&format!("{base}/plugins")).await).await;
    assert_eq!(listed["data"], json!([]));
}

/// Generated configs for a schema with every common field type: whatever the API
/// accepts, it answers and stores exactly, with the given values kept and the rest
/// filled with their defaults; whatever it refuses leaves nothing behind.
async fn every_config_the_engine_accepts_round_trips_unchanged(backend: Backend) {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "prop"})).await;
    let base = format!(
        "/v2/control-planes/{}/core-entities",
        cp["id"].as_str().unwrap()
    );
    let schema = r#"return { name = "typed", fields = { { config = { type = "record", fields = {
        { s = { type = "string", len_max = 8, default = "d" } },
        { n = { type = "integer", between = { -5, 5 }, default = 0 } },
        { f = { type = "number", gt = 0.5 } },
        { b = { type = "boolean", default = false } },
        { tags = { type = "set", elements = { type = "string", one_of = { "x", "y", "z" } } } },
        { list = { type = "array", elements = { type = "integer" }, default = { 1, 2 } } },
        { m = { type = "map", keys = { type = "string" }, values = { type = "integer" } } },
        { r = { type = "record", fields = { { k = { type = "string", default = "kk" } } } } },
    } } } } }"#;
    let response = app
        .post_json(
            &format!("{base}/plugin-schemas"),
            &json!({"lua_schema": schema}),
        )
        .await;
    assert_eq!(response.status(), 201);

    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-8i64..8).prop_map(Value::from),
        (-2.0f64..2.0).prop_map(|f| json!(f)),
        "[a-z]{0,10}".prop_map(Value::from),
        Just(json!(["x", "y", "x"])),
        Just(json!([3, 1])),
        Just(json!({"a": 1})),
    ];
    let keys = ["s", "n", "f", "b", "tags", "list", "m", "r"];
    let configs = proptest::collection::vec((0..keys.len(), scalar), 0..6).prop_map(move |pairs| {
        let mut config = serde_json::Map::new();
        for (i, v) in pairs {
            config.insert(keys[i].to_string(), v);
        }
        Value::Object(config)
    });
    let mut runner = TestRunner::deterministic();
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..80 {
        let config = configs.new_tree(&mut runner).unwrap().current();
        let body = json!({"name": "typed", "config": config});
        let (status, answer) =
            status_and_json(app.post_json(&format!("{base}/plugins"), &body).await).await;
        match status {
            201 => {
                accepted += 1;
                for (k, v) in config.as_object().unwrap() {
                    let kept = &answer["config"][k];
                    let set_deduped = k == "tags" && v.is_array();
                    if !set_deduped {
                        assert_eq!(kept, v, "{k} of {config}");
                    }
                }
                let path = format!("{base}/plugins/{}", answer["id"].as_str().unwrap());
                let (_, read) = status_and_json(app.get(&path).await).await;
                assert_eq!(read, answer, "stored as answered");
                assert_eq!(app.delete(&path).await.status(), 204);
            }
            400 => refused += 1,
            other => panic!("{other} for {config}: {answer}"),
        }
    }
    assert!(
        accepted > 5 && refused > 5,
        "both outcomes generated: {accepted}/{refused}"
    );
    let (_, listed) = status_and_json(app.get(&format!("{base}/plugins")).await).await;
    assert_eq!(listed["data"], json!([]));
}

/// Deleting a control plane takes its services, routes, plugins and data-plane rows with
/// it, on both backends (the store's foreign keys cascade in one statement).
async fn deleting_a_control_plane_deletes_its_entities(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, cp) = ping_auth_control_plane(&app).await;
    let service: Value = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "s", "host": "example.com"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let route = app
        .post_json(
            &format!("{base}/services/s/routes"),
            &json!({"paths": ["/"]}),
        )
        .await;
    assert_eq!(route.status(), 201);
    let plugin = app
        .post_json(
            &format!("{base}/services/s/plugins"),
            &ping_auth_config(json!({})),
        )
        .await;
    assert_eq!(plugin.status(), 201);
    let control_plane = uuid::Uuid::parse_str(&cp).unwrap();
    let stored = app
        .store()
        .all_entities_by_kind(control_plane)
        .await
        .unwrap();
    assert_eq!(
        stored.values().map(Vec::len).sum::<usize>(),
        3,
        "{stored:?}"
    );
    assert_eq!(
        app.delete(&format!("/v2/control-planes/{cp}"))
            .await
            .status(),
        204
    );
    // Gone from the store itself, not only hidden behind the control plane's 404.
    let stored = app
        .store()
        .all_entities_by_kind(control_plane)
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
    assert_eq!(
        app.get(&format!("/v2/control-planes/{cp}")).await.status(),
        404
    );
    let service_path = format!("{base}/services/{}", service["id"].as_str().unwrap());
    assert_eq!(app.get(&service_path).await.status(), 404);
    app.shutdown().await;
}

/// A schema whose `config.n` must lie between 1 and `max`.
fn bounded_schema(max: u32) -> Value {
    json!({"lua_schema": format!(
        "return {{ name = 'bounded', fields = {{ {{ config = {{ type = 'record', fields = {{ \
         {{ n = {{ type = 'integer', between = {{ 1, {max} }} }} }} }} }} }} }} }}"
    )})
}

/// What a dry run of `{"name": "bounded", "config": {"n": 7}}` answers at `validate`:
/// the status and the messages of each field.
async fn bounded_verdict(app: &TestApp, validate: &str) -> (u16, Details) {
    let response = app
        .client
        .post(validate)
        .bearer_auth(&app.token)
        .json(&json!({"name": "bounded", "config": {"n": 7}}))
        .send()
        .await
        .unwrap();
    if response.status() == 200 {
        return (200, Vec::new());
    }
    (400, koko(response, "validation error").await)
}

/// Plugin writes look their schema up in a cache (store/plugin_schemas.rs): a schema
/// created, replaced or deleted holds for the very next plugin write, including a name
/// that was unknown a moment before.
async fn each_schema_change_holds_for_the_next_plugin_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "cached"})).await;
    let cp = cp["id"].as_str().unwrap();
    let schema = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas/bounded");
    let validate = app.url(&format!(
        "/v2/control-planes/{cp}/core-entities/schemas/plugins/validate"
    ));
    let unknown = (400, vec![detail("name", "plugin(bounded) does not exist")]);
    let too_big = (
        400,
        vec![detail("config.n", "value should be between 1 and 5")],
    );
    let put = |max| {
        app.request(Method::PUT, &schema)
            .json(&bounded_schema(max))
            .send()
    };

    for _ in 0..2 {
        assert_eq!(bounded_verdict(&app, &validate).await, unknown);
        assert_eq!(put(10).await.unwrap().status(), 200);
        assert_eq!(bounded_verdict(&app, &validate).await, (200, vec![]));
        assert_eq!(put(5).await.unwrap().status(), 200);
        assert_eq!(bounded_verdict(&app, &validate).await, too_big);
        assert_eq!(app.delete(&schema).await.status(), 204);
    }
    assert_eq!(bounded_verdict(&app, &validate).await, unknown);
    app.shutdown().await;
}

/// Two konnektd nodes on one PostgreSQL: a schema replaced or deleted on node A holds for
/// node B's plugin writes within a second, well inside the cache's 5 s lifetime, so it is
/// node A's notification that B acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_on_one_node_holds_for_plugin_writes_on_another() {
    use std::time::{Duration, Instant};

    if !crate::harness::postgres::available() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let secret = konnektd::domain::token::TokenSecret::parse(&app.token).unwrap();
    let other = konnektd::service::start(&crate::harness::serve_args(
        &app.database_url,
        &app.dir,
        &secret,
    ))
    .await
    .expect("node B starts");
    let cp = app
        .create_control_plane(&json!({"name": "two-nodes"}))
        .await;
    let cp = cp["id"].as_str().unwrap();
    let schema = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas/bounded");
    let on_b = format!(
        "http://{}/v2/control-planes/{cp}/core-entities/schemas/plugins/validate",
        other.addr
    );
    let put = |max| {
        app.request(Method::PUT, &schema)
            .json(&bounded_schema(max))
            .send()
    };
    // Node B answers within `limit` after the change, polled.
    let holds_on_b = async |wanted: (u16, Details), limit: Duration| {
        let started = Instant::now();
        loop {
            let verdict = bounded_verdict(&app, &on_b).await;
            if verdict == wanted {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "node B still answers {verdict:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    assert_eq!(put(10).await.unwrap().status(), 200);
    // Node B caches the source now; its LISTEN may still be connecting at start-up.
    holds_on_b((200, vec![]), Duration::from_secs(7)).await;
    assert_eq!(put(5).await.unwrap().status(), 200);
    let too_big = (
        400,
        vec![detail("config.n", "value should be between 1 and 5")],
    );
    let took = holds_on_b(too_big, Duration::from_secs(1)).await;
    eprintln!("a replaced schema held on node B after {took:?}");
    assert_eq!(app.delete(&schema).await.status(), 204);
    let unknown = (400, vec![detail("name", "plugin(bounded) does not exist")]);
    holds_on_b(unknown, Duration::from_secs(1)).await;
    other.shutdown().await;
    app.shutdown().await;
}
