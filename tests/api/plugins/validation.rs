//! ping-auth configs through the guide's path and the validate endpoint: Kong's defaults
//! filled, Kong's messages for what it refuses, and every accepted config stored as given.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Details, PING_AUTH_BODY, detail, guide_body, koko, ping_auth_config};
use crate::both_backends;
use crate::harness::core_entities::ping_auth_control_plane;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    the_guides_api_path_works_verbatim,
    ping_auth_configs_kong_rejects_get_kongs_messages,
    a_vault_reference_is_a_valid_shared_secret,
    dry_run_validation_reports_every_error_and_stores_nothing,
    every_config_the_engine_accepts_round_trips_unchanged,
);

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
/// (docs/schema-engine.md, verified against Kong 3.10), flattened as Koko does.
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
                    // Kong fills a record given `false` as a missing one
                    // (`adjust_field_for_context`: `value or handle_missing_field`).
                    if k == "r" && v == &json!(false) {
                        assert_eq!(kept, &json!({"k": "kk"}), "{config}");
                    } else if !set_deduped {
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
