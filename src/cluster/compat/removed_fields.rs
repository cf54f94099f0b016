//! Kong 3.10's table of plugin fields a data plane older than a version does not know.
//!
//! Source: Kong/kong `kong/clustering/compat/removed_fields.lua`, read at commit
//! 016c7f79f6dff1012c5b5fb358f126047ff9d628 (the stored version carrying the
//! `3010000000` entries and none for 3.11+), written here as data with the plugins' real
//! names (Kong keys them with `-` turned into `_`). Paths are dotted, inside `config`.
//! Entries for Kong 2.x are left out: konnektd closes every data plane of another major
//! (`check_version`).
//!
//! One correction: that commit names the cors field of 3.10 `skip_cors_when_origin_is_empty`,
//! the name it had when Kong/kong#14155 ("add an option to skip return ACAO when no origin
//! in request", merged 2025-01) was written. Kong 3.10.0 ships it as `allow_origin_absent`
//! (default true): Kong's 3.10 cors rendering (developer.konghq.com
//! `app/_schemas/gateway/plugins/3.11/Cors.json`, commit 3b0a2f2b, the nearest stored; the
//! 3.10.0 and 3.11.0 changelogs of the plugin record the option's addition and no rename),
//! Konnect's API and konnektd's cors schema all use that name, so the table does too.

use super::KongVersion;

/// The fields removed for data planes older than `below`, per plugin.
#[derive(Debug)]
pub struct RemovedFields {
    pub below: KongVersion,
    pub plugins: &'static [(&'static str, &'static [&'static str])],
}

const fn v(major: u32, minor: u32) -> KongVersion {
    KongVersion([major, minor, 0, 0])
}

pub const REMOVED_FIELDS: &[RemovedFields] = &[
    // Any data plane older than 3.1.0
    RemovedFields {
        below: v(3, 1),
        plugins: &[
            (
                "acme",
                &[
                    "enable_ipv4_common_name",
                    "storage_config.redis.ssl",
                    "storage_config.redis.ssl_verify",
                    "storage_config.redis.ssl_server_name",
                ],
            ),
            ("rate-limiting", &["error_code", "error_message"]),
            (
                "response-ratelimiting",
                &["redis_ssl", "redis_ssl_verify", "redis_server_name"],
            ),
            ("datadog", &["retry_count", "queue_size", "flush_timeout"]),
            ("statsd", &["retry_count", "queue_size", "flush_timeout"]),
            ("session", &["cookie_persistent"]),
            ("zipkin", &["http_response_header_for_traceid"]),
        ],
    },
    // Any data plane older than 3.2.0
    RemovedFields {
        below: v(3, 2),
        plugins: &[
            ("statsd", &["tag_style"]),
            (
                "session",
                &[
                    "audience",
                    "absolute_timeout",
                    "remember_cookie_name",
                    "remember_rolling_timeout",
                    "remember_absolute_timeout",
                    "response_headers",
                    "request_headers",
                ],
            ),
            ("aws-lambda", &["aws_imds_protocol_version"]),
            ("zipkin", &["phase_duration_flavor"]),
        ],
    },
    // Any data plane older than 3.3.0
    RemovedFields {
        below: v(3, 3),
        plugins: &[
            ("acme", &["account_key", "storage_config.redis.namespace"]),
            ("aws-lambda", &["disable_https"]),
            ("proxy-cache", &["ignore_uri_case"]),
            (
                "opentelemetry",
                &["http_response_header_for_traceid", "queue", "header_type"],
            ),
            ("http-log", &["queue"]),
            ("statsd", &["queue"]),
            ("datadog", &["queue"]),
            ("zipkin", &["queue"]),
        ],
    },
    // Any data plane older than 3.4.0
    RemovedFields {
        below: v(3, 4),
        plugins: &[
            ("rate-limiting", &["sync_rate"]),
            ("proxy-cache", &["response_headers"]),
        ],
    },
    // Any data plane older than 3.5.0
    RemovedFields {
        below: v(3, 5),
        plugins: &[
            ("acme", &["storage_config.redis.scan_count"]),
            ("cors", &["private_network"]),
            ("session", &["read_body_for_logout"]),
        ],
    },
    // Any data plane older than 3.6.0
    RemovedFields {
        below: v(3, 6),
        plugins: &[
            ("opentelemetry", &["sampling_rate"]),
            ("basic-auth", &["realm"]),
        ],
    },
    // Any data plane older than 3.7.0
    RemovedFields {
        below: v(3, 7),
        plugins: &[
            ("opentelemetry", &["propagation"]),
            ("zipkin", &["propagation"]),
            (
                "ai-proxy",
                &["response_streaming", "model.options.upstream_path"],
            ),
            (
                "ai-request-transformer",
                &["llm.model.options.upstream_path"],
            ),
            (
                "ai-response-transformer",
                &["llm.model.options.upstream_path"],
            ),
            ("key-auth", &["realm"]),
        ],
    },
    // Any data plane older than 3.8.0
    RemovedFields {
        below: v(3, 8),
        plugins: &[
            ("response-transformer", &["rename.json"]),
            ("aws-lambda", &["empty_arrays_mode"]),
            ("ldap-auth", &["realm"]),
            ("hmac-auth", &["realm"]),
            ("jwt", &["realm"]),
            ("oauth2", &["realm"]),
            (
                "opentelemetry",
                &[
                    "traces_endpoint",
                    "logs_endpoint",
                    "queue.concurrency_limit",
                ],
            ),
            (
                "ai-proxy",
                &[
                    "max_request_body_size",
                    "model.options.gemini",
                    "auth.gcp_use_service_account",
                    "auth.gcp_service_account_json",
                    "model.options.bedrock",
                    "auth.aws_access_key_id",
                    "auth.aws_secret_access_key",
                    "auth.allow_override",
                    "model_name_header",
                ],
            ),
            ("ai-prompt-decorator", &["max_request_body_size"]),
            (
                "ai-prompt-guard",
                &["match_all_roles", "max_request_body_size"],
            ),
            ("ai-prompt-template", &["max_request_body_size"]),
            ("ai-request-transformer", AI_TRANSFORMER_3_8),
            ("ai-response-transformer", AI_TRANSFORMER_3_8),
            ("prometheus", &["ai_metrics"]),
            ("acl", &["always_use_authenticated_groups"]),
            ("http-log", &["queue.concurrency_limit"]),
            ("statsd", &["queue.concurrency_limit"]),
            ("datadog", &["queue.concurrency_limit"]),
            ("zipkin", &["queue.concurrency_limit"]),
        ],
    },
    // Any data plane older than 3.10.0 (Kong's table has no 3.9 entry for open source).
    RemovedFields {
        below: v(3, 10),
        plugins: &[
            // Kong's stored file: `skip_cors_when_origin_is_empty`; see the module comment.
            ("cors", &["allow_origin_absent"]),
            ("session", &["hash_subject", "store_metadata"]),
            ("prometheus", &["wasm_metrics"]),
        ],
    },
];

const AI_TRANSFORMER_3_8: &[&str] = &[
    "max_request_body_size",
    "llm.model.options.gemini",
    "llm.auth.gcp_use_service_account",
    "llm.auth.gcp_service_account_json",
    "llm.model.options.bedrock",
    "llm.auth.aws_access_key_id",
    "llm.auth.aws_secret_access_key",
    "llm.auth.allow_override",
];

/// Every `(below, plugin, path)` of the table.
pub fn all() -> impl Iterator<Item = (KongVersion, &'static str, &'static str)> {
    REMOVED_FIELDS.iter().flat_map(|entry| {
        entry.plugins.iter().flat_map(move |(plugin, paths)| {
            paths.iter().map(move |path| (entry.below, *plugin, *path))
        })
    })
}
