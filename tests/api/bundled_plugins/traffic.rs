//! The traffic plugins: correlation, CORS, gRPC, caching, rate limiting, redirects,
//! request and response shaping, webhooks.

use serde_json::{Value, json};

use super::{Case, Expect, config, run};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::core_entities::{entity_error, field_error};

fn stored(plugin: &'static str, given: Value, filled: Value) -> Case {
    config(plugin, given, Expect::Stored(filled))
}

fn refused(plugin: &'static str, given: Value, details: Vec<Value>) -> Case {
    config(plugin, given, Expect::Refused(details))
}

/// The open-source redis record (`kong.tools.redis.schema`) as its defaults fill it.
fn redis(host: Value, port: Value) -> Value {
    json!({
        "host": host, "port": port, "timeout": 2000, "username": null, "password": null,
        "database": 0, "ssl": false, "ssl_verify": false, "server_name": null
    })
}

const LIMITS: &str = "at least one of these fields must be non-empty: 'config.second', \
    'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'";
const GIVEN_POLICY: &str = "failed conditional validation given value of field 'config.policy'";

both_backends!(traffic_plugins_get_kongs_defaults_and_kongs_errors);

async fn traffic_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    let mut cases = simple_plugins();
    cases.extend(rate_limiting());
    cases.extend(response_ratelimiting());
    cases.extend(transformers());
    run(backend, cases).await;
}

fn simple_plugins() -> Vec<Case> {
    vec![
        // developer.konghq.com, CorrelationId.json (3.13; same fields as 3.10).
        stored(
            "correlation-id",
            json!({}),
            json!({"header_name": "Kong-Request-ID", "generator": "uuid#counter",
                   "echo_downstream": false}),
        ),
        // Kong's correlation-id schema.lua: `one_of` generators, boolean echo_downstream.
        refused(
            "correlation-id",
            json!({"generator": "random", "echo_downstream": "yes"}),
            vec![
                field_error("config.echo_downstream", &["expected a boolean"]),
                field_error(
                    "config.generator",
                    &["expected one of: uuid, uuid#counter, tracker"],
                ),
            ],
        ),
        // Kong's Schema: a string field gets "expected a string"; a key the schema does
        // not declare is an "unknown field" (kong/db/schema/init.lua).
        refused(
            "correlation-id",
            json!({"header_name": 5, "header": "X-Id"}),
            vec![
                field_error("config.header", &["unknown field"]),
                field_error("config.header_name", &["expected a string"]),
            ],
        ),
        // developer.konghq.com, Cors.json (3.11): allow_origin_absent (3.10) defaults to true.
        stored(
            "cors",
            json!({}),
            json!({
                "origins": null, "headers": null, "exposed_headers": null,
                "methods": ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"],
                "max_age": null, "credentials": false, "private_network": false,
                "preflight_continue": false, "allow_origin_absent": true
            }),
        ),
        // Kong's cors schema.lua: `validate_asterisk_or_regex` and the METHODS one_of.
        refused(
            "cors",
            json!({"origins": ["*", "https://(a|b.example.com"], "methods": ["GET", "FETCH"]}),
            vec![
                field_error(
                    "config.methods[1]",
                    &[
                        "expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT",
                    ],
                ),
                field_error(
                    "config.origins[1]",
                    &["'https://(a|b.example.com' is not a valid regex"],
                ),
            ],
        ),
        refused(
            "cors",
            json!({"origins": ["*.example.com"], "allow_origin_absent": "no"}),
            vec![
                field_error("config.allow_origin_absent", &["expected a boolean"]),
                field_error(
                    "config.origins[0]",
                    &["'*.example.com' is not a valid regex"],
                ),
            ],
        ),
        // PCRE takes look-around and a lazy quantifier in an origin; so does konnektd.
        refused(
            "cors",
            json!({"origins": ["https://(?!evil)[a-z]+\\.example\\.com", "x{2,1}"]}),
            vec![field_error(
                "config.origins[1]",
                &["'x{2,1}' is not a valid regex"],
            )],
        ),
        // developer.konghq.com, GrpcGateway.json (3.13).
        stored("grpc-gateway", json!({}), json!({"proto": null})),
        // Kong's grpc-gateway schema.lua: one string field, nothing else.
        refused(
            "grpc-gateway",
            json!({"proto": 5, "protos": "x"}),
            vec![
                field_error("config.proto", &["expected a string"]),
                field_error("config.protos", &["unknown field"]),
            ],
        ),
        // Kong's Schema: strings have a minimum length of 1 unless they say otherwise.
        refused(
            "grpc-gateway",
            json!({"proto": ""}),
            vec![field_error("config.proto", &["length must be at least 1"])],
        ),
        // developer.konghq.com, GrpcWeb.json (3.13).
        stored(
            "grpc-web",
            json!({}),
            json!({"proto": null, "pass_stripped_path": null, "allow_origin_header": "*"}),
        ),
        refused(
            "grpc-web",
            json!({"pass_stripped_path": "yes", "allow_origin_header": ""}),
            vec![
                field_error("config.allow_origin_header", &["length must be at least 1"]),
                field_error("config.pass_stripped_path", &["expected a boolean"]),
            ],
        ),
        refused(
            "grpc-web",
            json!({"proto": 7, "allow_origin_header": ["*"]}),
            vec![
                field_error("config.allow_origin_header", &["expected a string"]),
                field_error("config.proto", &["expected a string"]),
            ],
        ),
        // developer.konghq.com, ProxyCache.json (3.13): strategy is required, the rest filled.
        stored(
            "proxy-cache",
            json!({"strategy": "memory"}),
            json!({
                "response_code": [200, 301, 404], "request_method": ["GET", "HEAD"],
                "content_type": ["text/plain", "application/json"], "cache_ttl": 300,
                "strategy": "memory", "cache_control": false, "ignore_uri_case": false,
                "storage_ttl": null, "memory": {"dictionary_name": "kong_db_cache"},
                "vary_query_params": null, "vary_headers": null,
                "response_headers": {"age": true, "X-Cache-Status": true, "X-Cache-Key": true}
            }),
        ),
        // Kong's proxy-cache schema.lua: strategy required (no default).
        refused(
            "proxy-cache",
            json!({}),
            vec![field_error("config.strategy", &["required field missing"])],
        ),
        // Kong's proxy-cache schema.lua: open-source strategies (memory only), len_min on
        // response_code, gt on cache_ttl, the request_method one_of.
        refused(
            "proxy-cache",
            json!({"strategy": "redis", "response_code": [], "cache_ttl": 0,
                   "request_method": ["DELETE"]}),
            vec![
                field_error("config.cache_ttl", &["value must be greater than 0"]),
                field_error(
                    "config.request_method[0]",
                    &["expected one of: HEAD, GET, POST, PATCH, PUT"],
                ),
                field_error("config.response_code", &["length must be at least 1"]),
                field_error("config.strategy", &["expected one of: memory"]),
            ],
        ),
        refused(
            "proxy-cache",
            json!({"strategy": "memory", "response_code": [99]}),
            vec![field_error(
                "config.response_code[0]",
                &["value should be between 100 and 900"],
            )],
        ),
        // developer.konghq.com, Redirect.json (3.9): location is required.
        stored(
            "redirect",
            json!({"location": "https://example.com"}),
            json!({"status_code": 301, "location": "https://example.com",
                   "keep_incoming_path": false}),
        ),
        refused(
            "redirect",
            json!({}),
            vec![field_error("config.location", &["required field missing"])],
        ),
        // Kong's redirect schema.lua: `between = { 100, 599 }`, `typedefs.url` (an empty
        // authority leaves luasocket's `url.parse` without a host).
        refused(
            "redirect",
            json!({"location": "http:///moved", "status_code": 99}),
            vec![
                field_error("config.location", &["missing host in url"]),
                field_error(
                    "config.status_code",
                    &["value should be between 100 and 599"],
                ),
            ],
        ),
        // developer.konghq.com, RequestSizeLimiting.json (3.11).
        stored(
            "request-size-limiting",
            json!({}),
            json!({"allowed_payload_size": 128, "size_unit": "megabytes",
                   "require_content_length": false}),
        ),
        // Kong's request-size-limiting schema.lua: the handler's units, an integer size.
        refused(
            "request-size-limiting",
            json!({"size_unit": "gigabytes", "allowed_payload_size": 1.5}),
            vec![
                field_error("config.allowed_payload_size", &["expected an integer"]),
                field_error(
                    "config.size_unit",
                    &["expected one of: megabytes, kilobytes, bytes"],
                ),
            ],
        ),
        refused(
            "request-size-limiting",
            json!({"require_content_length": "yes", "allowed_payload_size": "big"}),
            vec![
                field_error("config.allowed_payload_size", &["expected an integer"]),
                field_error("config.require_content_length", &["expected a boolean"]),
            ],
        ),
        // developer.konghq.com, RequestTermination.json (3.9).
        stored(
            "request-termination",
            json!({}),
            json!({"status_code": 503, "message": null, "content_type": null, "body": null,
                   "echo": false, "trigger": null}),
        ),
        // Kong's request-termination schema.lua: the config's custom_validator.
        refused(
            "request-termination",
            json!({"message": "m", "body": "b"}),
            vec![field_error(
                "config",
                &["message cannot be used with content_type or body"],
            )],
        ),
        refused(
            "request-termination",
            json!({"echo": true, "body": "b"}),
            vec![field_error(
                "config",
                &["echo cannot be used with content_type and body"],
            )],
        ),
        refused(
            "request-termination",
            json!({"status_code": 600, "trigger": "bad header"}),
            vec![
                field_error(
                    "config.status_code",
                    &["value should be between 100 and 599"],
                ),
                field_error(
                    "config.trigger",
                    &[
                        "bad header name 'bad header', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                    ],
                ),
            ],
        ),
        // developer.konghq.com, StandardWebhooks.json (3.8/3.12): secret_v1 is required.
        stored(
            "standard-webhooks",
            json!({"secret_v1": "whsec_c2VjcmV0"}),
            json!({"secret_v1": "whsec_c2VjcmV0", "tolerance_second": 300}),
        ),
        refused(
            "standard-webhooks",
            json!({}),
            vec![field_error("config.secret_v1", &["required field missing"])],
        ),
        // Kong's standard-webhooks schema.lua: `gt = -1`.
        refused(
            "standard-webhooks",
            json!({"secret_v1": "s", "tolerance_second": -1}),
            vec![field_error(
                "config.tolerance_second",
                &["value must be greater than -1"],
            )],
        ),
    ]
}

fn rate_limiting() -> Vec<Case> {
    vec![
        // developer.konghq.com, RateLimiting.json (3.9; open-source redis record).
        stored(
            "rate-limiting",
            json!({"minute": 5}),
            json!({
                "second": null, "minute": 5, "hour": null, "day": null, "month": null,
                "year": null, "limit_by": "consumer", "header_name": null, "path": null,
                "policy": "local", "fault_tolerant": true, "redis": redis(json!(null), json!(null)),
                "hide_client_headers": false, "error_code": 429,
                "error_message": "API rate limit exceeded", "sync_rate": -1
            }),
        ),
        // Kong's rate-limiting schema.lua: the at_least_one_of entity check.
        refused("rate-limiting", json!({}), vec![entity_error(&[LIMITS])]),
        // The example; `cluster` needs a node with a database (Kong's is_dbless).
        refused(
            "rate-limiting",
            json!({"minutez": 5, "policy": "nonsense"}),
            vec![
                entity_error(&[LIMITS]),
                field_error("config.minutez", &["unknown field"]),
                field_error("config.policy", &["expected one of: local, redis"]),
            ],
        ),
        refused(
            "rate-limiting",
            json!({"minute": 5, "policy": "cluster"}),
            vec![field_error(
                "config.policy",
                &["expected one of: local, redis"],
            )],
        ),
        // Kong's rate-limiting schema.lua: policy redis needs config.redis.host and port.
        refused(
            "rate-limiting",
            json!({"minute": 5, "policy": "redis"}),
            vec![
                entity_error(&[GIVEN_POLICY, GIVEN_POLICY]),
                field_error("config.redis.host", &["required field missing"]),
                field_error("config.redis.port", &["required field missing"]),
            ],
        ),
        // The deprecated redis_* shorthands land in config.redis (Kong's shorthand_fields).
        stored(
            "rate-limiting",
            json!({"minute": 5, "policy": "redis", "redis_host": "redis.internal",
                   "redis_port": 6380, "sync_rate": 0.5}),
            json!({
                "second": null, "minute": 5, "hour": null, "day": null, "month": null,
                "year": null, "limit_by": "consumer", "header_name": null, "path": null,
                "policy": "redis", "fault_tolerant": true,
                "redis": redis(json!("redis.internal"), json!(6380)),
                "hide_client_headers": false, "error_code": 429,
                "error_message": "API rate limit exceeded", "sync_rate": 0.5
            }),
        ),
        // Kong's rate-limiting `validate_periods_order` and its sync_rate rules.
        refused(
            "rate-limiting",
            json!({"second": 10, "minute": 5}),
            vec![field_error(
                "config",
                &["The limit for minute(5.0) cannot be lower than the limit for second(10.0)"],
            )],
        ),
        refused(
            "rate-limiting",
            json!({"minute": 5, "sync_rate": 1}),
            vec![field_error(
                "config",
                &["sync_rate can only be used with the redis policy"],
            )],
        ),
        refused(
            "rate-limiting",
            json!({"minute": 5, "policy": "redis", "redis": {"host": "h", "port": 6379},
                   "sync_rate": 0.01}),
            vec![field_error(
                "config",
                &["sync_rate must be greater than 0.02, or -1 to disable"],
            )],
        ),
        // Kong's rate-limiting schema.lua: limit_by header needs header_name.
        refused(
            "rate-limiting",
            json!({"minute": 5, "limit_by": "header"}),
            vec![
                entity_error(&[
                    "failed conditional validation given value of field 'config.limit_by'",
                ]),
                field_error("config.header_name", &["required field missing"]),
            ],
        ),
    ]
}

fn response_ratelimiting() -> Vec<Case> {
    vec![
        // developer.konghq.com, ResponseRatelimiting.json (3.9; open-source redis record).
        stored(
            "response-ratelimiting",
            json!({"limits": {"sms": {"minute": 10}}}),
            json!({
                "header_name": "x-kong-limit", "limit_by": "consumer", "policy": "local",
                "fault_tolerant": true, "redis": redis(json!(null), json!(null)),
                "block_on_first_violation": false, "hide_client_headers": false,
                "limits": {"sms": {"second": null, "minute": 10, "hour": null, "day": null,
                                   "month": null, "year": null}}
            }),
        ),
        // Kong's response-ratelimiting schema.lua: limits is a required map.
        refused(
            "response-ratelimiting",
            json!({}),
            vec![field_error("config.limits", &["required field missing"])],
        ),
        // Each limit needs one period (the record's at_least_one_of) in order.
        refused(
            "response-ratelimiting",
            json!({"limits": {"sms": {"second": 10, "minute": 5}}}),
            vec![field_error(
                "config.limits",
                &["the limit for minute(5.0) cannot be lower than the limit for second(10.0)"],
            )],
        ),
        // policy redis needs config.redis.host and port (Kong's conditionals).
        refused(
            "response-ratelimiting",
            json!({"limits": {"sms": {"minute": 10}}, "policy": "redis"}),
            vec![
                entity_error(&[GIVEN_POLICY, GIVEN_POLICY]),
                field_error("config.redis.host", &["required field missing"]),
                field_error("config.redis.port", &["required field missing"]),
            ],
        ),
    ]
}

fn transformers() -> Vec<Case> {
    let empty3 = json!({"body": [], "headers": [], "querystring": []});
    let empty_json = json!({"json": [], "json_types": [], "headers": []});
    vec![
        // developer.konghq.com, RequestTransformer.json (3.13).
        stored(
            "request-transformer",
            json!({}),
            json!({
                "http_method": null, "remove": empty3, "rename": empty3,
                "replace": {"body": [], "headers": [], "querystring": [], "uri": null},
                "add": empty3, "append": empty3
            }),
        ),
        // Kong's request-transformer schema.lua: `check_for_value`, the header pair `match`,
        // `validate_colon_headers`, `typedefs.http_method`.
        refused(
            "request-transformer",
            json!({"http_method": "get", "add": {"body": ["key"], "headers": ["x-new"]},
                   "rename": {"headers": ["a:b c"]}}),
            vec![
                field_error("config.add.body[0]", &["key 'key' has no value"]),
                field_error("config.add.headers[0]", &["invalid value: x-new"]),
                field_error("config.http_method", &["invalid value: get"]),
                field_error("config.rename.headers[0]", &["'b c' is not a valid header"]),
            ],
        ),
        // Kong's request-transformer schema.lua `check_for_value`: each value compiles as
        // a penlight template; the text is the one Kong's route-transformer spec shows
        // for the same compile (`[string "TMP"]:4: ')' expected near 'does'`). A
        // template that compiles is taken.
        refused(
            "request-transformer",
            json!({"add": {"querystring": ["a:$(this does not work)", "b:$(headers.host)"]}}),
            vec![field_error(
                "config.add.querystring[0]",
                &[
                    "value '$(this does not work)' is not in supported format, error:[string \"TMP\"]:4: ')' expected near 'does'",
                ],
            )],
        ),
        // Kong's request-transformer schema.lua: arrays of strings, and `check_for_value`
        // on the querystring pairs.
        refused(
            "request-transformer",
            json!({"remove": {"headers": "x-old"}, "add": {"querystring": ["q"]}}),
            vec![
                field_error("config.add.querystring[0]", &["key 'q' has no value"]),
                field_error("config.remove.headers", &["expected an array"]),
            ],
        ),
        // developer.konghq.com, ResponseTransformer.json (3.13).
        stored(
            "response-transformer",
            json!({}),
            json!({
                "remove": {"json": [], "headers": []}, "rename": {"json": [], "headers": []},
                "replace": empty_json, "add": empty_json, "append": empty_json
            }),
        ),
        // Kong's response-transformer schema.lua: json_types one_of, the pair `match`,
        // header names.
        refused(
            "response-transformer",
            json!({"add": {"json_types": ["object"], "headers": ["bad name:v"]},
                   "replace": {"json": ["nocolon"]}}),
            vec![
                field_error(
                    "config.add.headers[0]",
                    &["'bad name' is not a valid header"],
                ),
                field_error(
                    "config.add.json_types[0]",
                    &["expected one of: boolean, number, string"],
                ),
                field_error("config.replace.json[0]", &["invalid value: nocolon"]),
            ],
        ),
        refused(
            "response-transformer",
            json!({"remove": {"json": "a", "body": []}}),
            vec![
                field_error("config.remove.body", &["unknown field"]),
                field_error("config.remove.json", &["expected an array"]),
            ],
        ),
    ]
}
