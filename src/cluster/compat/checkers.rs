//! Kong 3.10's compatibility checkers: the adjustments beyond removing fields that Kong's
//! control plane makes for an older data plane (values it does not know replaced, fields
//! renamed or rebuilt in their older shape).
//!
//! Sources, Kong/kong:
//! - `kong/clustering/compat/checkers.lua` (the 3.8 list, id 3964817219 in the search
//!   index: 3.8 ai providers and aws-lambda, 3.7 ai-proxy preserve, 3.6 redis, 3.5/3.4
//!   tracing headers, 3.3 queue parameters and `updated_at`, 3.2 tls services and
//!   `instance_name`), and at commit 05ec679f for the 3.1-3.3 core checkers;
//! - `kong/clustering/compat/init.lua` (commit 05ec679f): session's field renames for data
//!   planes older than 3.2, done with the removals;
//! - the redis translations the 3.6 checker calls:
//!   `kong/plugins/rate-limiting/clustering/compat/redis_translation.lua` (commit 539ceffb),
//!   `kong/plugins/response-ratelimiting/clustering/compat/redis_translation.lua`
//!   (commit 387fba7b), `kong/plugins/acme/clustering/compat/redis_translation.lua`
//!   (commit 3604a56f).
//!
//! Where konnektd differs from Kong, on purpose (each noted at its checker):
//! - The redis translations run whatever the policy/storage: Kong translates only when
//!   `policy` (`storage` for acme) is `redis` and otherwise leaves the 3.6 `redis` record,
//!   which a data plane older than 3.6 refuses as an unknown field.
//! - Checkers run before the removals (Kong: after). Kong's order removes `queue` before
//!   the 3.3 checker reads it (so `queue_size` falls back to 1) and lets the acme
//!   translation put back `scan_count`/`namespace` after their removal for 3.4/3.2 data
//!   planes; run first, the values survive and the removals still apply.
//! - Left out: checkers on entities konnektd does not export (env vaults' prefix) and
//!   those only logging (acme redis `username` before 3.8).

use serde_json::{Map, Value, json};

use super::KongVersion;

/// One adjustment of the config table for data planes older than `below`; `apply` says
/// whether it changed anything.
pub struct Checker {
    pub below: KongVersion,
    pub what: &'static str,
    pub apply: fn(&mut Map<String, Value>) -> bool,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("below", &self.below)
            .field("what", &self.what)
            .finish()
    }
}

const fn v(major: u32, minor: u32) -> KongVersion {
    KongVersion([major, minor, 0, 0])
}

/// In Kong's order (newest first).
pub const CHECKERS: &[Checker] = &[
    Checker {
        below: v(3, 9),
        what: "ai plugins: the huggingface provider (3.9) becomes openai, as Kong does for gemini and bedrock before 3.8 (konnektd's addition: Kong's stored checkers have no 3.9 entry)",
        apply: |table| ai_providers(table, &["huggingface"]),
    },
    Checker {
        below: v(3, 8),
        what: "aws-lambda without aws_sts_endpoint_url; ai providers gemini and bedrock become openai (ai-proxy in preserve mode); mistral gets its managed upstream_url",
        apply: checker_3_8,
    },
    Checker {
        below: v(3, 7),
        what: "ai-proxy route_type preserve becomes llm/v1/chat",
        apply: |table| {
            let mut changed = false;
            for config in plugin_configs(table, &["ai-proxy"]) {
                if config.get("route_type") == Some(&json!("preserve")) {
                    config.insert("route_type".into(), json!("llm/v1/chat"));
                    changed = true;
                }
            }
            changed
        },
    },
    Checker {
        below: v(3, 6),
        what: "rate-limiting, response-ratelimiting and acme: the shared redis record back to the older fields",
        apply: redis_translations,
    },
    Checker {
        below: v(3, 5),
        what: "opentelemetry and zipkin header_type gcp becomes preserve; zipkin default_header_type gcp becomes b3",
        apply: |table| tracing_header_type(table, "gcp"),
    },
    Checker {
        below: v(3, 4),
        what: "opentelemetry and zipkin header_type aws becomes preserve; zipkin default_header_type aws becomes b3",
        apply: |table| tracing_header_type(table, "aws"),
    },
    Checker {
        below: v(3, 3),
        what: "statsd, datadog and opentelemetry get the legacy queue parameters",
        apply: legacy_queue_parameters,
    },
    Checker {
        below: v(3, 3),
        what: "updated_at removed from ca_certificates, certificates, consumers, targets, upstreams, plugins and snis",
        apply: |table| {
            // Kong's list (konnektd has no workspaces).
            let mut changed = false;
            for group in [
                "ca_certificates",
                "certificates",
                "consumers",
                "targets",
                "upstreams",
                "plugins",
                "snis",
            ] {
                for entity in entities(table, group) {
                    changed |= entity.remove("updated_at").is_some();
                }
            }
            changed
        },
    },
    Checker {
        below: v(3, 2),
        what: "tls services lose client_certificate, tls_verify, tls_verify_depth and ca_certificates",
        apply: |table| {
            let mut changed = false;
            for service in entities(table, "services") {
                if service.get("protocol") == Some(&json!("tls")) {
                    for key in [
                        "client_certificate",
                        "tls_verify",
                        "tls_verify_depth",
                        "ca_certificates",
                    ] {
                        changed |= service.remove(key).is_some();
                    }
                }
            }
            changed
        },
    },
    Checker {
        below: v(3, 2),
        what: "upstreams' algorithm latency becomes round-robin",
        apply: |table| {
            let mut changed = false;
            for upstream in entities(table, "upstreams") {
                if upstream.get("algorithm") == Some(&json!("latency")) {
                    upstream.insert("algorithm".into(), json!("round-robin"));
                    changed = true;
                }
            }
            changed
        },
    },
    Checker {
        below: v(3, 2),
        what: "plugins lose instance_name",
        apply: |table| {
            let mut changed = false;
            for plugin in entities(table, "plugins") {
                changed |= plugin.remove("instance_name").is_some();
            }
            changed
        },
    },
    Checker {
        below: v(3, 2),
        what: "session's renamed fields back to their old names (Kong's compat/init.lua)",
        apply: session_renames,
    },
    Checker {
        below: v(3, 1),
        what: "upstreams lose use_srv_name",
        apply: |table| {
            let mut changed = false;
            for upstream in entities(table, "upstreams") {
                changed |= upstream.remove("use_srv_name").is_some();
            }
            changed
        },
    },
];

/// The objects of one entity group of the table.
fn entities<'a>(
    table: &'a mut Map<String, Value>,
    group: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    table
        .get_mut(group)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The `config` objects of the plugins named.
fn plugin_configs<'a>(
    table: &'a mut Map<String, Value>,
    names: &'a [&'a str],
) -> impl Iterator<Item = &'a mut Map<String, Value>> + 'a {
    entities(table, "plugins")
        .filter(move |p| {
            p.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| names.contains(&n))
        })
        .filter_map(|p| p.get_mut("config").and_then(Value::as_object_mut))
}

/// The object at `path` inside `value`, if every step is an object.
fn object_at<'a>(
    value: &'a mut Map<String, Value>,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        current = current.get_mut(*key)?.as_object_mut()?;
    }
    Some(current)
}

fn is_unset(value: Option<&Value>) -> bool {
    value.is_none_or(Value::is_null)
}

fn ai_providers(table: &mut Map<String, Value>, added: &[&str]) -> bool {
    let mut changed = false;
    for config in plugin_configs(table, &["ai-proxy"]) {
        let Some(model) = object_at(config, &["model"]) else {
            continue;
        };
        if model
            .get("provider")
            .and_then(Value::as_str)
            .is_some_and(|p| added.contains(&p))
        {
            model.insert("provider".into(), json!("openai"));
            config.insert("route_type".into(), json!("preserve"));
            changed = true;
        }
    }
    for config in plugin_configs(
        table,
        &["ai-request-transformer", "ai-response-transformer"],
    ) {
        let Some(model) = object_at(config, &["llm", "model"]) else {
            continue;
        };
        if model
            .get("provider")
            .and_then(Value::as_str)
            .is_some_and(|p| added.contains(&p))
        {
            model.insert("provider".into(), json!("openai"));
            changed = true;
        }
    }
    changed
}

fn checker_3_8(table: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    for config in plugin_configs(table, &["aws-lambda"]) {
        changed |= config.remove("aws_sts_endpoint_url").is_some();
    }
    changed |= ai_providers(table, &["gemini", "bedrock"]);
    for config in plugin_configs(table, &["ai-proxy"]) {
        let Some(model) = object_at(config, &["model"]) else {
            continue;
        };
        if model.get("provider") != Some(&json!("mistral")) {
            continue;
        }
        let options = model
            .entry("options")
            .and_modify(|o| {
                if !o.is_object() {
                    *o = json!({});
                }
            })
            .or_insert_with(|| json!({}));
        let options = options.as_object_mut().expect("made an object");
        if is_unset(options.get("upstream_url")) {
            options.insert("upstream_url".into(), json!("https://api.mistral.ai:443"));
            changed = true;
        }
    }
    changed
}

/// Kong's `redis_translation.lua` adapters. Kong runs them only when `policy` (acme:
/// `storage`) is `redis`; konnektd runs them always, so that an older data plane never
/// gets the `redis` record it would refuse, and keeps the values set there.
fn redis_translations(table: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    for config in plugin_configs(table, &["rate-limiting", "response-ratelimiting"]) {
        let Some(redis) = config.remove("redis") else {
            continue;
        };
        changed = true;
        let redis = redis.as_object().cloned().unwrap_or_default();
        // The flat fields of Kong 3.5's rate-limiting and response-ratelimiting. (The
        // stored response-ratelimiting adapter sets `redis_timeout` to 1100 whatever the
        // record says; konnektd keeps the configured timeout, as rate-limiting's does.)
        for name in [
            "host",
            "port",
            "username",
            "password",
            "database",
            "timeout",
            "ssl",
            "ssl_verify",
            "server_name",
        ] {
            let value = redis.get(name).cloned().unwrap_or(Value::Null);
            config.insert(format!("redis_{name}"), value);
        }
    }
    for config in plugin_configs(table, &["acme"]) {
        let Some(redis) = object_at(config, &["storage_config", "redis"]) else {
            continue;
        };
        let get = |key: &str| redis.get(key).cloned().unwrap_or(Value::Null);
        let extra = |key: &str| {
            redis
                .get("extra_options")
                .and_then(|e| e.get(key))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let old = json!({
            "host": get("host"),
            "port": get("port"),
            "auth": get("password"),
            "database": get("database"),
            "ssl": get("ssl"),
            "ssl_verify": get("ssl_verify"),
            "ssl_server_name": get("server_name"),
            "namespace": extra("namespace"),
            "scan_count": extra("scan_count"),
        });
        let Value::Object(old) = old else {
            unreachable!()
        };
        *redis = old;
        changed = true;
    }
    changed
}

fn tracing_header_type(table: &mut Map<String, Value>, added: &str) -> bool {
    let mut changed = false;
    for config in plugin_configs(table, &["opentelemetry", "zipkin"]) {
        if config.get("header_type") == Some(&json!(added)) {
            config.insert("header_type".into(), json!("preserve"));
            changed = true;
        }
    }
    for config in plugin_configs(table, &["zipkin"]) {
        if config.get("default_header_type") == Some(&json!(added)) {
            config.insert("default_header_type".into(), json!("b3"));
            changed = true;
        }
    }
    changed
}

/// Kong 3.3 replaced the plugins' own batching parameters with `queue`; an older data
/// plane gets them back from the queue (or their old defaults). `retry_count` has no
/// counterpart: 10 keeps the old behaviour.
fn legacy_queue_parameters(table: &mut Map<String, Value>) -> bool {
    fn fill(config: &mut Map<String, Value>, key: &str, queue_key: &str, fallback: i64) -> bool {
        if config.get(key).is_some_and(Value::is_number) {
            return false;
        }
        let value = config
            .get("queue")
            .and_then(|q| q.get(queue_key))
            .filter(|v| v.is_number())
            .cloned()
            .unwrap_or(json!(fallback));
        config.insert(key.into(), value);
        true
    }
    let mut changed = false;
    for config in plugin_configs(table, &["statsd", "datadog"]) {
        if !config.get("retry_count").is_some_and(Value::is_number) {
            config.insert("retry_count".into(), json!(10));
            changed = true;
        }
        changed |= fill(config, "queue_size", "max_batch_size", 1);
        changed |= fill(config, "flush_timeout", "max_coalescing_delay", 2);
    }
    for config in plugin_configs(table, &["opentelemetry"]) {
        changed |= fill(config, "batch_span_count", "max_batch_size", 200);
        changed |= fill(config, "batch_flush_delay", "max_coalescing_delay", 3);
    }
    changed
}

fn session_renames(table: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    for config in plugin_configs(table, &["session"]) {
        for (from, to) in [
            ("idling_timeout", "cookie_idletime"),
            ("rolling_timeout", "cookie_lifetime"),
            ("stale_ttl", "cookie_discard"),
            ("cookie_same_site", "cookie_samesite"),
            ("cookie_http_only", "cookie_httponly"),
            ("remember", "cookie_persistent"),
        ] {
            if let Some(value) = config.remove(from) {
                config.insert(to.into(), value);
                changed = true;
            }
        }
        if config.get("cookie_samesite") == Some(&json!("Default")) {
            config.insert("cookie_samesite".into(), json!("Lax"));
            changed = true;
        }
    }
    changed
}
