//! Which data planes may get which config (Kong `kong/clustering/compat/init.lua`):
//! Kong's version rule, the plugin-set check, and the fields removed for older data
//! planes, kept as a table of data (Kong's `compat/removed_fields.lua` and checkers).

use serde_json::{Value, json};

/// A Kong version as Kong compares them: up to four dotted numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// A field a data plane older than `below` does not know, removed from its config.
#[derive(Debug)]
pub struct Removal {
    pub below: KongVersion,
    /// The entity type (`plugins`), or `*` for every type.
    pub entity: &'static str,
    /// For plugins: only those of this name.
    pub plugin: Option<&'static str>,
    /// Dotted path inside the entity (`config.allow_origin_absent`).
    pub path: &'static str,
}

/// Kong 3.10's removals (`kong/clustering/compat/removed_fields.lua`, `checkers.lua`).
pub const REMOVALS: &[Removal] = &[
    Removal {
        below: KongVersion([3, 2, 0, 0]),
        entity: "plugins",
        plugin: None,
        path: "instance_name",
    },
    Removal {
        below: KongVersion([3, 3, 0, 0]),
        entity: "*",
        plugin: None,
        path: "updated_at",
    },
    Removal {
        below: KongVersion([3, 10, 0, 0]),
        entity: "plugins",
        plugin: Some("cors"),
        path: "config.allow_origin_absent",
    },
    Removal {
        below: KongVersion([3, 10, 0, 0]),
        entity: "plugins",
        plugin: Some("session"),
        path: "config.hash_subject",
    },
    Removal {
        below: KongVersion([3, 10, 0, 0]),
        entity: "plugins",
        plugin: Some("session"),
        path: "config.store_metadata",
    },
    Removal {
        below: KongVersion([3, 10, 0, 0]),
        entity: "plugins",
        plugin: Some("prometheus"),
        path: "config.wasm_metrics",
    },
];

/// Which of the removals apply to a data plane of `version`, one bit each: data planes
/// with the same set receive the same downgraded config.
pub fn removals_for(version: KongVersion) -> u64 {
    REMOVALS
        .iter()
        .enumerate()
        .filter(|(_, r)| version < r.below)
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// The config for a data plane of `version`: the table with what it does not know
/// removed, or `None` when nothing applies (send the shared payload). The hash stays
/// the control plane's, as Kong does.
pub fn downgrade(config_table: &Value, version: KongVersion) -> Option<Value> {
    let applicable: Vec<&Removal> = REMOVALS.iter().filter(|r| version < r.below).collect();
    if applicable.is_empty() {
        return None;
    }
    let mut table = config_table.clone();
    let mut changed = false;
    let Value::Object(groups) = &mut table else {
        return None;
    };
    for (entity, items) in groups.iter_mut() {
        let Value::Array(items) = items else { continue };
        for item in items {
            for removal in &applicable {
                if removal.entity != "*" && removal.entity != entity {
                    continue;
                }
                if let Some(plugin) = removal.plugin
                    && item.get("name").and_then(Value::as_str) != Some(plugin)
                {
                    continue;
                }
                changed |= remove_path(item, removal.path);
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
        let cp = KongVersion::parse("3.10.0").unwrap();
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

    #[test]
    fn older_data_planes_lose_the_fields_they_do_not_know() {
        let table = json!({"plugins": [
            {"name": "cors", "instance_name": null, "updated_at": 1, "config": {"allow_origin_absent": true, "x": 1}},
            {"name": "ping-auth", "updated_at": 1, "config": {"x": 1}},
        ]});
        assert_eq!(
            downgrade(&table, KongVersion::parse("3.10.0").unwrap()),
            None
        );
        let for_3_4 = downgrade(&table, KongVersion::parse("3.4.0").unwrap()).unwrap();
        assert_eq!(for_3_4["plugins"][0]["config"], json!({"x": 1}));
        assert_eq!(for_3_4["plugins"][0]["updated_at"], 1);
        let for_3_1 = downgrade(&table, KongVersion::parse("3.1.0").unwrap()).unwrap();
        assert!(for_3_1["plugins"][1].get("updated_at").is_none());
        assert!(for_3_1["plugins"][0].get("instance_name").is_none());
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
