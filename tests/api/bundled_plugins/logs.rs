//! The logging and metrics plugins: datadog, file-log, http-log, loggly, prometheus,
//! statsd, syslog, tcp-log, udp-log.

use serde_json::{Value, json};

use super::{Expect, config, run};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::core_entities::{entity_error, field_error};

/// Kong's `kong/tools/queue_schema.lua` (`typedefs.queue`) with its defaults.
fn default_queue() -> Value {
    json!({
        "max_batch_size": 1, "max_coalescing_delay": 1, "max_entries": 10000,
        "max_bytes": null, "max_retry_time": 60, "initial_retry_delay": 0.01,
        "max_retry_delay": 60, "concurrency_limit": 1
    })
}

/// An entity check of a record nested in `config` (Kong's `@entity` of that record): Koko
/// flattens it as an entity error carrying the record's path.
fn record_entity_error(field: &str, message: &str) -> Value {
    let mut detail = entity_error(&[message]);
    detail["field"] = json!(field);
    detail
}

const SEVERITIES: &str = "expected one of: debug, info, notice, warning, err, crit, alert, emerg";

both_backends!(file_udp_and_tcp_log_get_kongs_defaults_and_kongs_errors);

async fn file_udp_and_tcp_log_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    run(
        backend,
        vec![
            // developer.konghq.com, file-log configuration reference: `path` is required.
            config(
                "file-log",
                json!({"path": "/dev/stdout"}),
                Expect::Stored(json!({
                    "path": "/dev/stdout", "reopen": false, "custom_fields_by_lua": null
                })),
            ),
            config(
                "file-log",
                json!({}),
                Expect::Refused(vec![field_error(
                    "config.path",
                    &["required field missing"],
                )]),
            ),
            // kong/plugins/file-log/schema.lua: `match` with `err = "not a valid filename"`;
            // typedefs.lua_code: map keys and values of at least one character.
            config(
                "file-log",
                json!({"path": "/tmp/a&b.log", "reopen": "no",
                       "custom_fields_by_lua": {"": "return 1"}}),
                Expect::Refused(vec![
                    field_error(
                        "config.custom_fields_by_lua",
                        &["length must be at least 1"],
                    ),
                    field_error("config.path", &["not a valid filename"]),
                    field_error("config.reopen", &["expected a boolean"]),
                ]),
            ),
            // typedefs.lua_code: Kong compiles each value without running it
            // (kong/tools/sandbox `validate_safe`) and prefixes the compiler's message;
            // code that compiles is accepted even when running it would fail.
            config(
                "file-log",
                json!({"path": "/tmp/kong.log",
                       "custom_fields_by_lua": {"a": "return (", "b": "error('never run')"}}),
                Expect::Refused(vec![field_error(
                    "config.custom_fields_by_lua",
                    &["Error parsing function: [string \"return (\"]:1: unexpected symbol near '<eof>'"],
                )]),
            ),
            // developer.konghq.com, udp-log configuration reference.
            config(
                "udp-log",
                json!({"host": "logs.example.com", "port": 9999}),
                Expect::Stored(json!({
                    "host": "logs.example.com", "port": 9999, "timeout": 10000,
                    "custom_fields_by_lua": null
                })),
            ),
            // kong/plugins/udp-log/schema.lua: typedefs.host and typedefs.port, both required.
            config(
                "udp-log",
                json!({}),
                Expect::Refused(vec![
                    field_error("config.host", &["required field missing"]),
                    field_error("config.port", &["required field missing"]),
                ]),
            ),
            config(
                "udp-log",
                json!({"host": "logs.example.com:514", "port": 70000, "timeout": "soon"}),
                Expect::Refused(vec![
                    field_error("config.host", &["must not have a port"]),
                    field_error("config.port", &["value should be between 0 and 65535"]),
                    field_error("config.timeout", &["expected a number"]),
                ]),
            ),
            // developer.konghq.com, tcp-log configuration reference.
            config(
                "tcp-log",
                json!({"host": "10.0.0.5", "port": 5140}),
                Expect::Stored(json!({
                    "host": "10.0.0.5", "port": 5140, "timeout": 10000, "keepalive": 60000,
                    "tls": false, "tls_sni": null, "custom_fields_by_lua": null
                })),
            ),
            // kong/plugins/tcp-log/schema.lua: `tls` is a required boolean, so null is missing.
            config(
                "tcp-log",
                json!({"host": "10.0.0.5", "port": 5140, "tls": null, "keepalive": "1m"}),
                Expect::Refused(vec![
                    field_error("config.keepalive", &["expected a number"]),
                    field_error("config.tls", &["required field missing"]),
                ]),
            ),
            config(
                "tcp-log",
                json!({"host": "10.0.0.5", "port": 5140, "tls_sni": "",
                       "custom_fields_by_lua": {"latency": 5}}),
                Expect::Refused(vec![
                    field_error("config.custom_fields_by_lua", &["expected a string"]),
                    field_error("config.tls_sni", &["length must be at least 1"]),
                ]),
            ),
        ],
    )
    .await;
}

both_backends!(syslog_and_loggly_get_kongs_defaults_and_kongs_errors);

async fn syslog_and_loggly_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    run(
        backend,
        vec![
            // developer.konghq.com, syslog configuration reference: nothing is required.
            config(
                "syslog",
                json!({}),
                Expect::Stored(json!({
                    "log_level": "info", "successful_severity": "info",
                    "client_errors_severity": "info", "server_errors_severity": "info",
                    "custom_fields_by_lua": null, "facility": "user"
                })),
            ),
            // kong/plugins/syslog/schema.lua: lower-case facilities, required severities.
            config(
                "syslog",
                json!({"facility": "USER", "log_level": "verbose", "server_errors_severity": null}),
                Expect::Refused(vec![
                    field_error(
                        "config.facility",
                        &["expected one of: auth, authpriv, cron, daemon, ftp, kern, lpr, mail, news, syslog, user, uucp, local0, local1, local2, local3, local4, local5, local6, local7"],
                    ),
                    field_error("config.log_level", &[SEVERITIES]),
                    field_error("config.server_errors_severity", &["required field missing"]),
                ]),
            ),
            // kong/plugins/syslog/schema.lua: the severities are strings of one list.
            config(
                "syslog",
                json!({"successful_severity": 3, "client_errors_severity": "fatal"}),
                Expect::Refused(vec![
                    field_error("config.client_errors_severity", &[SEVERITIES]),
                    field_error("config.successful_severity", &["expected a string"]),
                ]),
            ),
            // developer.konghq.com, loggly configuration reference: `key` is required.
            config(
                "loggly",
                json!({"key": "abc123"}),
                Expect::Stored(json!({
                    "host": "logs-01.loggly.com", "port": 514, "key": "abc123", "tags": ["kong"],
                    "log_level": "info", "successful_severity": "info",
                    "client_errors_severity": "info", "server_errors_severity": "info",
                    "timeout": 10000, "custom_fields_by_lua": null
                })),
            ),
            // kong/plugins/loggly/schema.lua: `key` is referenceable, `tags` a set.
            config(
                "loggly",
                json!({"key": "{vault://env/loggly-key}", "tags": ["kong", "edge", "kong"]}),
                Expect::Stored(json!({
                    "host": "logs-01.loggly.com", "port": 514, "key": "{vault://env/loggly-key}",
                    "tags": ["kong", "edge"],
                    "log_level": "info", "successful_severity": "info",
                    "client_errors_severity": "info", "server_errors_severity": "info",
                    "timeout": 10000, "custom_fields_by_lua": null
                })),
            ),
            config(
                "loggly",
                json!({}),
                Expect::Refused(vec![field_error("config.key", &["required field missing"])]),
            ),
            config(
                "loggly",
                json!({"key": "abc123", "tags": ["kong", 7], "successful_severity": "fine",
                       "host": "bad host"}),
                Expect::Refused(vec![
                    field_error("config.host", &["invalid value: bad host"]),
                    field_error("config.successful_severity", &[SEVERITIES]),
                    field_error("config.tags[1]", &["expected a string"]),
                ]),
            ),
        ],
    )
    .await;
}

both_backends!(http_log_gets_kongs_defaults_and_kongs_errors);

async fn http_log_gets_kongs_defaults_and_kongs_errors(backend: Backend) {
    run(
        backend,
        vec![
            // developer.konghq.com, http-log configuration reference (3.9 and 3.11 JSON):
            // the deprecated retry_count, queue_size and flush_timeout have no default.
            config(
                "http-log",
                json!({"http_endpoint": "https://logs.example.com/kong"}),
                Expect::Stored(json!({
                    "http_endpoint": "https://logs.example.com/kong", "method": "POST",
                    "content_type": "application/json", "timeout": 10000, "keepalive": 60000,
                    "retry_count": null, "queue_size": null, "flush_timeout": null,
                    "headers": null, "queue": default_queue(), "custom_fields_by_lua": null
                })),
            ),
            // A deprecated field is still accepted (Kong only logs a deprecation warning);
            // queue fields not given get their defaults.
            config(
                "http-log",
                json!({"http_endpoint": "http://logs.example.com", "method": "PUT",
                       "queue_size": 10, "queue": {"max_batch_size": 10},
                       "headers": {"X-Token": "{vault://env/log-token}"}}),
                Expect::Stored(json!({
                    "http_endpoint": "http://logs.example.com", "method": "PUT",
                    "content_type": "application/json", "timeout": 10000, "keepalive": 60000,
                    "retry_count": null, "queue_size": 10, "flush_timeout": null,
                    "headers": {"X-Token": "{vault://env/log-token}"},
                    "queue": {
                        "max_batch_size": 10, "max_coalescing_delay": 1, "max_entries": 10000,
                        "max_bytes": null, "max_retry_time": 60, "initial_retry_delay": 0.01,
                        "max_retry_delay": 60, "concurrency_limit": 1
                    },
                    "custom_fields_by_lua": null
                })),
            ),
            config(
                "http-log",
                json!({}),
                Expect::Refused(vec![field_error(
                    "config.http_endpoint",
                    &["required field missing"],
                )]),
            ),
            // kong/plugins/http-log/schema.lua: one_of lists; typedefs.queue's validators.
            config(
                "http-log",
                json!({"http_endpoint": "https://logs.example.com", "method": "GET",
                       "content_type": "text/plain",
                       "queue": {"max_batch_size": 0, "concurrency_limit": 2}}),
                Expect::Refused(vec![
                    field_error(
                        "config.content_type",
                        &["expected one of: application/json, application/json; charset=utf-8"],
                    ),
                    field_error("config.method", &["expected one of: POST, PUT, PATCH"]),
                    field_error("config.queue.concurrency_limit", &["expected one of: -1, 1"]),
                    field_error(
                        "config.queue.max_batch_size",
                        &["value should be between 1 and 1000000"],
                    ),
                ]),
            ),
            // kong/plugins/http-log/schema.lua: the header keys' match_none.
            config(
                "http-log",
                json!({"http_endpoint": "https://logs.example.com",
                       "headers": {"Host": "logs.example.com"}}),
                Expect::Refused(vec![field_error(
                    "config.headers",
                    &["cannot contain 'Host' header"],
                )]),
            ),
            // typedefs.url: luasocket's `url.parse` finds an empty authority, so no host.
            config(
                "http-log",
                json!({"http_endpoint": "https:///kong"}),
                Expect::Refused(vec![field_error(
                    "config.http_endpoint",
                    &["missing host in url"],
                )]),
            ),
            // kong/plugins/http-log/schema.lua, the config record's custom_validator: user
            // info alone is fine, so is an Authorization header alone.
            config(
                "http-log",
                json!({"http_endpoint": "https://user:secret@logs.example.com"}),
                Expect::Stored(json!({
                    "http_endpoint": "https://user:secret@logs.example.com", "method": "POST",
                    "content_type": "application/json", "timeout": 10000, "keepalive": 60000,
                    "retry_count": null, "queue_size": null, "flush_timeout": null,
                    "headers": null, "queue": default_queue(), "custom_fields_by_lua": null
                })),
            ),
            config(
                "http-log",
                json!({"http_endpoint": "https://logs.example.com",
                       "headers": {"Authorization": "Basic eA=="}}),
                Expect::Stored(json!({
                    "http_endpoint": "https://logs.example.com", "method": "POST",
                    "content_type": "application/json", "timeout": 10000, "keepalive": 60000,
                    "retry_count": null, "queue_size": null, "flush_timeout": null,
                    "headers": {"Authorization": "Basic eA=="}, "queue": default_queue(),
                    "custom_fields_by_lua": null
                })),
            ),
            // kong/plugins/http-log/schema.lua, both together are refused.
            config(
                "http-log",
                json!({"http_endpoint": "https://user:secret@logs.example.com",
                       "headers": {"authorization": "Basic eA=="}}),
                Expect::Refused(vec![field_error(
                    "config",
                    &["specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed"],
                )]),
            ),
        ],
    )
    .await;
}

/// datadog's default `metrics` (kong/plugins/datadog/schema.lua, DEFAULT_METRICS).
fn datadog_default_metrics() -> Value {
    let metric = |name: &str, stat_type: &str| {
        let mut m = json!({
            "name": name, "stat_type": stat_type, "tags": ["app:kong"],
            "consumer_identifier": "custom_id"
        });
        if stat_type == "counter" {
            m["sample_rate"] = json!(1);
        }
        m
    };
    json!([
        metric("request_count", "counter"),
        metric("latency", "timer"),
        metric("request_size", "timer"),
        metric("response_size", "timer"),
        metric("upstream_latency", "timer"),
        metric("kong_latency", "timer"),
    ])
}

/// statsd's default `metrics` (kong/plugins/statsd/schema.lua, DEFAULT_METRICS).
fn statsd_default_metrics() -> Value {
    let metric = |name: &str, stat_type: &str| {
        let mut m = json!({"name": name, "stat_type": stat_type});
        if stat_type == "counter" || stat_type == "gauge" {
            m["sample_rate"] = json!(1);
        }
        m
    };
    json!([
        metric("request_count", "counter"),
        metric("latency", "timer"),
        metric("request_size", "counter"),
        metric("status_count", "counter"),
        metric("response_size", "counter"),
        metric("unique_users", "set"),
        metric("request_per_user", "counter"),
        metric("upstream_latency", "timer"),
        metric("kong_latency", "timer"),
        metric("status_count_per_user", "counter"),
        metric("status_count_per_workspace", "counter"),
        metric("status_count_per_user_per_route", "counter"),
        metric("shdict_usage", "gauge"),
    ])
}

both_backends!(metrics_plugins_get_kongs_defaults_and_kongs_errors);

async fn metrics_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    run(
        backend,
        vec![
            // developer.konghq.com, prometheus configuration reference (3.11; 3.10 adds
            // wasm_metrics, kong/clustering/compat/removed_fields.lua).
            config(
                "prometheus",
                json!({}),
                Expect::Stored(json!({
                    "per_consumer": false, "status_code_metrics": false, "ai_metrics": false,
                    "latency_metrics": false, "bandwidth_metrics": false,
                    "upstream_health_metrics": false, "wasm_metrics": false
                })),
            ),
            config(
                "prometheus",
                json!({"per_consumer": "yes", "histogram_buckets": [1, 2]}),
                Expect::Refused(vec![
                    field_error("config.histogram_buckets", &["unknown field"]),
                    field_error("config.per_consumer", &["expected a boolean"]),
                ]),
            ),
            config(
                "prometheus",
                json!({"bandwidth_metrics": "no", "latency_metrics": 1}),
                Expect::Refused(vec![
                    field_error("config.bandwidth_metrics", &["expected a boolean"]),
                    field_error("config.latency_metrics", &["expected a boolean"]),
                ]),
            ),
            // developer.konghq.com, datadog configuration reference.
            config(
                "datadog",
                json!({}),
                Expect::Stored(json!({
                    "host": "localhost", "port": 8125, "prefix": "kong",
                    "service_name_tag": "name", "status_tag": "status", "consumer_tag": "consumer",
                    "retry_count": null, "queue_size": null, "flush_timeout": null,
                    "queue": default_queue(), "metrics": datadog_default_metrics()
                })),
            ),
            // kong/plugins/datadog/schema.lua: a counter or gauge needs its sample_rate.
            config(
                "datadog",
                json!({"metrics": [{"name": "latency", "stat_type": "gauge"}]}),
                Expect::Refused(vec![
                    record_entity_error(
                        "config.metrics[0]",
                        "failed conditional validation given value of field 'stat_type'",
                    ),
                    field_error("config.metrics[0].sample_rate", &["required field missing"]),
                ]),
            ),
            config(
                "datadog",
                json!({"metrics": [{"name": "status_count", "stat_type": "distribution",
                                    "tags": ["app:"], "sample_rate": 2}]}),
                Expect::Refused(vec![
                    field_error(
                        "config.metrics[0].name",
                        &["expected one of: kong_latency, latency, request_count, request_size, response_size, upstream_latency"],
                    ),
                    field_error("config.metrics[0].sample_rate", &["value should be between 0 and 1"]),
                    field_error("config.metrics[0].tags[0]", &["invalid value: app:"]),
                ]),
            ),
            config(
                "datadog",
                json!({"metrics": [], "host": "{vault://env/dd-host}", "port": -1}),
                Expect::Refused(vec![field_error(
                    "config.port",
                    &["value should be between 0 and 65535"],
                )]),
            ),
            // developer.konghq.com, statsd configuration reference.
            config(
                "statsd",
                json!({}),
                Expect::Stored(json!({
                    "host": "localhost", "port": 8125, "prefix": "kong",
                    "metrics": statsd_default_metrics(), "allow_status_codes": null,
                    "udp_packet_size": 0, "use_tcp": false, "hostname_in_prefix": false,
                    "consumer_identifier_default": "custom_id",
                    "service_identifier_default": "service_name_or_host",
                    "workspace_identifier_default": "workspace_id",
                    "retry_count": null, "queue_size": null, "flush_timeout": null,
                    "tag_style": null, "queue": default_queue()
                })),
            ),
            // kong/plugins/statsd/schema.lua and constants.lua (REGEX_STATUS_CODE_RANGE).
            config(
                "statsd",
                json!({"allow_status_codes": ["200-299", "404"], "udp_packet_size": 65508,
                       "tag_style": "prometheus",
                       "metrics": [{"name": "unique_users", "stat_type": "set", "sample_rate": 0}]}),
                Expect::Refused(vec![
                    field_error("config.allow_status_codes[1]", &["invalid value: 404"]),
                    field_error("config.metrics[0].sample_rate", &["value must be greater than 0"]),
                    field_error(
                        "config.tag_style",
                        &["expected one of: dogstatsd, influxdb, librato, signalfx"],
                    ),
                    field_error("config.udp_packet_size", &["value should be between 0 and 65507"]),
                ]),
            ),
            config(
                "statsd",
                json!({"metrics": [{"name": "request_count", "stat_type": "counter",
                                    "service_identifier": "service_tag"}]}),
                Expect::Refused(vec![
                    record_entity_error(
                        "config.metrics[0]",
                        "failed conditional validation given value of field 'stat_type'",
                    ),
                    field_error("config.metrics[0].sample_rate", &["required field missing"]),
                    field_error(
                        "config.metrics[0].service_identifier",
                        &["expected one of: service_id, service_name, service_host, service_name_or_host"],
                    ),
                ]),
            ),
        ],
    )
    .await;
}

/// The field `name` of a rendered record (`fields` is a list of one-key objects).
fn rendered_field<'a>(record: &'a Value, name: &str) -> &'a Value {
    record["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {record}"))
        .iter()
        .find_map(|f| f.get(name))
        .unwrap_or_else(|| panic!("no field {name} in {record}"))
}

both_backends!(logging_plugin_schemas_are_served_as_kong_renders_them);

async fn logging_plugin_schemas_are_served_as_kong_renders_them(backend: Backend) {
    let app = crate::harness::TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "logs"})).await;
    let cp = cp["id"].as_str().unwrap();
    let mut schemas = std::collections::HashMap::new();
    for plugin in [
        "datadog",
        "file-log",
        "http-log",
        "loggly",
        "prometheus",
        "statsd",
        "syslog",
        "tcp-log",
        "udp-log",
    ] {
        let (status, schema) = crate::harness::status_and_json(
            app.get(&format!(
                "/v2/control-planes/{cp}/core-entities/schemas/plugins/{plugin}"
            ))
            .await,
        )
        .await;
        assert_eq!(status, 200, "{plugin}: {schema}");
        schemas.insert(plugin, rendered_field(&schema, "config").clone());
    }

    // Kong 3.10's typedefs carry descriptions, which the rendering keeps
    // (kong/db/schema/typedefs.lua; kong/tools/queue_schema.lua).
    assert_eq!(
        rendered_field(&schemas["loggly"], "host")["description"],
        "A string representing a host name, such as example.com."
    );
    let max_bytes = rendered_field(rendered_field(&schemas["http-log"], "queue"), "max_bytes");
    assert_eq!(
        max_bytes,
        &json!({"type": "integer", "description": "Maximum number of bytes that can be waiting on a queue, requires string content."}),
        "no default, as Kong's `default = nil`"
    );

    // kong/plugins/http-log/schema.lua: a required, encrypted, referenceable URL, and the
    // deprecation record of a queue-era field (Kong's `schema_to_jsonable` keeps both).
    let http_log = &schemas["http-log"];
    let endpoint = rendered_field(http_log, "http_endpoint");
    assert_eq!(endpoint["type"], "string");
    assert_eq!(endpoint["required"], true);
    assert_eq!(endpoint["encrypted"], true);
    assert_eq!(endpoint["referenceable"], true);
    assert_eq!(
        rendered_field(http_log, "retry_count")["deprecation"],
        json!({
            "message": "http-log: config.retry_count no longer works, please use config.queue.max_retry_time instead",
            "removal_in_version": "4.0",
            "old_default": 10
        })
    );
    assert_eq!(
        rendered_field(rendered_field(http_log, "queue"), "concurrency_limit")["one_of"],
        json!([-1, 1])
    );
    // kong/plugins/datadog/schema.lua: the metric records' conditional.
    let metrics = rendered_field(&schemas["datadog"], "metrics");
    assert_eq!(metrics["required"], true);
    assert_eq!(
        metrics["elements"]["entity_checks"],
        json!([{"conditional": {
            "if_field": "stat_type", "if_match": {"one_of": ["counter", "gauge"]},
            "then_field": "sample_rate", "then_match": {"required": true}
        }}])
    );
    // kong/plugins/prometheus/schema.lua: 3.10's wasm_metrics.
    assert_eq!(
        rendered_field(&schemas["prometheus"], "wasm_metrics")["default"],
        false
    );
    // kong/plugins/syslog/schema.lua: the facility's description.
    assert_eq!(
        rendered_field(&schemas["syslog"], "facility")["description"],
        "The facility is used by the operating system to decide how to handle each log message."
    );
    app.shutdown().await;
}
