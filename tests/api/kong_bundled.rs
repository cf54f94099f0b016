//! Kong's bundled-plugin schemas that need only typedefs load through the upload path
//! (issue 3's "Done when"). The fixtures in tests/fixtures/kong-bundled/ declare the
//! fields of Kong 3.x's `kong/plugins/<name>/schema.lua` (NOTES.md there). A bundled name
//! itself is refused, so each is uploaded as its fork `<name>-fork`, the way a user
//! customizes a bundled plugin; then a plugin of it gets Kong's defaults and Kong's
//! errors.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{entity_error, field_error, koko};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(kong_bundled_schemas_load_as_forks_and_validate_with_kongs_defaults_and_errors);

/// Bundled plugins, uploaded as `<name>-fork`.
const BUNDLED: &[&str] = &[
    "key-auth",
    "basic-auth",
    "acl",
    "ip-restriction",
    "request-termination",
    "correlation-id",
    "bot-detection",
    "hmac-auth",
    "jwt",
    "tcp-log",
    "udp-log",
    "file-log",
    "syslog",
    "grpc-web",
    "aws-lambda",
];

fn fixture(name: &str) -> String {
    crate::harness::fixture(&format!("kong-bundled/{name}.lua"))
}

/// The name a fixture's plugin has here: bundled ones are forks.
fn uploaded_name(name: &str) -> String {
    if BUNDLED.contains(&name) {
        format!("{name}-fork")
    } else {
        name.to_string()
    }
}

/// A field of a rendered schema (`{"fields": [{name: {...}}, ...]}`).
fn field<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f.get(name))
        .unwrap_or_else(|| panic!("no field {name} in {schema}"))
}

async fn post_plugin(app: &TestApp, plugins: &str, name: &str, config: &Value) -> (u16, Value) {
    status_and_json(
        app.post_json(
            plugins,
            &json!({"name": uploaded_name(name), "config": config}),
        )
        .await,
    )
    .await
}

fn fork_of(name: &str, source: &str) -> String {
    let declared = format!("name = \"{name}\"");
    assert!(source.contains(&declared), "{name} declares its name");
    source.replace(&declared, &format!("name = \"{name}-fork\""))
}

/// What a plugin of the fork stores for `config` (Kong's defaults, as Kong's Admin API
/// returns them), given a minimal valid `config`.
fn expectations() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "key-auth",
            json!({}),
            json!({"key_names": ["apikey"], "hide_credentials": false, "anonymous": null,
                   "key_in_header": true, "key_in_query": true, "key_in_body": false,
                   "run_on_preflight": true, "realm": null}),
        ),
        (
            "basic-auth",
            json!({}),
            json!({"anonymous": null, "hide_credentials": false, "realm": "service"}),
        ),
        (
            "acl",
            json!({"allow": ["admins"]}),
            json!({"allow": ["admins"], "deny": null, "hide_groups_header": false,
                   "always_use_authenticated_groups": false}),
        ),
        (
            "ip-restriction",
            json!({"deny": ["10.0.0.0/8", "192.168.1.7"]}),
            json!({"allow": null, "deny": ["10.0.0.0/8", "192.168.1.7"], "status": null,
                   "message": null}),
        ),
        (
            "request-termination",
            json!({"status_code": 403, "message": "So long and thanks for all the fish!"}),
            json!({"status_code": 403, "message": "So long and thanks for all the fish!",
                   "content_type": null, "body": null, "echo": false, "trigger": null}),
        ),
        (
            "correlation-id",
            json!({}),
            json!({"header_name": "Kong-Request-ID", "generator": "uuid#counter",
                   "echo_downstream": false}),
        ),
        (
            "bot-detection",
            json!({"deny": ["^curl/"]}),
            json!({"allow": [], "deny": ["^curl/"]}),
        ),
        (
            "hmac-auth",
            json!({}),
            json!({"hide_credentials": false, "clock_skew": 300, "anonymous": null,
                   "validate_request_body": false, "enforce_headers": [],
                   "algorithms": ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"],
                   "realm": null}),
        ),
        (
            "jwt",
            json!({"maximum_expiration": 3600, "claims_to_verify": ["exp"]}),
            json!({"uri_param_names": ["jwt"], "cookie_names": [], "key_claim_name": "iss",
                   "secret_is_base64": false, "claims_to_verify": ["exp"], "anonymous": null,
                   "run_on_preflight": true, "maximum_expiration": 3600,
                   "header_names": ["authorization"], "realm": null}),
        ),
        (
            "tcp-log",
            json!({"host": "logs.example.com", "port": 5140}),
            json!({"host": "logs.example.com", "port": 5140, "timeout": 10000,
                   "keepalive": 60000, "tls": false, "tls_sni": null,
                   "custom_fields_by_lua": null}),
        ),
        (
            "udp-log",
            json!({"host": "10.1.2.3", "port": 514}),
            json!({"host": "10.1.2.3", "port": 514, "timeout": 10000,
                   "custom_fields_by_lua": null}),
        ),
        (
            "file-log",
            json!({"path": "/var/log/kong/requests.log",
                   "custom_fields_by_lua": {"route_name": "return kong.router.get_route().name"}}),
            json!({"path": "/var/log/kong/requests.log", "reopen": false,
                   "custom_fields_by_lua": {"route_name": "return kong.router.get_route().name"}}),
        ),
        (
            "syslog",
            json!({"facility": "local4"}),
            json!({"log_level": "info", "successful_severity": "info",
                   "client_errors_severity": "info", "server_errors_severity": "info",
                   "custom_fields_by_lua": null, "facility": "local4"}),
        ),
        (
            "grpc-web",
            json!({}),
            json!({"proto": null, "pass_stripped_path": null, "allow_origin_header": "*"}),
        ),
        (
            "aws-lambda",
            json!({"aws_key": "{vault://aws/key}", "aws_secret": "{vault://aws/secret}",
                   "aws_region": "eu-west-1", "function_name": "orders"}),
            json!({"timeout": 60000, "keepalive": 60000, "aws_key": "{vault://aws/key}",
                   "aws_secret": "{vault://aws/secret}", "aws_assume_role_arn": null,
                   "aws_role_session_name": "kong", "aws_sts_endpoint_url": null,
                   "aws_region": "eu-west-1", "function_name": "orders", "qualifier": null,
                   "invocation_type": "RequestResponse", "log_type": "Tail", "host": null,
                   "port": 443, "disable_https": false, "unhandled_status": null,
                   "forward_request_method": false, "forward_request_uri": false,
                   "forward_request_headers": false, "forward_request_body": false,
                   "is_proxy_integration": false, "awsgateway_compatible": false,
                   "proxy_url": null, "skip_large_bodies": true, "base64_encode_body": true,
                   "aws_imds_protocol_version": "v1", "empty_arrays_mode": "legacy"}),
        ),
        (
            "myplugin",
            json!({}),
            json!({"request_header": "Hello-World", "response_header": "Bye-World", "ttl": 600}),
        ),
    ]
}

/// Configs Kong rejects, with Kong's `details`.
fn rejections() -> Vec<(&'static str, Value, Vec<Value>)> {
    vec![
        (
            "acl",
            json!({"allow": ["a"], "deny": ["b"]}),
            vec![entity_error(&[
                "exactly one of these fields must be non-empty: 'config.allow', 'config.deny'",
            ])],
        ),
        (
            "acl",
            // Kong's only_one_of fails when none is set too.
            json!({}),
            vec![entity_error(&[
                "exactly one of these fields must be non-empty: 'config.allow', 'config.deny'",
                "at least one of these fields must be non-empty: 'config.allow', 'config.deny'",
            ])],
        ),
        (
            "ip-restriction",
            json!({"allow": ["10.0.0.300"]}),
            vec![field_error(
                "config.allow[0]",
                &["invalid ip or cidr range: '10.0.0.300'"],
            )],
        ),
        (
            "request-termination",
            json!({"message": "m", "body": "b"}),
            vec![field_error(
                "config",
                &["message cannot be used with content_type or body"],
            )],
        ),
        (
            "request-termination",
            json!({"content_type": "text/plain"}),
            vec![field_error("config", &["content_type requires a body"])],
        ),
        (
            "request-termination",
            json!({"status_code": 600}),
            vec![field_error(
                "config.status_code",
                &["value should be between 100 and 599"],
            )],
        ),
        (
            "correlation-id",
            json!({"generator": "random"}),
            vec![field_error(
                "config.generator",
                &["expected one of: uuid, uuid#counter, tracker"],
            )],
        ),
        (
            "bot-detection",
            json!({"deny": ["(unclosed"]}),
            vec![field_error(
                "config.deny[0]",
                &["not a valid regex: (unclosed"],
            )],
        ),
        (
            "hmac-auth",
            json!({"clock_skew": 0, "algorithms": ["hmac-md5"]}),
            vec![
                field_error(
                    "config.algorithms[0]",
                    &["expected one of: hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512"],
                ),
                field_error("config.clock_skew", &["value must be greater than 0"]),
            ],
        ),
        (
            "jwt",
            // Kong's conditional: the then-field's own error and the entity's.
            json!({"maximum_expiration": 60, "claims_to_verify": ["nbf"]}),
            vec![
                entity_error(&[
                    "failed conditional validation given value of field 'config.maximum_expiration'",
                ]),
                field_error("config.claims_to_verify", &["expected to contain: exp"]),
            ],
        ),
        (
            "key-auth",
            json!({"key_names": ["bad header"]}),
            vec![field_error(
                "config.key_names[0]",
                &[
                    "bad header name 'bad header', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                ],
            )],
        ),
        (
            "tcp-log",
            json!({"port": 70000}),
            vec![
                field_error("config.host", &["required field missing"]),
                field_error("config.port", &["value should be between 0 and 65535"]),
            ],
        ),
        (
            "file-log",
            json!({"path": "/var/log/*.log"}),
            vec![field_error("config.path", &["not a valid filename"])],
        ),
        (
            "syslog",
            json!({"log_level": "verbose"}),
            vec![field_error(
                "config.log_level",
                &["expected one of: debug, info, notice, warning, err, crit, alert, emerg"],
            )],
        ),
        (
            "aws-lambda",
            json!({"aws_key": "AKIA"}),
            vec![entity_error(&[
                "all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'",
            ])],
        ),
        (
            "aws-lambda",
            json!({"proxy_url": "https://proxy.internal:3128"}),
            vec![entity_error(&["proxy_url scheme must be http"])],
        ),
        (
            "myplugin",
            json!({"request_header": "X-Same", "response_header": "X-Same"}),
            // An entity check of the config record is an entity error at its path.
            vec![{
                let mut error = entity_error(&[
                    "values of these fields must be distinct: 'request_header', 'response_header'",
                ]);
                error["field"] = json!("config");
                error
            }],
        ),
    ]
}

async fn kong_bundled_schemas_load_as_forks_and_validate_with_kongs_defaults_and_errors(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "forks"})).await;
    let cp = cp["id"].as_str().unwrap();
    let schemas = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas");
    let plugins = format!("/v2/control-planes/{cp}/core-entities/plugins");
    for name in BUNDLED {
        let source = fixture(name);
        let (status, body) = status_and_json(
            app.post_json(&schemas, &json!({"lua_schema": source}))
                .await,
        )
        .await;
        assert_eq!(status, 400, "{name} as is: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(name),
            "{name}: {body}"
        );
        let fork = fork_of(name, &source);
        let (status, body) =
            status_and_json(app.post_json(&schemas, &json!({"lua_schema": fork})).await).await;
        assert_eq!(status, 201, "{name}-fork: {body}");
        assert_eq!(body["item"]["name"], format!("{name}-fork"));
    }
    let template = fixture("myplugin-template");
    let (status, body) = status_and_json(
        app.post_json(&schemas, &json!({"lua_schema": template}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "the plugin template: {body}");
    // Each is served as Kong's JSON rendering, and listed among the available plugins.
    let (_, available) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{cp}/core-entities/v1/available-plugins"
        ))
        .await,
    )
    .await;
    for name in BUNDLED.iter().copied().chain(["myplugin"]) {
        let uploaded = uploaded_name(name);
        let (status, rendered) = status_and_json(
            app.get(&format!(
                "/v2/control-planes/{cp}/core-entities/schemas/plugins/{uploaded}"
            ))
            .await,
        )
        .await;
        assert_eq!(status, 200, "{uploaded}: {rendered}");
        assert_eq!(field(&rendered, "config")["type"], "record", "{uploaded}");
        assert!(
            available["names"]
                .as_array()
                .unwrap()
                .contains(&json!(uploaded)),
            "{uploaded} is available"
        );
        assert!(
            available["schemas"][&uploaded]["fields"].is_array(),
            "{uploaded}"
        );
    }
    let (_, key_auth) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{cp}/core-entities/schemas/plugins/key-auth-fork"
        ))
        .await,
    )
    .await;
    let key_names = field(field(&key_auth, "config"), "key_names");
    assert_eq!(key_names["default"], json!(["apikey"]));
    assert_eq!(key_names["elements"]["type"], "string");
    for (name, config, stored) in expectations() {
        let (status, body) = post_plugin(&app, &plugins, name, &config).await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(body["config"], stored, "{name}");
        // A set's default keeps the order it is written in; typedefs.protocols{,_http}
        // default to the http-subsystem protocols, sorted.
        let default_protocols = if name == "ip-restriction" {
            json!(["http", "https", "tcp", "tls", "grpc", "grpcs"])
        } else {
            json!(["grpc", "grpcs", "http", "https"])
        };
        assert_eq!(body["protocols"], default_protocols, "{name}");
        let id = body["id"].as_str().unwrap();
        let (status, read) = status_and_json(app.get(&format!("{plugins}/{id}")).await).await;
        assert_eq!((status, read), (200, body), "{name} reads back");
    }
    for (name, config, details) in rejections() {
        let (status, body) = post_plugin(&app, &plugins, name, &config).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body, koko("validation error", details), "{name} {config}");
    }
    // `no_consumer`: these plugins cannot be scoped to a consumer (Kong's `eq = null`).
    let consumer = status_and_json(
        app.post_json(
            &format!("/v2/control-planes/{cp}/core-entities/consumers"),
            &json!({"username": "arthur"}),
        )
        .await,
    )
    .await
    .1;
    let (status, body) = status_and_json(
        app.post_json(
            &plugins,
            &json!({"name": "key-auth-fork", "consumer": {"id": consumer["id"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["field"], "consumer", "{body}");
    app.shutdown().await;
}
