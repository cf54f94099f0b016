//! Custom plugin schemas, as the PingOne guide uploads them
//! (PingOne's "Configuring Kong Konnect for PingOne Authorize integration",
//! docs.pingidentity.com, section "Adding the ping-auth plugin to your control plane").

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, fixture, status_and_json};

both_backends!(
    the_guides_upload_creates_the_schema_and_available_plugins_lists_it,
    every_url_family_serves_the_same_schemas,
    put_creates_or_replaces_and_delete_removes,
    invalid_uploads_get_400_with_luas_or_kongs_text_and_store_nothing,
    hostile_schemas_are_contained_and_the_server_stays_up,
    metaschema_errors_name_the_field_path_not_a_table_dump,
);

async fn control_plane(app: &TestApp) -> String {
    let cp = app.create_control_plane(&json!({"name": "ping"})).await;
    cp["id"].as_str().unwrap().to_string()
}

/// A legacy error body: its `request_id` is the response's `x-request-id`.
async fn legacy_error(response: reqwest::Response) -> (u16, String) {
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, body) = status_and_json(response).await;
    assert_eq!(body["request_id"], id, "{body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only message and request_id: {body}"
    );
    (status, body["message"].as_str().unwrap().to_string())
}

/// The guide's `curl -X POST .../runtime_groups/{id}/v2/plugin-schemas` with the escaped
/// schema gets 201; available-plugins lists ping-auth with its schema; the JSON schema
/// is Kong's rendering.
async fn the_guides_upload_creates_the_schema_and_available_plugins_lists_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = control_plane(&app).await;
    let source = fixture("ping-auth/schema.lua");
    // The guide builds the body as {"lua_schema": <the file as one escaped JSON string>}.
    let body = format!(
        "{{\"lua_schema\": {}}}",
        serde_json::to_string(&source).unwrap()
    );
    let response = app
        .request(
            Method::POST,
            &format!("/konnect-api/api/runtime_groups/{cp}/v2/plugin-schemas"),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, created) = status_and_json(response).await;
    assert_eq!(status, 201, "{created}");
    let item = &created["item"];
    assert_eq!(item["name"], "ping-auth");
    assert_eq!(
        item["lua_schema"],
        source.as_str(),
        "the source is kept verbatim"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let created_at = item["created_at"].as_i64().expect("integer seconds");
    assert!((now - created_at).abs() < 60, "{created_at} vs {now}");
    assert_eq!(item["updated_at"], item["created_at"]);

    let (status, available) = status_and_json(
        app.get(&format!(
            "/konnect-api/api/runtime_groups/{cp}/v1/available-plugins"
        ))
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = available["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"ping-auth") && names.contains(&"rate-limiting"),
        "{names:?}"
    );
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    let expected: Value = serde_json::from_str(&fixture("ping-auth/schema.json")).unwrap();
    let offered = &available["schemas"]["ping-auth"];
    let config = offered["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f.get("config"))
        .unwrap();
    assert_eq!(config, &expected["fields"][0]["config"]);

    let (status, schema) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{cp}/core-entities/schemas/plugins/ping-auth"
        ))
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&schema, offered);
    let field_names: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(
        field_names,
        [
            "id",
            "name",
            "instance_name",
            "created_at",
            "updated_at",
            "route",
            "service",
            "consumer",
            "config",
            "protocols",
            "enabled",
            "tags"
        ]
    );
    assert_eq!(
        schema["fields"][9]["protocols"]["default"],
        json!(["grpc", "grpcs", "http", "https"])
    );

    // A second control plane does not see the first one's schema.
    let other = app.create_control_plane(&json!({"name": "other"})).await;
    let other = other["id"].as_str().unwrap();
    let (_, available) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{other}/core-entities/v1/available-plugins"
        ))
        .await,
    )
    .await;
    assert!(
        !available["names"]
            .as_array()
            .unwrap()
            .contains(&json!("ping-auth"))
    );
    assert_eq!(available["schemas"], json!({}));
    let response = app
        .get(&format!(
            "/v2/control-planes/{other}/core-entities/schemas/plugins/ping-auth"
        ))
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["code"], 5,
        "core-entities errors are Koko-shaped: {body}"
    );
    app.shutdown().await;
}

/// The current, pre-rename and legacy families are one collection.
async fn every_url_family_serves_the_same_schemas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = control_plane(&app).await;
    let families = [
        format!("/v2/control-planes/{cp}/core-entities/plugin-schemas"),
        format!("/v2/runtime-groups/{cp}/core-entities/plugin-schemas"),
        format!("/konnect-api/api/runtime_groups/{cp}/v1/plugin-schemas"),
        format!("/konnect-api/api/runtime_groups/{cp}/v2/plugin-schemas"),
    ];
    let response = app
        .post_json(
            &families[1],
            &json!({"lua_schema": fixture("ping-auth/schema.lua")}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mut bodies = Vec::new();
    for base in &families {
        let (status, list) = status_and_json(app.get(base).await).await;
        assert_eq!(status, 200, "{base}");
        assert_eq!(list["page"], json!({"total_count": 1}), "{base}");
        assert_eq!(list["items"][0]["name"], "ping-auth");
        let (status, one) = status_and_json(app.get(&format!("{base}/ping-auth")).await).await;
        assert_eq!(status, 200, "{base}");
        bodies.push(one);
        let (status, message) = legacy_error(
            app.post_json(
                base,
                &json!({"lua_schema": fixture("ping-auth/schema.lua")}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, message.as_str()),
            (
                409,
                "a plugin schema named 'ping-auth' already exists in this control plane"
            )
        );
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let (status, body) =
        crate::harness::problem(app.get(&format!("{}?page[size]=0", families[0])).await).await;
    assert_eq!(status, 400, "list parameter errors are problems");
    assert_eq!(body["invalid_parameters"][0]["field"], "page[size]");
    let missing = uuid::Uuid::new_v4();
    let (status, message) = legacy_error(
        app.get(&format!(
            "/v2/control-planes/{missing}/core-entities/plugin-schemas/ping-auth"
        ))
        .await,
    )
    .await;
    assert_eq!((status, message.as_str()), (404, "control plane not found"));
    app.shutdown().await;
}

/// PUT creates or replaces (keeping `created_at`), refuses a mismatched name; DELETE is
/// 204 then 404.
async fn put_creates_or_replaces_and_delete_removes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = control_plane(&app).await;
    let base = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let v1 = "return { name = 'mine', fields = { { config = { type = 'record', fields = { { a = { type = 'string' } } } } } } }";
    let v2 = "return { name = 'mine', fields = { { config = { type = 'record', fields = { { b = { type = 'integer', default = 3 } } } } } } }";
    let put = |src: &str| {
        app.request(Method::PUT, &format!("{base}/mine"))
            .json(&json!({"lua_schema": src}))
            .send()
    };
    let (status, first) = status_and_json(put(v1).await.unwrap()).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = status_and_json(put(v2).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(second["item"]["lua_schema"], v2);
    assert_eq!(second["item"]["created_at"], first["item"]["created_at"]);
    let (_, schema) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{cp}/core-entities/schemas/plugins/mine"
        ))
        .await,
    )
    .await;
    assert_eq!(
        schema["fields"][8]["config"]["fields"][0]["b"]["default"],
        3
    );

    let response = app
        .request(Method::PUT, &format!("{base}/other"))
        .json(&json!({"lua_schema": v1}))
        .send()
        .await
        .unwrap();
    let (status, message) = legacy_error(response).await;
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "the schema is named 'mine', but the path names 'other'"
        )
    );

    let response = app.delete(&format!("{base}/mine")).await;
    assert_eq!(response.status(), 204);
    let (status, message) = legacy_error(app.get(&format!("{base}/mine")).await).await;
    assert_eq!(
        (status, message.as_str()),
        (404, "plugin schema 'mine' not found")
    );
    assert_eq!(app.delete(&format!("{base}/mine")).await.status(), 404);
    app.shutdown().await;
}

/// Each bad upload gets one 400 naming the problem; the collection stays empty.
async fn invalid_uploads_get_400_with_luas_or_kongs_text_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |a| a.max_lua_schema_size = 4096).await;
    let cp = control_plane(&app).await;
    let base = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "missing schema field"),
        (json!({"lua_schema": 5}), "lua_schema must be a string"),
        (
            json!({"lua_schema": "return {}", "extra": 1}),
            "unknown field 'extra'",
        ),
        (
            json!({"lua_schema": "-- big\n".repeat(600)}),
            "lua_schema is larger than the limit of 4096 bytes",
        ),
        (
            json!({"lua_schema": "return {"}),
            "[string \"return {\"]:1: unexpected symbol near '<eof>'",
        ),
        (
            json!({"lua_schema": "-- This is generated code\nlocal t = nil\nreturn t.x"}),
            "[string \"-- This is generated code...\"]:3: attempt to index local 't' (a nil value)",
        ),
        (
            json!({"lua_schema": "return nil"}),
            "invalid schema for plugin: cannot be empty",
        ),
        (
            json!({"lua_schema": "return {}"}),
            "2 schema violations (fields: field required for entity check; name: field required for entity check)",
        ),
        (
            json!({"lua_schema": fixture("schemas/metaschema-string-between.lua")}),
            "schema violation (a: field of type 'string' cannot have attribute 'between')",
        ),
        (
            json!({"lua_schema": "return { name = 'rate-limiting', fields = {} }"}),
            "unique constraint failed: schema already exists for plugin 'rate-limiting'",
        ),
        (
            json!({"lua_schema": "return { name = 'x', fields = {} }", "name": "y"}),
            "invalid plugin schema: name is derived from the plugin schema and must match if set",
        ),
    ];
    for (body, expected) in cases {
        let (status, message) = legacy_error(app.post_json(&base, &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(message, expected, "{body}");
    }
    let (status, message) = legacy_error(
        app.post_json(
            &base,
            &json!({"lua_schema": fixture("schemas/requires-other.lua")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message.ends_with("require 'kong.plugins.foo.handler' not allowed within sandbox"),
        "{message}"
    );
    let (_, list) = status_and_json(app.get(&base).await).await;
    assert_eq!(list["page"]["total_count"], 0);
    app.shutdown().await;
}

/// Kong answers a type typo with its metaschema's `one_of` message, `expected one of: %s`
/// (`kong/db/schema/init.lua`, `validation_errors.ONE_OF`; the `type` attribute is
/// `one_of = tablex.keys(Schema.valid_types)` in `kong/db/schema/metaschema.lua`), inside a
/// penlight dump of the error table under `fields.1`. konnektd keeps the words, the 400 and
/// the legacy body, and names the field path instead of the table.
async fn metaschema_errors_name_the_field_path_not_a_table_dump(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = control_plane(&app).await;
    let base = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let types =
        "map, record, string, array, json, number, integer, set, function, foreign, boolean";
    let typo = r#"return { name = "typo", fields = { { config = { type = "record", fields = {
        { url = { type = "string", required = true } },
        { connection_timeout_ms = { type = "interger", default = 5000 } },
    } } } } }"#;
    let nested = r#"return { name = "nested", fields = { { config = { type = "record", fields = {
        { nested = { type = "record", fields = { { field = { type = "strnig" } } } } },
    } } } } }"#;
    let several = r#"return { name = "several", fields = { { config = { type = "record", fields = {
        { retries = { type = "numbr" } },
        { headers = { type = "array", elements = { type = "sting" } } },
        { mode = { type = "string", legacy = true } },
        { size = { type = "string", between = { 1, 5 } } },
    } } } } }"#;
    let cases = [
        (
            typo,
            format!(
                "schema violation (config.connection_timeout_ms.type: expected one of: {types})"
            ),
        ),
        (
            nested,
            format!("schema violation (config.nested.field.type: expected one of: {types})"),
        ),
        (
            several,
            format!(
                "4 schema violations (config.headers.elements.type: expected one of: {types}; \
                 config.mode.legacy: unknown field; \
                 config.retries.type: expected one of: {types}; \
                 size: field of type 'string' cannot have attribute 'between')"
            ),
        ),
    ];
    for (source, expected) in cases {
        let (status, message) =
            legacy_error(app.post_json(&base, &json!({"lua_schema": source})).await).await;
        assert_eq!(status, 400, "{source}");
        assert_eq!(message, expected);
    }
    let (_, list) = status_and_json(app.get(&base).await).await;
    assert_eq!(list["page"]["total_count"], 0);
    app.shutdown().await;
}

/// docs/threat-model.md (Lua sandbox layers): escapes find nothing, resource bombs stop within the deadline (plus
/// a margin), and the server answers afterwards.
async fn hostile_schemas_are_contained_and_the_server_stays_up(backend: Backend) {
    let deadline = Duration::from_millis(300);
    let app = TestApp::spawn_with(backend, |a| {
        a.lua_timeout = deadline;
        a.lua_memory_limit = 32 << 20;
    })
    .await;
    let cp = control_plane(&app).await;
    let base = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let nested = format!("return {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "A9 os.exit",
            "os.exit(7)",
            "attempt to index global 'os' (a nil value)".into(),
        ),
        (
            "A9 io",
            "io.open('/etc/passwd')",
            "attempt to index global 'io' (a nil value)".into(),
        ),
        (
            "A1 bytecode",
            "return loadstring(string.dump(function() end))()",
            "attempt to call field 'dump' (a nil value)".into(),
        ),
        (
            "A3 ffi",
            "return require('ffi')",
            "require 'ffi' not allowed within sandbox".into(),
        ),
        (
            "A5 jit",
            "jit.on()",
            "attempt to index global 'jit' (a nil value)".into(),
        ),
        (
            "A7 package",
            "package.loadlib('x', 'y')",
            "attempt to index global 'package' (a nil value)".into(),
        ),
        (
            "A10 getfenv",
            "return getfenv(0)",
            "attempt to call global 'getfenv' (a nil value)".into(),
        ),
        (
            "A11 string metatable",
            "getmetatable('').__index.upper = nil",
            "attempt to call global 'getmetatable' (a nil value)".into(),
        ),
        (
            "B5 newproxy",
            "newproxy(true)",
            "attempt to call global 'newproxy' (a nil value)".into(),
        ),
        (
            "B12 collectgarbage",
            "collectgarbage('stop')",
            "attempt to call global 'collectgarbage' (a nil value)".into(),
        ),
        (
            "B1 loop",
            "while true do end",
            format!("the schema took longer than the Lua time limit of {deadline:?}"),
        ),
        (
            "B4 pcall loop",
            "local function f() while true do end end while true do pcall(f) end",
            format!("the schema took longer than the Lua time limit of {deadline:?}"),
        ),
        (
            "B6 memory",
            "local s = 'x' while true do s = s .. s end",
            format!(
                "the schema used more than the Lua memory limit of {} bytes",
                32 << 20
            ),
        ),
        (
            "B7 pattern bomb",
            "return string.find(string.rep('a', 32), string.rep('a*', 10) .. 'b')",
            "pattern too complex".into(),
        ),
        (
            "B8 deep pattern",
            "local s = string.rep('a', 50000) return s:find(string.rep('a?', 50000) .. 'b')",
            "pattern too complex".into(),
        ),
        (
            "B9 unpack",
            "return unpack({}, -2^31, 2^31 - 1)",
            "too many results to unpack".into(),
        ),
        ("B10 nesting", &nested, "too many syntax levels".into()),
        (
            "B11 recursion",
            "local function f() return 1 + f() end return f()",
            "stack overflow".into(),
        ),
        (
            "C6 sparse",
            "return { [1] = 1, [1e7] = 2 }",
            "schema arrays must have no holes (keys 1 to n)".into(),
        ),
        (
            "C5 nan",
            "return { name = 0/0 }",
            "the schema contains a number that is not finite".into(),
        ),
    ];
    for (class, source, expected) in cases {
        let started = Instant::now();
        let (status, message) =
            legacy_error(app.post_json(&base, &json!({"lua_schema": source})).await).await;
        let took = started.elapsed();
        assert_eq!(status, 400, "{class}: {message}");
        assert!(
            message.contains(&expected),
            "{class}: {message:?} lacks {expected:?}"
        );
        assert!(
            took < deadline + Duration::from_secs(2),
            "{class} took {took:?}"
        );
    }
    let (status, body) =
        status_and_json(app.client.get(app.url("/status")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["database"]["reachable"], true);
    let response = app
        .post_json(
            &base,
            &json!({"lua_schema": fixture("ping-auth/schema.lua")}),
        )
        .await;
    assert_eq!(
        response.status(),
        201,
        "a good upload still works afterwards"
    );
    app.shutdown().await;
}
