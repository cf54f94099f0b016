//! The serverless, cloud-function, certificate and tracing plugins: acme, aws-lambda,
//! azure-functions, opentelemetry, pre-function, post-function and zipkin.

use serde_json::{Value, json};

use super::{Expect, config, run};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::core_entities::{entity_error, field_error};

/// An entity-check message of a nested record (`@entity` of `config`), as Koko flattens it.
fn record_error(field: &str, messages: &[&str]) -> Value {
    let mut error = entity_error(messages);
    error["field"] = json!(field);
    error
}

both_backends!(function_plugins_get_kongs_defaults_and_kongs_errors);

async fn function_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    let mut cases = Vec::new();
    cases.extend(serverless_functions());
    cases.extend(aws_lambda());
    cases.extend(azure_functions());
    cases.extend(acme());
    cases.extend(opentelemetry());
    cases.extend(zipkin());
    run(backend, cases).await;
}

fn serverless_functions() -> Vec<super::Case> {
    let mut cases = Vec::new();
    for plugin in ["pre-function", "post-function"] {
        let phases = "'config.certificate', 'config.rewrite', 'config.access', \
                      'config.header_filter', 'config.body_filter', 'config.log'";
        cases.extend([
            // developer.konghq.com, pre-function/post-function configuration reference:
            // every phase defaults to an empty array. The code is compiled, never run
            // (Kong's 01-schema_spec.lua: "error in function is not triggered during validation").
            config(
                plugin,
                json!({"access": ["error('should never happen') while true do end"]}),
                Expect::Stored(json!({
                    "certificate": [], "rewrite": [],
                    "access": ["error('should never happen') while true do end"],
                    "header_filter": [], "body_filter": [], "log": []
                })),
            ),
            // Kong's `_schema.lua`: `at_least_one_of` the phases; an empty array is empty.
            config(
                plugin,
                json!({}),
                Expect::Refused(vec![entity_error(&[&format!(
                    "at least one of these fields must be non-empty: {phases}"
                )])]),
            ),
            // Kong's spec/03-plugins/33-serverless-functions/01-schema_spec.lua: "with a
            // valid and invalid function", the `loadstring` error of the second one.
            config(
                plugin,
                json!({"access": ["local x = 1", "print("], "log": ["return function() end"]}),
                Expect::Refused(vec![field_error(
                    "config.access[1]",
                    &[&format!(
                        "error parsing {plugin}: [string \"print(\"]:1: unexpected symbol near '<eof>'"
                    )],
                )]),
            ),
            // Lua names a chunk after its first line; the line number is the error's.
            config(
                plugin,
                json!({"header_filter": ["local a = 1\nlocal b = = 2"], "rewrite": [7]}),
                Expect::Refused(vec![
                    field_error(
                        "config.header_filter[0]",
                        &[&format!(
                            "error parsing {plugin}: [string \"local a = 1...\"]:2: unexpected symbol near '='"
                        )],
                    ),
                    field_error("config.rewrite[0]", &["expected a string"]),
                ]),
            ),
        ]);
    }
    cases
}

fn aws_lambda() -> Vec<super::Case> {
    vec![
        // developer.konghq.com, app/_schemas/gateway/plugins/3.10/AwsLambda.json.
        config(
            "aws-lambda",
            json!({"function_name": "orders", "aws_region": "eu-west-1"}),
            Expect::Stored(json!({
                "timeout": 60000, "keepalive": 60000, "aws_key": null, "aws_secret": null,
                "aws_assume_role_arn": null, "aws_role_session_name": "kong",
                "aws_sts_endpoint_url": null, "aws_region": "eu-west-1",
                "function_name": "orders", "qualifier": null,
                "invocation_type": "RequestResponse", "log_type": "Tail", "host": null,
                "port": 443, "disable_https": false, "unhandled_status": null,
                "forward_request_method": false, "forward_request_uri": false,
                "forward_request_headers": false, "forward_request_body": false,
                "is_proxy_integration": false, "awsgateway_compatible": false,
                "proxy_url": null, "skip_large_bodies": true, "base64_encode_body": true,
                "aws_imds_protocol_version": "v1", "empty_arrays_mode": "legacy"
            })),
        ),
        // Kong's aws-lambda/schema.lua: `mutually_required` aws_key/aws_secret.
        config(
            "aws-lambda",
            json!({"aws_key": "AKIA"}),
            Expect::Refused(vec![entity_error(&[
                "all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'",
            ])]),
        ),
        // Kong's aws-lambda/schema.lua: the proxy_url `custom_entity_check`.
        config(
            "aws-lambda",
            json!({"proxy_url": "https://proxy.internal:3128"}),
            Expect::Refused(vec![entity_error(&["proxy_url scheme must be http"])]),
        ),
        // Kong's `one_of` and `between` validators (kong/db/schema/init.lua).
        config(
            "aws-lambda",
            json!({"invocation_type": "Async", "unhandled_status": 99, "log_type": "Full"}),
            Expect::Refused(vec![
                field_error(
                    "config.invocation_type",
                    &["expected one of: RequestResponse, Event, DryRun"],
                ),
                field_error("config.log_type", &["expected one of: Tail, None"]),
                field_error(
                    "config.unhandled_status",
                    &["value should be between 100 and 999"],
                ),
            ]),
        ),
    ]
}

fn azure_functions() -> Vec<super::Case> {
    vec![
        // developer.konghq.com, app/_schemas/gateway/plugins/3.11/AzureFunctions.json.
        config(
            "azure-functions",
            json!({"appname": "shop", "functionname": "orders"}),
            Expect::Stored(json!({
                "timeout": 600000, "keepalive": 60000, "https": true, "https_verify": false,
                "apikey": null, "clientid": null, "appname": "shop",
                "hostdomain": "azurewebsites.net", "routeprefix": "api",
                "functionname": "orders"
            })),
        ),
        // Kong's azure-functions/schema.lua: appname and functionname are required.
        config(
            "azure-functions",
            json!({}),
            Expect::Refused(vec![
                field_error("config.appname", &["required field missing"]),
                field_error("config.functionname", &["required field missing"]),
            ]),
        ),
        // Kong's type checks (kong/db/schema/init.lua).
        config(
            "azure-functions",
            json!({"appname": "shop", "functionname": "orders", "https": "yes", "timeout": "1s"}),
            Expect::Refused(vec![
                field_error("config.https", &["expected a boolean"]),
                field_error("config.timeout", &["expected a number"]),
            ]),
        ),
    ]
}

fn acme() -> Vec<super::Case> {
    let storage_config = json!({
        "shm": {"shm_name": "kong"},
        "kong": {},
        "redis": {
            "host": null, "port": null, "timeout": 2000, "username": null, "password": null,
            "database": 0, "ssl": false, "ssl_verify": false, "server_name": null,
            "extra_options": {"namespace": "", "scan_count": 10}
        },
        "consul": {
            "https": false, "host": null, "port": null, "kv_path": null, "timeout": null,
            "token": null
        },
        "vault": {
            "https": false, "host": null, "port": null, "kv_path": null, "timeout": null,
            "token": null, "tls_verify": true, "tls_server_name": null,
            "auth_method": "token", "auth_path": null, "auth_role": null, "jwt_path": null
        }
    });
    let stored = |storage: &str, storage_config: Value| {
        json!({
            "account_email": "ops@example.com", "account_key": null,
            "api_uri": "https://acme-v02.api.letsencrypt.org/directory",
            "tos_accepted": false, "eab_kid": null, "eab_hmac_key": null,
            "cert_type": "rsa", "rsa_key_size": 4096, "renew_threshold_days": 14,
            "domains": null, "allow_any_domain": false, "fail_backoff_minutes": 5,
            "storage": storage, "storage_config": storage_config,
            "preferred_chain": null, "enable_ipv4_common_name": true
        })
    };
    let mut redis_storage = storage_config.clone();
    redis_storage["redis"]["host"] = json!("redis.internal");
    redis_storage["redis"]["port"] = json!(6379);
    redis_storage["redis"]["password"] = json!("s3cret");
    redis_storage["redis"]["extra_options"]["namespace"] = json!("acme");
    vec![
        // developer.konghq.com, app/_schemas/gateway/plugins/3.9/Acme.json (no 3.10 file).
        config(
            "acme",
            json!({"account_email": "ops@example.com", "storage": "kong"}),
            Expect::Stored(stored("kong", storage_config.clone())),
        ),
        // Kong's acme/schema.lua: the storage `custom_entity_check`, as a control plane
        // (role `control_plane`) answers it; `shm` is the default storage.
        config(
            "acme",
            json!({"account_email": "ops@example.com"}),
            Expect::Refused(vec![entity_error(&[
                "\"shm\" storage can't be used in Hybrid mode",
            ])]),
        ),
        // Kong's acme/schema.lua: the deprecated Redis shorthands (`auth`, `namespace`)
        // land on `password` and `extra_options.namespace`.
        config(
            "acme",
            json!({"account_email": "ops@example.com", "storage": "redis",
                   "storage_config": {"redis": {"host": "redis.internal", "port": 6379,
                                                "auth": "s3cret", "namespace": "acme"}}}),
            Expect::Stored(stored("redis", redis_storage)),
        ),
        // Kong's acme/schema.lua: `storage = "redis"` needs the Redis host and port
        // (`conditional` checks), and the account e-mail must match its pattern.
        config(
            "acme",
            json!({"account_email": "nobody", "storage": "redis"}),
            Expect::Refused(vec![
                entity_error(&[
                    "failed conditional validation given value of field 'config.storage'",
                    "failed conditional validation given value of field 'config.storage'",
                ]),
                field_error("config.account_email", &["invalid value: nobody"]),
                field_error(
                    "config.storage_config.redis.host",
                    &["required field missing"],
                ),
                field_error(
                    "config.storage_config.redis.port",
                    &["required field missing"],
                ),
            ]),
        ),
        // Kong's acme/schema.lua: Let's Encrypt's terms of service, a reserved Redis
        // namespace, and `typedefs.hosts`' wildcard rule. Kong's `conditional` checker
        // (kong/db/schema/init.lua) puts the `eq` validator's text at the then-field and
        // the `then_err` in `@entity`.
        config(
            "acme",
            json!({"account_email": "ops@example.com", "storage": "kong",
                   "api_uri": "https://acme-staging-v02.api.letsencrypt.org",
                   "domains": ["*.*.example.com"],
                   "storage_config": {"redis": {"extra_options": {"namespace": "kong_acme:cert_key:x"}}}}),
            Expect::Refused(vec![
                entity_error(&[
                    "terms of service must be accepted, see https://letsencrypt.org/repository/",
                ]),
                field_error(
                    "config.domains[0]",
                    &["invalid wildcard: must have at most one wildcard"],
                ),
                field_error(
                    "config.storage_config.redis.extra_options.namespace",
                    &["namespace can't be prefixed with reserved word: kong_acme:cert_key:"],
                ),
                field_error("config.tos_accepted", &["value must be true"]),
            ]),
        ),
        // acme is a global plugin only (`typedefs.no_service`, `no_route`, `no_consumer`).
        super::Case {
            plugin: "acme",
            body: json!({"config": {"account_email": "ops@example.com", "storage": "kong"},
                         "service": {"id": "7fca84d6-7d37-4a74-a7b0-93e576089a41"}}),
            expect: Expect::Refused(vec![field_error("service", &["value must be null"])]),
        },
    ]
}

fn queue(max_batch_size: u32) -> Value {
    json!({
        "max_batch_size": max_batch_size, "max_coalescing_delay": 1, "max_entries": 10000,
        "max_bytes": null, "max_retry_time": 60, "initial_retry_delay": 0.01,
        "max_retry_delay": 60, "concurrency_limit": 1
    })
}

fn opentelemetry() -> Vec<super::Case> {
    let stored = |traces: Value, logs: Value| {
        json!({
            "traces_endpoint": traces, "logs_endpoint": logs, "headers": null,
            "resource_attributes": null, "queue": queue(200), "batch_span_count": null,
            "batch_flush_delay": null, "connect_timeout": 1000, "send_timeout": 5000,
            "read_timeout": 5000, "http_response_header_for_traceid": null,
            "header_type": "preserve", "sampling_rate": null,
            "propagation": {"extract": null, "clear": null, "inject": null,
                            "default_format": "w3c"}
        })
    };
    vec![
        // developer.konghq.com, app/_schemas/gateway/plugins/3.10/Opentelemetry.json.
        config(
            "opentelemetry",
            json!({"traces_endpoint": "http://otel:4318/v1/traces"}),
            Expect::Stored(stored(json!("http://otel:4318/v1/traces"), Value::Null)),
        ),
        // Kong's opentelemetry/schema.lua: the deprecated `endpoint` shorthand is
        // `traces_endpoint`.
        config(
            "opentelemetry",
            json!({"endpoint": "http://otel:4318/v1/traces", "logs_endpoint": "http://otel:4318/v1/logs"}),
            Expect::Stored(stored(
                json!("http://otel:4318/v1/traces"),
                json!("http://otel:4318/v1/logs"),
            )),
        ),
        // Kong's opentelemetry/schema.lua: the config record's `at_least_one_of`.
        config(
            "opentelemetry",
            json!({}),
            Expect::Refused(vec![record_error(
                "config",
                &[
                    "at least one of these fields must be non-empty: 'traces_endpoint', 'logs_endpoint'",
                ],
            )]),
        ),
        // Kong's validators: `between`, `one_of`, `typedefs.header_name` map keys,
        // `typedefs.url`, and the propagation record's `one_of` elements. A propagation
        // record given in part lacks its required `default_format`: the record's default
        // (`{ default_format = "w3c" }`) only applies when the record is absent
        // (kong/observability/tracing/propagation/schema.lua has no field default).
        config(
            "opentelemetry",
            json!({"traces_endpoint": "otel:4318", "sampling_rate": 1.5,
                   "header_type": "zipkin", "headers": {"bad header": "x"},
                   "propagation": {"extract": ["w3c", "nope"]}}),
            Expect::Refused(vec![
                field_error(
                    "config.header_type",
                    &[
                        "expected one of: preserve, ignore, b3, b3-single, w3c, jaeger, ot, aws, gcp, datadog",
                    ],
                ),
                field_error(
                    "config.headers",
                    &[
                        "bad header name 'bad header', allowed characters are A-Z, a-z, 0-9, '_', and '-'",
                    ],
                ),
                field_error(
                    "config.propagation.default_format",
                    &["required field missing"],
                ),
                field_error(
                    "config.propagation.extract[1]",
                    &["expected one of: w3c, b3, jaeger, ot, datadog, aws, gcp"],
                ),
                field_error("config.sampling_rate", &["value should be between 0 and 1"]),
                // luasocket's url.parse reads "otel:4318" as scheme "otel" with no
                // authority; Kong's validate_url checks the host first.
                field_error("config.traces_endpoint", &["missing host in url"]),
            ]),
        ),
    ]
}

fn zipkin() -> Vec<super::Case> {
    vec![
        // developer.konghq.com, app/_schemas/gateway/plugins/3.9/Zipkin.json (no 3.10 file).
        config(
            "zipkin",
            json!({}),
            Expect::Stored(json!({
                "local_service_name": "kong", "http_endpoint": null, "sample_ratio": 0.001,
                "default_service_name": null, "include_credential": true,
                "traceid_byte_count": 16, "header_type": "preserve",
                "default_header_type": "b3", "tags_header": "Zipkin-Tags",
                "static_tags": null, "http_span_name": "method", "connect_timeout": 2000,
                "send_timeout": 5000, "read_timeout": 5000,
                "http_response_header_for_traceid": null,
                "phase_duration_flavor": "annotations", "queue": queue(1),
                "propagation": {"extract": null, "clear": null, "inject": null,
                                "default_format": "b3"}
            })),
        ),
        // Kong's zipkin/schema.lua: static tags may not repeat a name.
        config(
            "zipkin",
            json!({"static_tags": [{"name": "color", "value": "red"},
                                   {"name": "color", "value": "blue"}]}),
            Expect::Refused(vec![field_error(
                "config.static_tags",
                &["repeated tags are not allowed: color"],
            )]),
        ),
        // Kong's zipkin/schema.lua: protected tag names (`not_one_of`), `one_of`, `between`.
        config(
            "zipkin",
            json!({"static_tags": [{"name": "lc", "value": "x"}], "traceid_byte_count": 12,
                   "sample_ratio": 2}),
            Expect::Refused(vec![
                field_error("config.sample_ratio", &["value should be between 0 and 1"]),
                field_error(
                    "config.static_tags[0].name",
                    &[
                        "must not be one of: error, http.method, http.path, http.status_code, \
                       kong.balancer.state, kong.balancer.try, kong.consumer, kong.credential, \
                       kong.node.id, kong.route, kong.service, lc, peer.hostname",
                    ],
                ),
                field_error("config.traceid_byte_count", &["expected one of: 8, 16"]),
            ]),
        ),
    ]
}
