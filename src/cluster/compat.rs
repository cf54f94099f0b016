//! Which data planes may get which config (Kong `kong/clustering/compat/init.lua`):
//! Kong's version rule, the plugin-set check, and what an older data plane gets instead
//! of the config: Kong 3.10's removed fields as a table of data
//! ([`removed_fields`]) and its checkers, the translations to older shapes
//! ([`checkers`]).

use serde_json::{Value, json};

/// A Kong version as Kong compares them: up to four dotted numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KongVersion(pub [u32; 4]);

impl KongVersion {
    /// `3.10.0.2`, `3.10.0`, `3.10.0-enterprise-edition`: suffixes are ignored.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = [0u32; 4];
        let mut count = 0;
        for (i, part) in text.split('.').take(4).enumerate() {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            parts[i] = digits.parse().ok()?;
            count += 1;
            if digits.len() != part.len() {
                break;
            }
        }
        (count >= 2).then_some(KongVersion(parts))
    }

    pub fn major(self) -> u32 {
        self.0[0]
    }

    pub fn minor(self) -> u32 {
        self.0[1]
    }
}

/// Which data plane versions may connect. The major must equal the control plane's, as
/// in Kong (`kong/clustering/compat/init.lua` `check_kong_version_compatibility`). Kong's
/// own control plane also refuses a newer minor (`minor_cp < minor_dp`); Konnect, which
/// konnektd stands in for, accepts every supported Kong release of its major
/// (developer.konghq.com `konnect-platform/compatibility`, "Kong Gateway version
/// compatibility": 3.4 to 3.14 against one control plane), so a newer minor is accepted
/// and gets the control plane's config as it is: a newer data plane reads an older
/// config, as Kong's data planes read one exported before their upgrade. Older minors
/// get the removal table below. `Err` is the reason, shown on the node.
pub fn check_version(control_plane: KongVersion, data_plane: &str) -> Result<KongVersion, String> {
    let Some(dp) = KongVersion::parse(data_plane) else {
        return Err(format!(
            "data plane version '{data_plane}' is not a Kong version"
        ));
    };
    if dp.major() != control_plane.major() {
        return Err(format!(
            "data plane major version {} differs from control plane major version {}",
            dp.major(),
            control_plane.major()
        ));
    }
    Ok(dp)
}

/// Konnect's `compatibility_status` of a node.
pub fn compatibility(issues: Vec<Value>) -> Value {
    let state = if issues.is_empty() {
        "COMPATIBILITY_STATE_FULLY_COMPATIBLE"
    } else {
        "COMPATIBILITY_STATE_INCOMPATIBLE"
    };
    json!({"state": state, "issues": issues})
}

pub fn issue(code: &str, description: String, resolution: &str) -> Value {
    json!({
        "code": code,
        "severity": "error",
        "description": description,
        "resolution": resolution,
    })
}

/// Plugins the config uses that the data plane did not list in `basic_info`
/// (Kong's `plugin_set_incompatible`).
pub fn missing_plugins<'a>(configured: &'a [String], available: &[String]) -> Vec<&'a String> {
    configured
        .iter()
        .filter(|p| !available.contains(p))
        .collect()
}

pub mod checkers;
pub mod removed_fields;

pub use checkers::{CHECKERS, Checker};
pub use removed_fields::{REMOVED_FIELDS, RemovedFields};

/// The versions at which something changes, oldest first: the `below` of every removal
/// and checker, each once.
fn thresholds() -> &'static [KongVersion] {
    static THRESHOLDS: std::sync::OnceLock<Vec<KongVersion>> = std::sync::OnceLock::new();
    THRESHOLDS.get_or_init(|| {
        let mut all: Vec<KongVersion> = REMOVED_FIELDS
            .iter()
            .map(|r| r.below)
            .chain(CHECKERS.iter().map(|c| c.below))
            .collect();
        all.sort();
        all.dedup();
        all
    })
}

/// Which of the thresholds a data plane of `version` is below, one bit each: data planes
/// with the same set get the same downgraded config (0: the config as it is).
pub fn compat_key(version: KongVersion) -> u64 {
    thresholds()
        .iter()
        .enumerate()
        .filter(|(_, below)| version < **below)
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// The config for a data plane of `version` (Kong's `update_compatible_payload`): the
/// checkers' adjustments, then the fields it does not know removed; `None` when nothing
/// changes (send the shared payload). The hash stays the control plane's, as Kong does.
pub fn downgrade(config_table: &Value, version: KongVersion) -> Option<Value> {
    if compat_key(version) == 0 {
        return None;
    }
    let mut table = config_table.clone();
    let Value::Object(groups) = &mut table else {
        return None;
    };
    let mut changed = false;
    for checker in CHECKERS.iter().filter(|c| version < c.below) {
        changed |= (checker.apply)(groups);
    }
    let removals: Vec<(&str, &str)> = removed_fields::all()
        .filter(|(below, _, _)| version < *below)
        .map(|(_, plugin, path)| (plugin, path))
        .collect();
    if let Some(Value::Array(plugins)) = groups.get_mut("plugins") {
        for plugin in plugins {
            let Some(name) = plugin
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(config) = plugin.get_mut("config") else {
                continue;
            };
            for (_, path) in removals.iter().filter(|(p, _)| *p == name) {
                changed |= remove_path(config, path);
            }
        }
    }
    changed.then_some(table)
}

fn remove_path(value: &mut Value, path: &str) -> bool {
    match path.split_once('.') {
        None => value
            .as_object_mut()
            .is_some_and(|m| m.remove(path).is_some()),
        Some((head, rest)) => value.get_mut(head).is_some_and(|v| remove_path(v, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn konnects_version_rule_same_major_any_minor() {
        let cp = version("3.10.0");
        assert!(check_version(cp, "3.10.0.2").is_ok());
        assert!(check_version(cp, "3.4.1").is_ok());
        assert!(check_version(cp, "3.10.0-enterprise-edition").is_ok());
        // Konnect accepts newer minors of the same major; Kong's own control plane does not.
        assert!(check_version(cp, "3.11.0.0").is_ok());
        assert!(check_version(cp, "3.14.1").is_ok());
        assert!(check_version(cp, "2.8.0.0").unwrap_err().contains("major"));
        assert!(check_version(cp, "4.0.0").unwrap_err().contains("major"));
        assert!(check_version(cp, "banana").is_err());
    }

    fn version(text: &str) -> KongVersion {
        KongVersion::parse(text).unwrap()
    }

    #[test]
    fn older_data_planes_lose_the_fields_they_do_not_know() {
        let table = json!({"plugins": [
            {"name": "cors", "instance_name": null, "updated_at": 1, "config": {"allow_origin_absent": true, "x": 1}},
            {"name": "ping-auth", "updated_at": 1, "config": {"x": 1}},
        ]});
        assert_eq!(downgrade(&table, version("3.10.0")), None);
        assert_eq!(downgrade(&table, version("3.11.2")), None);
        let for_3_4 = downgrade(&table, version("3.4.0")).unwrap();
        assert_eq!(for_3_4["plugins"][0]["config"], json!({"x": 1}));
        assert_eq!(for_3_4["plugins"][0]["updated_at"], 1);
        let for_3_1 = downgrade(&table, version("3.1.0")).unwrap();
        assert!(for_3_1["plugins"][1].get("updated_at").is_none());
        assert!(for_3_1["plugins"][0].get("instance_name").is_none());
    }

    #[test]
    fn the_table_is_kongs_3_10_for_every_3_x_data_plane() {
        let mut previous = KongVersion([3, 0, 0, 0]);
        let mut seen = std::collections::HashSet::new();
        for entry in REMOVED_FIELDS {
            assert!(entry.below > previous, "ascending versions");
            previous = entry.below;
            // Nothing for 3.11+: konnektd's schemas are 3.10's.
            assert!(entry.below <= version("3.10.0"), "{:?}", entry.below);
            assert_eq!(entry.below.major(), 3);
        }
        for (below, plugin, path) in removed_fields::all() {
            assert!(
                crate::domain::bundled_plugins::is_bundled(plugin),
                "{plugin} is not a Kong 3.10 bundled plugin"
            );
            assert!(path.split('.').all(|part| !part.is_empty()), "{path}");
            assert!(seen.insert((below, plugin, path)), "{plugin} {path} twice");
        }
        // Kong 3.10.0's name of the cors option (the stored Kong file has its draft name).
        assert!(seen.contains(&(version("3.10.0"), "cors", "allow_origin_absent")));
        assert!(removed_fields::all().all(|(_, _, p)| p != "skip_cors_when_origin_is_empty"));
        assert_eq!(
            seen.len(),
            100,
            "the entries of Kong's file for 3.1 to 3.10"
        );
    }

    #[test]
    fn data_planes_below_the_same_thresholds_share_one_key() {
        assert_eq!(compat_key(version("3.10.0")), 0);
        assert_eq!(compat_key(version("3.10.1.2")), 0);
        assert_eq!(compat_key(version("3.12.0")), 0);
        assert_eq!(compat_key(version("3.9.0")), compat_key(version("3.9.4.1")));
        assert_ne!(compat_key(version("3.9.0")), compat_key(version("3.8.1")));
        assert_ne!(compat_key(version("3.6.0")), compat_key(version("3.5.9")));
        assert_ne!(compat_key(version("3.4.0")), 0);
    }

    fn rate_limiting(name: &str) -> Value {
        json!({
            "name": name,
            "config": {
                "minute": 5,
                "policy": "redis",
                "sync_rate": -1,
                "error_code": 429,
                "redis": {
                    "host": "redis.test", "port": 6380, "username": "u", "password": "p",
                    "database": 2, "timeout": 1500, "ssl": true, "ssl_verify": true,
                    "server_name": "redis.sni",
                },
            },
        })
    }

    fn flat_redis() -> Value {
        json!({
            "redis_host": "redis.test", "redis_port": 6380, "redis_username": "u",
            "redis_password": "p", "redis_database": 2, "redis_timeout": 1500,
            "redis_ssl": true, "redis_ssl_verify": true, "redis_server_name": "redis.sni",
        })
    }

    #[test]
    fn rate_limiting_redis_goes_back_to_the_flat_fields_before_3_6() {
        let table = json!({"plugins": [rate_limiting("rate-limiting"), rate_limiting("response-ratelimiting")]});
        // 3.6 knows the shared redis record: only the 3.10 removals, none of which apply.
        assert_eq!(downgrade(&table, version("3.6.0")), None);
        assert_eq!(downgrade(&table, version("3.9.2")), None);

        let for_3_5 = downgrade(&table, version("3.5.0")).unwrap();
        for plugin in for_3_5["plugins"].as_array().unwrap() {
            let config = plugin["config"].as_object().unwrap();
            assert!(config.get("redis").is_none(), "{plugin}");
            for (key, value) in flat_redis().as_object().unwrap() {
                assert_eq!(&config[key], value, "{} {key}", plugin["name"]);
            }
            assert_eq!(config["policy"], "redis");
        }
        // 3.4 knows sync_rate; 3.3 does not.
        assert_eq!(for_3_5["plugins"][0]["config"]["sync_rate"], -1);
        let for_3_3 = downgrade(&table, version("3.3.1")).unwrap();
        assert!(for_3_3["plugins"][0]["config"].get("sync_rate").is_none());
        // Before 3.1: rate-limiting loses error_code, response-ratelimiting the ssl fields.
        let for_3_0 = downgrade(&table, version("3.0.1")).unwrap();
        assert!(for_3_0["plugins"][0]["config"].get("error_code").is_none());
        assert_eq!(for_3_0["plugins"][0]["config"]["redis_ssl"], true);
        let response = for_3_0["plugins"][1]["config"].as_object().unwrap();
        assert!(response.get("redis_ssl").is_none());
        assert!(response.get("redis_server_name").is_none());
        assert_eq!(response["redis_host"], "redis.test");
    }

    #[test]
    fn the_redis_record_goes_even_when_another_policy_is_chosen() {
        // Kong translates only for policy redis and leaves the record an older data
        // plane refuses; konnektd always translates.
        let mut plugin = rate_limiting("rate-limiting");
        plugin["config"]["policy"] = json!("local");
        let for_3_5 = downgrade(&json!({"plugins": [plugin]}), version("3.5.0")).unwrap();
        let config = &for_3_5["plugins"][0]["config"];
        assert!(config.get("redis").is_none());
        assert_eq!(config["redis_host"], "redis.test");
    }

    #[test]
    fn acme_redis_gets_its_old_shape_then_loses_what_each_version_lacks() {
        let table = json!({"plugins": [{"name": "acme", "config": {
            "storage": "redis",
            "account_key": null,
            "storage_config": {"redis": {
                "host": "r", "port": 6379, "timeout": 2000, "username": null, "password": "pw",
                "database": 1, "ssl": false, "ssl_verify": false, "server_name": "sni",
                "extra_options": {"namespace": "ns", "scan_count": 10},
            }},
        }}]});
        assert_eq!(downgrade(&table, version("3.6.0")), None);
        let redis = |t: &Value| t["plugins"][0]["config"]["storage_config"]["redis"].clone();
        assert_eq!(
            redis(&downgrade(&table, version("3.5.0")).unwrap()),
            json!({"host": "r", "port": 6379, "auth": "pw", "database": 1, "ssl": false,
                   "ssl_verify": false, "ssl_server_name": "sni", "namespace": "ns",
                   "scan_count": 10})
        );
        let for_3_4 = redis(&downgrade(&table, version("3.4.3")).unwrap());
        assert!(for_3_4.get("scan_count").is_none());
        assert_eq!(for_3_4["namespace"], "ns");
        let for_3_2 = redis(&downgrade(&table, version("3.2.0")).unwrap());
        assert!(for_3_2.get("namespace").is_none());
        let for_3_0 = downgrade(&table, version("3.0.0")).unwrap();
        assert_eq!(
            redis(&for_3_0),
            json!({"host": "r", "port": 6379, "auth": "pw", "database": 1})
        );
        assert!(for_3_0["plugins"][0]["config"].get("account_key").is_none());
    }

    #[test]
    fn ai_values_older_data_planes_do_not_know_are_replaced() {
        let table = json!({"plugins": [
            {"name": "ai-proxy", "config": {"route_type": "llm/v1/chat", "response_streaming": "allow",
             "model": {"provider": "gemini", "options": {"gemini": {}, "upstream_url": null}}}},
            {"name": "ai-proxy", "config": {"route_type": "preserve", "model": {"provider": "mistral", "options": null}}},
            {"name": "ai-request-transformer", "config": {"llm": {"route_type": "llm/v1/chat", "model": {"provider": "bedrock"}}}},
            {"name": "ai-response-transformer", "config": {"llm": {"model": {"provider": "huggingface"}}}},
            {"name": "aws-lambda", "config": {"aws_sts_endpoint_url": null, "function_name": "f"}},
        ]});
        let for_3_8 = downgrade(&table, version("3.8.0")).unwrap();
        assert_eq!(
            for_3_8["plugins"][3]["config"]["llm"]["model"]["provider"],
            "openai"
        );
        assert_eq!(
            for_3_8["plugins"][0]["config"]["model"]["provider"],
            "gemini"
        );

        let for_3_7 = downgrade(&table, version("3.7.1")).unwrap();
        let plugins = &for_3_7["plugins"];
        assert_eq!(plugins[0]["config"]["model"]["provider"], "openai");
        assert_eq!(plugins[0]["config"]["route_type"], "preserve");
        assert!(
            plugins[0]["config"]["model"]["options"]
                .get("gemini")
                .is_none()
        );
        assert_eq!(
            plugins[1]["config"]["model"]["options"],
            json!({"upstream_url": "https://api.mistral.ai:443"})
        );
        assert_eq!(plugins[2]["config"]["llm"]["model"]["provider"], "openai");
        assert_eq!(plugins[4]["config"], json!({"function_name": "f"}));

        // Before 3.7 preserve mode is unknown too: Kong's 3.7 checker turns it into chat.
        let for_3_6 = downgrade(&table, version("3.6.1")).unwrap();
        assert_eq!(for_3_6["plugins"][0]["config"]["route_type"], "llm/v1/chat");
        assert_eq!(for_3_6["plugins"][1]["config"]["route_type"], "llm/v1/chat");
        assert!(
            for_3_6["plugins"][0]["config"]
                .get("response_streaming")
                .is_none()
        );
    }

    #[test]
    fn tracing_header_types_fall_back_to_what_each_version_knows() {
        let table = json!({"plugins": [
            {"name": "zipkin", "config": {"header_type": "gcp", "default_header_type": "aws", "propagation": {}}},
            {"name": "opentelemetry", "config": {"header_type": "aws", "sampling_rate": null}},
        ]});
        let for_3_4 = downgrade(&table, version("3.4.2")).unwrap();
        assert_eq!(for_3_4["plugins"][0]["config"]["header_type"], "preserve");
        assert_eq!(
            for_3_4["plugins"][0]["config"]["default_header_type"],
            "aws"
        );
        assert_eq!(
            for_3_4["plugins"][1]["config"],
            json!({"header_type": "aws"})
        );
        let for_3_3 = downgrade(&table, version("3.3.0")).unwrap();
        assert_eq!(for_3_3["plugins"][0]["config"]["default_header_type"], "b3");
    }

    #[test]
    fn data_planes_before_3_3_get_the_legacy_queue_parameters_from_the_queue() {
        let table = json!({"plugins": [
            {"name": "statsd", "config": {"retry_count": null, "queue_size": null, "flush_timeout": null,
             "queue": {"max_batch_size": 50, "max_coalescing_delay": 4, "concurrency_limit": 1}}},
            {"name": "opentelemetry", "config": {"queue": {"max_batch_size": 7}}},
        ]});
        let for_3_2 = downgrade(&table, version("3.2.2")).unwrap();
        assert_eq!(
            for_3_2["plugins"][0]["config"],
            json!({"retry_count": 10, "queue_size": 50, "flush_timeout": 4})
        );
        assert_eq!(
            for_3_2["plugins"][1]["config"],
            json!({"batch_span_count": 7, "batch_flush_delay": 3})
        );
    }

    #[test]
    fn sessions_before_3_2_get_their_old_field_names() {
        let table = json!({"plugins": [{"name": "session", "config": {
            "idling_timeout": 900, "rolling_timeout": 3600, "cookie_same_site": "Default",
            "remember": false, "audience": "default", "hash_subject": false,
        }}]});
        let for_3_1 = downgrade(&table, version("3.1.1")).unwrap();
        assert_eq!(
            for_3_1["plugins"][0]["config"],
            json!({"cookie_idletime": 900, "cookie_lifetime": 3600, "cookie_samesite": "Lax",
                   "cookie_persistent": false})
        );
        let for_3_0 = downgrade(&table, version("3.0.0")).unwrap();
        assert!(
            for_3_0["plugins"][0]["config"]
                .get("cookie_persistent")
                .is_none()
        );
    }

    #[test]
    fn tls_services_before_3_2_lose_their_tls_settings() {
        let table = json!({"services": [
            {"id": "a", "protocol": "tls", "tls_verify": null, "ca_certificates": null, "client_certificate": null},
            {"id": "b", "protocol": "https", "tls_verify": true},
        ]});
        assert_eq!(downgrade(&table, version("3.2.0")), None);
        let for_3_1 = downgrade(&table, version("3.1.0")).unwrap();
        assert_eq!(
            for_3_1["services"][0],
            json!({"id": "a", "protocol": "tls"})
        );
        assert_eq!(for_3_1["services"][1], table["services"][1]);
    }

    /// The field `name` of a rendered `fields` array, or the shorthand of that name.
    fn field<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
        ["fields", "shorthand_fields"].iter().find_map(|list| {
            node.get(list)?
                .as_array()?
                .iter()
                .find_map(|entry| entry.get(name))
        })
    }

    #[test]
    fn every_removed_field_exists_in_the_schema_it_names() {
        use crate::lua::plugins::bundled_plugin_json;
        // The walk finds fields and shorthands, and nothing else.
        let key_auth = bundled_plugin_json("key-auth", Default::default())
            .unwrap()
            .unwrap();
        let config = field(&key_auth, "config").unwrap();
        assert!(field(config, "realm").is_some());
        assert!(field(config, "no_such_field").is_none());
        let mut missing = Vec::new();
        for (below, plugin, path) in removed_fields::all() {
            let json = bundled_plugin_json(plugin, crate::lua::sandbox::Limits::default())
                .unwrap_or_else(|| panic!("{plugin} has no bundled schema"))
                .unwrap_or_else(|e| panic!("{plugin}: {e}"));
            let mut node = field(&json, "config").expect("config");
            for part in path.split('.') {
                match field(node, part) {
                    Some(next) => node = next,
                    None => {
                        missing.push(format!("{plugin} config.{path} (below {below:?})"));
                        break;
                    }
                }
            }
        }
        assert!(missing.is_empty(), "not in the schemas: {missing:#?}");
    }

    #[test]
    fn missing_plugins_are_named() {
        let configured = vec!["ping-auth".to_string(), "cors".to_string()];
        assert_eq!(
            missing_plugins(&configured, &["cors".into()]),
            vec!["ping-auth"]
        );
    }
}
