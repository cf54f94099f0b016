//! The authentication plugins: acl, basic-auth, bot-detection, hmac-auth, ip-restriction,
//! jwt, key-auth, ldap-auth, oauth2, session. Defaults are those of each plugin's
//! configuration reference on developer.konghq.com (`app/_schemas/gateway/plugins/<version>/`),
//! messages those of Kong's schema library (`kong/db/schema/init.lua`, `typedefs.lua`) and
//! of each plugin's `kong/plugins/<name>/schema.lua`.

use serde_json::{Value, json};

use super::{Case, Expect, config, run};
use crate::both_backends;
use crate::harness::core_entities::{entity_error, field_error};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    authentication_plugins_get_kongs_defaults_and_kongs_errors,
    a_session_without_secret_gets_its_own_random_secret,
);

fn stored(plugin: &'static str, given: Value, filled: Value) -> Case {
    config(plugin, given, Expect::Stored(filled))
}

fn refused(plugin: &'static str, given: Value, details: Vec<Value>) -> Case {
    config(plugin, given, Expect::Refused(details))
}

/// Kong's `conditional` checker message (`kong/db/schema/init.lua`, `CONDITIONAL`).
fn conditional(if_field: &str) -> String {
    format!("failed conditional validation given value of field '{if_field}'")
}

const LDAP: [(&str, &str); 3] = [
    ("ldap_host", "ldap.example.com"),
    ("base_dn", "dc=example,dc=com"),
    ("attribute", "uid"),
];

/// ldap-auth's three required fields plus `extra`.
fn ldap(extra: Value) -> Value {
    let mut config = json!({});
    for (k, v) in LDAP {
        config[k] = json!(v);
    }
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// oauth2 with one grant flow on and a known provision key, plus `extra`.
fn oauth2(extra: Value) -> Value {
    let mut config = json!({"enable_client_credentials": true, "provision_key": "pk"});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// developer.konghq.com, Session 3.11 (3.10's fields; `secret` given, see the next test).
fn session_defaults(secret: &str) -> Value {
    json!({
        "secret": secret, "storage": "cookie", "audience": "default",
        "idling_timeout": 900, "rolling_timeout": 3600, "absolute_timeout": 86400,
        "stale_ttl": 10, "cookie_name": "session", "cookie_path": "/", "cookie_domain": null,
        "cookie_same_site": "Strict", "cookie_http_only": true, "cookie_secure": true,
        "remember": false, "remember_cookie_name": "remember",
        "remember_rolling_timeout": 604800, "remember_absolute_timeout": 2592000,
        "response_headers": null, "request_headers": null, "read_body_for_logout": false,
        "logout_methods": ["POST", "DELETE"], "logout_query_arg": "session_logout",
        "logout_post_arg": "session_logout", "hash_subject": false, "store_metadata": false
    })
}

fn key_auth_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, KeyAuth 3.9 (no 3.10 page; same fields).
        stored(
            "key-auth",
            json!({}),
            json!({
                "key_names": ["apikey"], "hide_credentials": false, "anonymous": null,
                "key_in_header": true, "key_in_query": true, "key_in_body": false,
                "run_on_preflight": true, "realm": null
            }),
        ),
        // Kong's `typedefs.header_name` validator (`kong/db/schema/typedefs.lua`).
        refused(
            "key-auth",
            json!({"key_names": ["bad name"], "hide_credentials": "yes"}),
            vec![
                field_error("config.hide_credentials", &["expected a boolean"]),
                field_error(
                    "config.key_names[0]",
                    &[
                        "bad header name 'bad name', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                    ],
                ),
            ],
        ),
        // `kong/db/schema/init.lua`: a string must not be empty unless `len_min = 0`;
        // `realm` is a 3.8 field.
        refused(
            "key-auth",
            json!({"realm": "", "key_names": "apikey"}),
            vec![
                field_error("config.key_names", &["expected an array"]),
                field_error("config.realm", &["length must be at least 1"]),
            ],
        ),
        // `typedefs.no_consumer`: an authentication plugin cannot be scoped to a consumer.
        Case {
            plugin: "key-auth",
            body: json!({"config": {}, "consumer": {"id": "6f1c2b8e-8a4f-4a7e-9d3c-2b1e0f9a8c7d"}}),
            expect: Expect::Refused(vec![field_error("consumer", &["value must be null"])]),
        },
    ]
}

fn acl_cases() -> Vec<Case> {
    let both = "'config.allow', 'config.deny'";
    vec![
        // developer.konghq.com, Acl 3.9 (no 3.10 page); `include_consumer_groups` there is
        // Enterprise-only.
        stored(
            "acl",
            json!({"allow": ["admins"]}),
            json!({
                "allow": ["admins"], "deny": null, "hide_groups_header": false,
                "always_use_authenticated_groups": false
            }),
        ),
        // `kong/plugins/acl/schema.lua`: `only_one_of` then `at_least_one_of` over
        // allow/deny; with neither, both checks fail (`kong/db/schema/init.lua`).
        refused(
            "acl",
            json!({}),
            vec![entity_error(&[
                &format!("exactly one of these fields must be non-empty: {both}"),
                &format!("at least one of these fields must be non-empty: {both}"),
            ])],
        ),
        refused(
            "acl",
            json!({"allow": ["a"], "deny": ["b"]}),
            vec![entity_error(&[&format!(
                "exactly one of these fields must be non-empty: {both}"
            )])],
        ),
        // Field types first: the entity checks do not run on an invalid `allow`.
        refused(
            "acl",
            json!({"allow": "a", "hide_groups_header": 1}),
            vec![
                field_error("config.allow", &["expected an array"]),
                field_error("config.hide_groups_header", &["expected a boolean"]),
            ],
        ),
    ]
}

fn basic_auth_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, BasicAuth 3.10.
        stored(
            "basic-auth",
            json!({}),
            json!({"anonymous": null, "hide_credentials": false, "realm": "service"}),
        ),
        // `kong/plugins/basic-auth/schema.lua`: `hide_credentials` and `realm` are required
        // (an explicit null is not replaced by the default), `anonymous` a string.
        refused(
            "basic-auth",
            json!({"realm": "", "hide_credentials": null, "anonymous": 5}),
            vec![
                field_error("config.anonymous", &["expected a string"]),
                field_error("config.hide_credentials", &["required field missing"]),
                field_error("config.realm", &["length must be at least 1"]),
            ],
        ),
        refused(
            "basic-auth",
            json!({"realm": null, "unknown": true}),
            vec![
                field_error("config.realm", &["required field missing"]),
                field_error("config.unknown", &["unknown field"]),
            ],
        ),
    ]
}

fn bot_detection_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, BotDetection 3.7 and 3.13 (no 3.10 page).
        stored("bot-detection", json!({}), json!({"allow": [], "deny": []})),
        // `is_regex` elements (`kong/plugins/bot-detection/schema.lua`); the bad regex is the
        // one of Kong's `spec/03-plugins/05-bot-detection/02-api_spec.lua`.
        refused(
            "bot-detection",
            json!({"allow": ["(https?:\\/\\/.*"], "deny": [7]}),
            vec![
                field_error("config.allow[0]", &["not a valid regex: (https?:\\/\\/.*"]),
                field_error("config.deny[0]", &["expected a string"]),
            ],
        ),
        refused(
            "bot-detection",
            json!({"allow": "curl", "whitelist": ["curl"]}),
            vec![
                field_error("config.allow", &["expected an array"]),
                field_error("config.whitelist", &["unknown field"]),
            ],
        ),
    ]
}

fn hmac_auth_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, HmacAuth 3.8 and 3.11 (no 3.10 page).
        stored(
            "hmac-auth",
            json!({}),
            json!({
                "hide_credentials": false, "clock_skew": 300, "anonymous": null,
                "validate_request_body": false, "enforce_headers": [],
                "algorithms": ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"],
                "realm": null
            }),
        ),
        // `kong/plugins/hmac-auth/schema.lua`: `gt = 0`, `one_of` the four digests.
        refused(
            "hmac-auth",
            json!({"clock_skew": 0, "algorithms": ["hmac-md5"], "enforce_headers": "date"}),
            vec![
                field_error(
                    "config.algorithms[0]",
                    &["expected one of: hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512"],
                ),
                field_error("config.clock_skew", &["value must be greater than 0"]),
                field_error("config.enforce_headers", &["expected an array"]),
            ],
        ),
        refused(
            "hmac-auth",
            json!({"clock_skew": "300", "validate_request_body": null}),
            vec![
                field_error("config.clock_skew", &["expected a number"]),
                field_error("config.validate_request_body", &["required field missing"]),
            ],
        ),
    ]
}

fn ip_restriction_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, IpRestriction 3.9 (no 3.10 page).
        stored(
            "ip-restriction",
            json!({"deny": ["10.0.0.0/8"]}),
            json!({"allow": null, "deny": ["10.0.0.0/8"], "status": null, "message": null}),
        ),
        // `kong/plugins/ip-restriction/schema.lua`: `at_least_one_of` allow/deny.
        refused(
            "ip-restriction",
            json!({}),
            vec![entity_error(&[
                "at least one of these fields must be non-empty: 'config.allow', 'config.deny'",
            ])],
        ),
        // `typedefs.ip_or_cidr` elements; `status` is a number.
        refused(
            "ip-restriction",
            json!({"allow": ["not-an-ip"], "status": "403"}),
            vec![
                field_error(
                    "config.allow[0]",
                    &["invalid ip or cidr range: 'not-an-ip'"],
                ),
                field_error("config.status", &["expected a number"]),
            ],
        ),
        // Its protocols include the stream ones (`typedefs.protocols` with its own default).
        Case {
            plugin: "ip-restriction",
            body: json!({"protocols": ["tcp", "tls"], "config": {"allow": ["1.2.3.4"]}}),
            expect: Expect::Stored(
                json!({"allow": ["1.2.3.4"], "deny": null, "status": null, "message": null}),
            ),
        },
    ]
}

fn jwt_cases() -> Vec<Case> {
    let defaults = |maximum_expiration: u32, claims: Value| {
        json!({
            "uri_param_names": ["jwt"], "cookie_names": [], "key_claim_name": "iss",
            "secret_is_base64": false, "claims_to_verify": claims, "anonymous": null,
            "run_on_preflight": true, "maximum_expiration": maximum_expiration,
            "header_names": ["authorization"], "realm": null
        })
    };
    vec![
        // developer.konghq.com, Jwt 3.9 (no 3.10 page).
        stored("jwt", json!({}), defaults(0, Value::Null)),
        // `kong/plugins/jwt/schema.lua`: a positive maximum_expiration needs `exp` in
        // claims_to_verify (Kong's `spec/03-plugins/16-jwt/06-schema_spec.lua`).
        stored(
            "jwt",
            json!({"maximum_expiration": 60, "claims_to_verify": ["exp", "nbf"]}),
            defaults(60, json!(["exp", "nbf"])),
        ),
        refused(
            "jwt",
            json!({"maximum_expiration": 60, "claims_to_verify": ["nbf"]}),
            vec![
                entity_error(&[&conditional("config.maximum_expiration")]),
                field_error("config.claims_to_verify", &["expected to contain: exp"]),
            ],
        ),
        // Kong's `conditional` validates a null then-field as a field that is not
        // required: without claims_to_verify the check passes (`Schema.validate_field`).
        stored(
            "jwt",
            json!({"maximum_expiration": 60}),
            defaults(60, Value::Null),
        ),
        // Sets drop duplicates (`kong/db/schema/init.lua`, `process_auto_fields`).
        stored(
            "jwt",
            json!({"maximum_expiration": 1, "claims_to_verify": ["exp", "exp"]}),
            defaults(1, json!(["exp"])),
        ),
        refused(
            "jwt",
            json!({"maximum_expiration": -1, "claims_to_verify": ["iat"]}),
            vec![
                field_error("config.claims_to_verify[0]", &["expected one of: exp, nbf"]),
                field_error(
                    "config.maximum_expiration",
                    &["value should be between 0 and 31536000"],
                ),
            ],
        ),
    ]
}

fn ldap_auth_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, LdapAuth 3.9 (no 3.10 page).
        stored(
            "ldap-auth",
            ldap(json!({})),
            json!({
                "ldap_host": "ldap.example.com", "ldap_port": 389, "ldaps": false,
                "start_tls": false, "verify_ldap_host": false, "base_dn": "dc=example,dc=com",
                "attribute": "uid", "cache_ttl": 60, "hide_credentials": false,
                "timeout": 10000, "keepalive": 60000, "anonymous": null, "header_type": "ldap",
                "realm": null
            }),
        ),
        refused(
            "ldap-auth",
            json!({}),
            vec![
                field_error("config.attribute", &["required field missing"]),
                field_error("config.base_dn", &["required field missing"]),
                field_error("config.ldap_host", &["required field missing"]),
            ],
        ),
        // `kong/plugins/ldap-auth/schema.lua`: the record's `conditional` with its
        // `then_err`, reported at `config`.
        refused(
            "ldap-auth",
            ldap(json!({"ldaps": true, "start_tls": true})),
            vec![
                json!({
                    "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
                    "type": "ERROR_TYPE_ENTITY", "field": "config",
                    "messages": ["'ldaps' and 'start_tls' cannot be enabled simultaneously"]
                }),
                field_error("config.start_tls", &["value must be false"]),
            ],
        ),
        // `typedefs.host` and `typedefs.port` (`kong/db/schema/typedefs.lua`).
        refused(
            "ldap-auth",
            ldap(json!({"ldap_host": "ldap.example.com:389", "ldap_port": 70000})),
            vec![
                field_error("config.ldap_host", &["must not have a port"]),
                field_error("config.ldap_port", &["value should be between 0 and 65535"]),
            ],
        ),
    ]
}

fn oauth2_cases() -> Vec<Case> {
    vec![
        // developer.konghq.com, Oauth2 3.8 (no 3.9 or 3.10 page); provision_key given, as
        // Kong generates one otherwise.
        stored(
            "oauth2",
            oauth2(json!({})),
            json!({
                "scopes": null, "mandatory_scope": false, "provision_key": "pk",
                "token_expiration": 7200, "enable_authorization_code": false,
                "enable_implicit_grant": false, "enable_client_credentials": true,
                "enable_password_grant": false, "hide_credentials": false,
                "accept_http_if_already_terminated": false, "anonymous": null,
                "global_credentials": false, "auth_header_name": "authorization",
                "refresh_token_ttl": 1209600, "reuse_refresh_token": false,
                "persistent_refresh_token": false, "pkce": "lax", "realm": null
            }),
        ),
        // `kong/plugins/oauth2/schema.lua`, `validate_flows`: the record's custom validator.
        refused(
            "oauth2",
            json!({}),
            vec![field_error(
                "config",
                &[
                    "at least one of these fields must be true: enable_authorization_code, enable_implicit_grant, enable_client_credentials, enable_password_grant",
                ],
            )],
        ),
        // Its `conditional` with `then_match = { required = true }`.
        refused(
            "oauth2",
            oauth2(json!({"mandatory_scope": true})),
            vec![
                json!({
                    "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
                    "type": "ERROR_TYPE_ENTITY", "field": "config",
                    "messages": [conditional("mandatory_scope")]
                }),
                field_error("config.scopes", &["required field missing"]),
            ],
        ),
        // `one_of` pkce modes; `typedefs.ttl` (`between = { 0, 100000000 }`).
        refused(
            "oauth2",
            oauth2(json!({"pkce": "S256", "refresh_token_ttl": -1})),
            vec![
                field_error("config.pkce", &["expected one of: none, lax, strict"]),
                field_error(
                    "config.refresh_token_ttl",
                    &["value should be between 0 and 100000000"],
                ),
            ],
        ),
    ]
}

fn session_cases() -> Vec<Case> {
    let mut renamed = session_defaults("s3cr3t");
    for (k, v) in [
        ("rolling_timeout", json!(7200)),
        ("idling_timeout", json!(0)),
        ("stale_ttl", json!(5)),
        ("cookie_same_site", json!("Lax")),
        ("cookie_http_only", json!(false)),
        ("remember", json!(true)),
    ] {
        renamed[k] = v;
    }
    vec![
        stored(
            "session",
            json!({"secret": "s3cr3t"}),
            session_defaults("s3cr3t"),
        ),
        // `kong/plugins/session/schema.lua`'s deprecated shorthands: each sets its new
        // field (`cookie_idletime: null` becomes 0, `cookie_samesite: "off"` becomes
        // "Lax"), `cookie_renew` is dropped.
        stored(
            "session",
            json!({
                "secret": "s3cr3t", "cookie_lifetime": 7200, "cookie_idletime": null,
                "cookie_renew": 60, "cookie_samesite": "off", "cookie_httponly": false,
                "cookie_discard": 5, "cookie_persistent": true
            }),
            renamed,
        ),
        // A vault reference is stored as written (`referenceable = true`).
        stored(
            "session",
            json!({"secret": "{vault://env/session-secret}"}),
            session_defaults("{vault://env/session-secret}"),
        ),
        // `one_of` lists of the schema: same-site values, logout methods, header names,
        // storages.
        refused(
            "session",
            json!({
                "secret": "s", "cookie_same_site": "none", "logout_methods": ["PUT"],
                "response_headers": ["id", "expires"], "storage": "redis"
            }),
            vec![
                field_error(
                    "config.cookie_same_site",
                    &["expected one of: Strict, Lax, None, Default"],
                ),
                field_error(
                    "config.logout_methods[0]",
                    &["expected one of: GET, POST, DELETE"],
                ),
                field_error(
                    "config.response_headers[1]",
                    &[
                        "expected one of: id, audience, subject, timeout, idling-timeout, rolling-timeout, absolute-timeout",
                    ],
                ),
                field_error("config.storage", &["expected one of: cookie, kong"]),
            ],
        ),
        // A shorthand's value is validated with its own type before its function runs.
        refused(
            "session",
            json!({"secret": "s", "cookie_samesite": 5, "cookie_lifetime": "x"}),
            vec![
                field_error("config.cookie_lifetime", &["expected a number"]),
                field_error("config.cookie_samesite", &["expected a string"]),
            ],
        ),
    ]
}

async fn authentication_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    let cases = [
        key_auth_cases(),
        acl_cases(),
        basic_auth_cases(),
        bot_detection_cases(),
        hmac_auth_cases(),
        ip_restriction_cases(),
        jwt_cases(),
        ldap_auth_cases(),
        oauth2_cases(),
        session_cases(),
    ];
    run(backend, cases.into_iter().flatten().collect()).await;
}

/// Kong's session `secret` defaults to a random string drawn when the schema loads;
/// konnektd draws one per plugin from a cryptographic RNG (`src/lua/plugins/session.lua`),
/// as it does for oauth2's `auto` provision key.
async fn a_session_without_secret_gets_its_own_random_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "secrets"})).await;
    let plugins = format!(
        "/v2/control-planes/{}/core-entities/plugins",
        cp["id"].as_str().unwrap()
    );
    let mut secrets = Vec::new();
    for (plugin, field, route) in [
        ("session", "secret", "a"),
        ("session", "secret", "b"),
        ("oauth2", "provision_key", "c"),
    ] {
        let route = app
            .post_json(
                &format!(
                    "/v2/control-planes/{}/core-entities/routes",
                    cp["id"].as_str().unwrap()
                ),
                &json!({"name": route, "paths": [format!("/{route}")]}),
            )
            .await;
        let (status, route) = status_and_json(route).await;
        assert_eq!(status, 201, "{route}");
        let mut config = json!({});
        if plugin == "oauth2" {
            config["enable_password_grant"] = json!(true);
        }
        let body = json!({"name": plugin, "route": {"id": route["id"]}, "config": config});
        let (status, answer) = status_and_json(app.post_json(&plugins, &body).await).await;
        assert_eq!(status, 201, "{answer}");
        let secret = answer["config"][field].as_str().unwrap().to_owned();
        assert!(
            secret.len() >= 32 && secret.chars().all(|c| c.is_ascii_alphanumeric()),
            "{secret}"
        );
        assert!(!secrets.contains(&secret), "{secret} drawn twice");
        secrets.push(secret);
    }
    app.shutdown().await;
}
