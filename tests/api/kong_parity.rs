//! Issue 15, part 2: the classes where konnektd and Kong 3.10's schema library disagreed,
//! each answered now as Kong answers it, through the real server. Each test names the
//! Kong source it follows (repository Kong/kong; docs/schema-engine.md).

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, fetch, field_error, koko,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    plugin_tags_get_kongs_invalid_tag_message,
    plugin_instance_name_gets_kongs_utf8_name_message,
    url_host_and_ip_or_cidr_typedefs_answer_as_kongs,
    a_foreign_key_given_by_name_is_validated_against_its_entity_as_kong_does,
    config_false_is_treated_as_absent_as_kongs_adjust_field_for_context_does,
    a_config_key_named_at_entity_is_named_in_details,
    id_null_on_create_gets_an_id_as_konnect_gives_it,
    where_kongs_behaviour_is_an_accident_konnektd_keeps_its_own,
);

/// POSTs `body` and asserts Koko's `validation error` with exactly `details`.
async fn refused(app: &TestApp, path: &str, body: Value, details: Vec<Value>) {
    let (status, answer) = status_and_json(app.post_json(path, &body).await).await;
    assert_eq!(status, 400, "{body}: {answer}");
    assert_eq!(answer, koko("validation error", details), "{body}");
}

/// kong/db/schema/entities/plugins.lua `tags = typedefs.tags`; typedefs.lua
/// `validate_tag`: printable ASCII (the space too) but `,` and `/`, one error per tag.
async fn plugin_tags_get_kongs_invalid_tag_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    let plugins = format!("{base}/plugins");
    let message = |tag: &str| {
        format!(
            "invalid tag '{tag}': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
        )
    };
    refused(
        &app,
        &plugins,
        json!({"name": "key-auth", "tags": ["x/y", "a,b", "tab\t", "fine one", "ünï"]}),
        vec![
            field_error("tags[0]", &[&message("x/y")]),
            field_error("tags[1]", &[&message("a,b")]),
            field_error("tags[2]", &[&message("tab\t")]),
        ],
    )
    .await;
    let stored = create(
        &app,
        &plugins,
        &json!({"name": "key-auth", "tags": ["fine one", "ünï"]}),
    )
    .await;
    assert_eq!(stored["tags"], json!(["fine one", "ünï"]));
    app.shutdown().await;
}

/// kong/db/schema/entities/plugins.lua `instance_name = typedefs.utf8_name`; typedefs.lua
/// `validate_utf8_name`.
async fn plugin_instance_name_gets_kongs_utf8_name_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    let plugins = format!("{base}/plugins");
    refused(
        &app,
        &plugins,
        json!({"name": "key-auth", "instance_name": "bad name"}),
        vec![field_error(
            "instance_name",
            &["invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~"],
        )],
    )
    .await;
    let stored = create(
        &app,
        &plugins,
        &json!({"name": "key-auth", "instance_name": "kéy-auth_1.0~x"}),
    )
    .await;
    assert_eq!(stored["instance_name"], "kéy-auth_1.0~x");
    app.shutdown().await;
}

/// kong/db/schema/typedefs.lua `validate_url` (luasocket `url.parse`, the host checked
/// before the scheme), `validate_host` (kong/tools/ip.lua `normalize_ip`) and
/// `validate_ip_or_cidr` (`is_valid_ip_or_cidr`: resty.ipmatcher, glibc `inet_pton`), in
/// an uploaded schema, as a custom plugin uses them.
async fn url_host_and_ip_or_cidr_typedefs_answer_as_kongs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    let schema = r#"local typedefs = require "kong.db.schema.typedefs"
return { name = "typedef-user", fields = { { config = { type = "record", fields = {
  { url = typedefs.url }, { host = typedefs.host }, { ip = typedefs.ip_or_cidr },
} } } } }"#;
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/plugin-schemas"),
            &json!({ "lua_schema": schema }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let plugins = format!("{base}/plugins");
    let config = |config: Value| json!({"name": "typedef-user", "config": config});
    for (url, host, ip) in [
        ("http:/x", "0", "01.2.3.4"),
        ("http://:80", "5", "1.2.3.4/08"),
        ("example.com", "a:b:c", "::1/129"),
    ] {
        refused(
            &app,
            &plugins,
            config(json!({"url": url, "host": host, "ip": ip})),
            vec![
                field_error("config.host", &[&format!("invalid value: {host}")]),
                field_error("config.ip", &[&format!("invalid ip or cidr range: '{ip}'")]),
                field_error("config.url", &["missing host in url"]),
            ],
        )
        .await;
    }
    refused(
        &app,
        &plugins,
        config(json!({"url": "//example.com", "host": "example.com:80"})),
        vec![
            field_error("config.host", &["must not have a port"]),
            field_error("config.url", &["missing scheme in url"]),
        ],
    )
    .await;
    let stored = create(
        &app,
        &plugins,
        &config(json!({"url": "http://[::1]:8080/x", "host": "[::1]", "ip": "[::1]"})),
    )
    .await;
    assert_eq!(stored["config"]["host"], "[::1]");
    app.shutdown().await;
}

/// kong/db/schema/init.lua `Schema:validate_field`, foreign: a reference whose primary
/// key is invalid is validated against the referenced entity's schema, whose errors win.
/// A route reference skips the routes' subschema key (docs/schema-engine.md,
/// "Deliberate differences").
async fn a_foreign_key_given_by_name_is_validated_against_its_entity_as_kong_does(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    // key-auth refuses any consumer (`typedefs.no_consumer`): a plugin that takes one.
    let schema = r#"return { name = "scoped", fields = { { config = { type = "record",
  fields = { { a = { type = "string" } } } } } } }"#;
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/plugin-schemas"),
            &json!({ "lua_schema": schema }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let plugins = format!("{base}/plugins");
    refused(
        &app,
        &plugins,
        json!({"name": "scoped", "consumer": {"name": "x"}}),
        vec![field_error("consumer.name", &["unknown field"])],
    )
    .await;
    refused(
        &app,
        &plugins,
        json!({"name": "scoped", "consumer": {"username": "x"}}),
        vec![field_error("consumer.id", &["missing primary key"])],
    )
    .await;
    refused(
        &app,
        &plugins,
        json!({"name": "scoped", "service": {"name": "x", "port": "80"}}),
        vec![field_error("service.port", &["expected an integer"])],
    )
    .await;
    refused(
        &app,
        &plugins,
        json!({"name": "scoped", "route": {"name": "x"}}),
        vec![field_error("route.id", &["missing primary key"])],
    )
    .await;
    // Routes reference services the same way.
    refused(
        &app,
        &format!("{base}/routes"),
        json!({"paths": ["/"], "service": {"nmae": "x"}}),
        vec![field_error("service.nmae", &["unknown field"])],
    )
    .await;
    app.shutdown().await;
}

/// kong/db/schema/init.lua `adjust_field_for_context`: `value = value or
/// handle_missing_field(field, value)`, and `false` is Lua-falsy: `config: false` gets
/// the defaults an absent config gets, on create and on update.
async fn config_false_is_treated_as_absent_as_kongs_adjust_field_for_context_does(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    let plugins = format!("{base}/plugins");
    let defaults = json!({
        "key_names": ["apikey"], "hide_credentials": false, "anonymous": null,
        "key_in_header": true, "key_in_query": true, "key_in_body": false,
        "run_on_preflight": true, "realm": null
    });
    let created = create(
        &app,
        &plugins,
        &json!({"name": "key-auth", "config": false}),
    )
    .await;
    assert_eq!(created["config"], defaults, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{plugins}/{id}"),
            &json!({"config": {"hide_credentials": true}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let (status, patched) = status_and_json(
        app.patch_json(&format!("{plugins}/{id}"), &json!({"config": false}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["config"], defaults, "{patched}");
    app.shutdown().await;
}

/// kong/db/schema/init.lua `Schema:validate`: every unknown input key is `unknown field`,
/// one named `@entity` too; its detail names it.
async fn a_config_key_named_at_entity_is_named_in_details(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    refused(
        &app,
        &format!("{base}/plugins"),
        json!({"name": "key-auth", "config": {"@entity": ["x"]}}),
        vec![field_error("config.@entity", &["unknown field"])],
    )
    .await;
    app.shutdown().await;
}

/// `"id": null` on create. Kong's `process_auto_fields` generates an id only when it is
/// absent, so its insert reaches the database with a null id and fails; Konnect reads
/// `null` as unset and gives the entity an id, and so does konnektd: the entity can be
/// read, deleted, and its plugin scope used again.
async fn id_null_on_create_gets_an_id_as_konnect_gives_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    for (collection, body) in [
        ("plugins", json!({"id": null, "name": "key-auth"})),
        ("services", json!({"id": null, "host": "example.com"})),
        ("consumers", json!({"id": null, "username": "alice"})),
    ] {
        let path = format!("{base}/{collection}");
        let created = create(&app, &path, &body).await;
        let id = created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{created}");
        assert_eq!(fetch(&app, &format!("{path}/{id}")).await["id"], id);
        let deleted = app.delete(&format!("{path}/{id}")).await;
        assert_eq!(deleted.status(), 204, "{collection}");
    }
    // The global key-auth scope is free again.
    create(
        &app,
        &format!("{base}/plugins"),
        &json!({"id": null, "name": "key-auth"}),
    )
    .await;
    app.shutdown().await;
}

/// docs/schema-engine.md, "Deliberate differences": `config: 5` with entity checks
/// naming config fields makes Kong's checkers index a number (a 500); konnektd answers
/// the type error, and the entity checks find none of their fields. Integers above 2^53 are kept as written, where Kong's cjson rounds
/// them to doubles.
async fn where_kongs_behaviour_is_an_accident_konnektd_keeps_its_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "parity").await;
    let schema = r#"return { name = "checked", fields = { { config = { type = "record",
  fields = { { a = { type = "string" } }, { n = { type = "integer" } } } } } },
  entity_checks = { { at_least_one_of = { "config.a", "config.n" } } } }"#;
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/plugin-schemas"),
            &json!({ "lua_schema": schema }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let plugins = format!("{base}/plugins");
    refused(
        &app,
        &plugins,
        json!({"name": "checked", "config": 5}),
        vec![
            entity_error(&[
                "at least one of these fields must be non-empty: 'config.a', 'config.n'",
            ]),
            field_error("config", &["expected a record"]),
        ],
    )
    .await;
    let big: Value =
        serde_json::from_str(r#"{"name": "checked", "config": {"n": 9007199254740993}}"#).unwrap();
    let stored = create(&app, &plugins, &big).await;
    assert_eq!(stored["config"]["n"].to_string(), "9007199254740993");
    let id = stored["id"].as_str().unwrap();
    let read = fetch(&app, &format!("{plugins}/{id}")).await;
    assert_eq!(read["config"]["n"].to_string(), "9007199254740993");
    app.shutdown().await;
}
