//! A control plane's config as a data plane loads it (Kong's `export_config`,
//! `kong/db/declarative/export.lua`): one array per entity type, foreign keys as plain
//! ids, disabled entities and what hangs off them left out; then the `reconfigure`
//! message, hashed and gzipped once per change (docs/clustering.md, "Reconfigure" and
//! "Hash").

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, OnceLock};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::compat::{self, KongVersion};
use super::export_state::Encoded;
use super::hash::ConfigHashes;
use crate::domain::Timestamp;
use crate::entities::kinds::{
    ACLS, BASICAUTH_CREDENTIALS, CA_CERTIFICATES, CERTIFICATES, CONSUMER_GROUP_CONSUMERS,
    CONSUMER_GROUPS, CONSUMERS, HMACAUTH_CREDENTIALS, JWT_SECRETS, KEYAUTH_CREDENTIALS, PLUGINS,
    ROUTES, SERVICES, SNIS, TARGETS, UPSTREAMS,
};
use crate::entities::kinds::{KEY_SETS, KEYS, VAULTS};
use crate::store::{Store, StoreResult};

/// Plugin fields Kong OSS data planes do not know; sent only when set (Konnect's EE
/// data planes know them).
pub(super) const EE_PLUGIN_FIELDS: &[&str] = &["consumer_group", "ordering", "partials"];

/// One built config: what every data plane of the control plane receives.
#[derive(Debug)]
pub struct Snapshot {
    /// The table, parsed back from the payload the first time an older data plane needs
    /// a downgraded copy (most never do: no snapshot holds a 100k-entity `Value`).
    config_table: OnceLock<Value>,
    pub hashes: ConfigHashes,
    /// The gzipped `reconfigure` message, sent as one binary frame; shared, not copied,
    /// by every session.
    pub payload: bytes::Bytes,
    /// Names of the plugins the config uses, for the compatibility check.
    pub plugins: Vec<String>,
    /// When the first change this snapshot carries was committed (heard from the store),
    /// for the push latency in `/metrics`; `None` when it carries no change (the first
    /// export for a control plane, a safety re-export).
    pub changed_at: Option<std::time::Instant>,
    /// The frames for older data planes, built once per set of removals (see
    /// [`Snapshot::payload_for`]).
    downgraded: std::sync::Mutex<HashMap<u64, Arc<OnceLock<bytes::Bytes>>>>,
}

impl Snapshot {
    /// The snapshot of an incrementally built frame.
    pub fn from_encoded(encoded: Encoded) -> Self {
        Snapshot {
            config_table: OnceLock::new(),
            hashes: encoded.hashes,
            payload: encoded.payload.into(),
            plugins: encoded.plugins,
            changed_at: None,
            downgraded: Default::default(),
        }
    }

    /// The config table this snapshot sends.
    pub fn config_table(&self) -> &Value {
        self.config_table.get_or_init(|| {
            let mut json = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&self.payload[..]),
                &mut json,
            )
            .expect("the payload is gzip this process made");
            let mut message: Value = serde_json::from_slice(&json).expect("JSON it encoded");
            message["config_table"].take()
        })
    }

    /// The frame for a data plane of `version`: the shared payload, or the config with
    /// what that version does not know removed, encoded once for every data plane that
    /// needs the same removals rather than once per session.
    pub fn payload_for(&self, version: KongVersion) -> bytes::Bytes {
        let key = compat::compat_key(version);
        if key == 0 {
            return self.payload.clone();
        }
        let slot = self
            .downgraded
            .lock()
            .expect("downgrade lock")
            .entry(key)
            .or_default()
            .clone();
        slot.get_or_init(|| match compat::downgrade(self.config_table(), version) {
            None => self.payload.clone(),
            Some(table) => encode_reconfigure(&table, &self.hashes).into(),
        })
        .clone()
    }
}

pub(super) fn collapse_foreign(entity: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if let Some(value) = entity.get_mut(*field)
            && let Some(id) = value.get("id").cloned()
        {
            *value = id;
        }
    }
}

fn enabled(entity: &Value) -> bool {
    entity.get("enabled") != Some(&Value::Bool(false))
}

/// A membership as Kong's export writes a `consumer_group_consumers` row: the schema's
/// fields only (its primary key is the pair, so konnektd's row id stays home), foreign
/// keys as plain ids.
pub(super) fn exported_membership(membership: Value) -> Option<Value> {
    let Value::Object(mut row) = membership else {
        return None;
    };
    row.remove("id");
    collapse_foreign(&mut row, &["consumer_group", "consumer"]);
    Some(Value::Object(row))
}

/// The `config_table` of a control plane, in id order so it hashes the same every time.
pub async fn export_config(store: &Store, control_plane: Uuid) -> StoreResult<Value> {
    let mut table = Map::new();
    table.insert("_format_version".into(), json!("3.0"));
    table.insert("_transform".into(), json!(false));
    // Kong's CP always exports this row, so a config is never "empty" to a data plane.
    table.insert(
        "parameters".into(),
        json!([{"key": "cluster_id", "value": control_plane.to_string()}]),
    );

    let mut all = store.all_entities_by_kind(control_plane).await?;
    let mut take = |kind: &str| all.remove(kind).unwrap_or_default();
    let services = take(SERVICES.name);
    let mut live_services = HashSet::new();
    let mut exported_services = Vec::new();
    for service in services {
        if enabled(&service) {
            live_services.insert(service["id"].as_str().unwrap_or_default().to_string());
            let Value::Object(mut service) = service else {
                continue;
            };
            collapse_foreign(&mut service, &["client_certificate"]);
            exported_services.push(Value::Object(service));
        }
    }
    let mut live_routes = HashSet::new();
    let mut routes = Vec::new();
    for route in take(ROUTES.name) {
        let service = route
            .get("service")
            .and_then(|s| s.get("id"))
            .and_then(Value::as_str);
        if service.is_some_and(|s| !live_services.contains(s)) {
            continue;
        }
        live_routes.insert(route["id"].as_str().unwrap_or_default().to_string());
        let Value::Object(mut route) = route else {
            continue;
        };
        collapse_foreign(&mut route, &["service"]);
        routes.push(Value::Object(route));
    }
    let mut plugins = Vec::new();
    let mut plugin_names = Vec::new();
    for plugin in take(PLUGINS.name) {
        let attached = |field: &str, live: &HashSet<String>| {
            plugin
                .get(field)
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
                .is_none_or(|id| live.contains(id))
        };
        if !enabled(&plugin)
            || !attached("service", &live_services)
            || !attached("route", &live_routes)
        {
            continue;
        }
        let Value::Object(mut plugin) = plugin else {
            continue;
        };
        for field in EE_PLUGIN_FIELDS {
            if plugin.get(*field).is_some_and(Value::is_null) {
                plugin.remove(*field);
            }
        }
        collapse_foreign(
            &mut plugin,
            &["service", "route", "consumer", "consumer_group"],
        );
        if let Some(name) = plugin.get("name").and_then(Value::as_str) {
            plugin_names.push(name.to_string());
        }
        plugins.push(Value::Object(plugin));
    }
    let consumers = take(CONSUMERS.name);
    let consumer_groups = take(CONSUMER_GROUPS.name);
    // Every foreign key as its plain id, as Kong's export writes them.
    let mut collapsed = |kind: &str, fields: &[&str]| -> Vec<Value> {
        take(kind)
            .into_iter()
            .map(|entity| match entity {
                Value::Object(mut entity) => {
                    collapse_foreign(&mut entity, fields);
                    Value::Object(entity)
                }
                other => other,
            })
            .collect()
    };
    let certificates = collapsed(CERTIFICATES.name, &[]);
    let ca_certificates = collapsed(CA_CERTIFICATES.name, &[]);
    let snis = collapsed(SNIS.name, &["certificate"]);
    let upstreams = collapsed(UPSTREAMS.name, &["client_certificate"]);
    let targets = collapsed(TARGETS.name, &["upstream"]);
    let key_sets = collapsed(KEY_SETS.name, &[]);
    let keys = collapsed(KEYS.name, &["set"]);
    let vaults = collapsed(VAULTS.name, &[]);
    let memberships = take(CONSUMER_GROUP_CONSUMERS.name)
        .into_iter()
        .filter_map(exported_membership)
        .collect();
    for (key, items) in [
        ("services", exported_services),
        ("routes", routes),
        ("consumers", consumers),
        ("consumer_groups", consumer_groups),
        ("consumer_group_consumers", memberships),
        ("plugins", plugins),
        ("certificates", certificates),
        ("ca_certificates", ca_certificates),
        ("snis", snis),
        ("upstreams", upstreams),
        ("targets", targets),
        ("key_sets", key_sets),
        ("keys", keys),
        ("vaults", vaults),
    ] {
        if !items.is_empty() {
            table.insert(key.into(), Value::Array(items));
        }
    }
    // Consumer credentials: each its own collection under Kong's DAO name, the consumer
    // as its id (export.lua collapses every foreign key). Basic-auth passwords go as
    // stored, hashed: the table's `_transform = false` tells the data plane not to hash
    // them again.
    for kind in [
        &KEYAUTH_CREDENTIALS,
        &BASICAUTH_CREDENTIALS,
        &HMACAUTH_CREDENTIALS,
        &JWT_SECRETS,
        &ACLS,
    ] {
        let items: Vec<Value> = take(kind.name)
            .into_iter()
            .filter_map(|credential| match credential {
                Value::Object(mut credential) => {
                    collapse_foreign(&mut credential, &["consumer"]);
                    Some(Value::Object(credential))
                }
                _ => None,
            })
            .collect();
        if !items.is_empty() {
            table.insert(kind.name.into(), Value::Array(items));
        }
    }
    Ok(Value::Object(table))
}

/// The snapshot of a table whose hashes the caller has computed already: the
/// `reconfigure` message encoded once.
pub fn build_snapshot_hashed(
    config_table: Value,
    hashes: ConfigHashes,
    now: Timestamp,
) -> Snapshot {
    let mut plugins: Vec<String> = config_table
        .get("plugins")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    plugins.sort();
    plugins.dedup();
    let payload = encode_reconfigure_at(&config_table, &hashes, now).into();
    Snapshot {
        config_table: config_table.into(),
        hashes,
        changed_at: None,
        payload,
        plugins,
        downgraded: Default::default(),
    }
}

/// The gzipped `reconfigure` message of a table with the given hashes.
pub fn encode_reconfigure(config_table: &Value, hashes: &ConfigHashes) -> Vec<u8> {
    encode_reconfigure_at(config_table, hashes, Timestamp::now())
}

fn encode_reconfigure_at(config_table: &Value, hashes: &ConfigHashes, now: Timestamp) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(&reconfigure_json(config_table, hashes, now))
        .expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// The `reconfigure` message before compression.
pub(super) fn reconfigure_json(
    config_table: &Value,
    hashes: &ConfigHashes,
    now: Timestamp,
) -> Vec<u8> {
    let message = json!({
        "type": "reconfigure",
        "timestamp": now.seconds_f64(),
        "config_table": config_table,
        "config_hash": hashes.config,
        "hashes": hashes.to_json(),
    });
    serde_json::to_vec(&message).expect("JSON encodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::hash::config_hashes;
    use std::io::Read;

    fn build_snapshot(config_table: Value) -> Snapshot {
        let hashes = config_hashes(&config_table);
        build_snapshot_hashed(config_table, hashes, Timestamp::from_millis(1500))
    }

    #[test]
    fn the_payload_is_gzipped_reconfigure_json_with_kongs_hashes() {
        let table =
            json!({"_format_version": "3.0", "_transform": false, "services": [{"id": "s"}]});
        let snapshot = build_snapshot(table.clone());
        assert_eq!(&snapshot.payload[..2], &[0x1f, 0x8b]);
        let mut json = String::new();
        flate2::read::GzDecoder::new(&snapshot.payload[..])
            .read_to_string(&mut json)
            .unwrap();
        let message: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(message["type"], "reconfigure");
        assert_eq!(message["timestamp"], 1.5);
        assert_eq!(message["config_table"], table);
        assert_eq!(message["config_hash"], config_hashes(&table).config);
        assert_eq!(message["hashes"]["services"], snapshot.hashes.services);
        assert_eq!(snapshot.config_table(), &table);
    }

    fn config_of(payload: &[u8]) -> Value {
        let mut json = String::new();
        flate2::read::GzDecoder::new(payload)
            .read_to_string(&mut json)
            .unwrap();
        serde_json::from_str::<Value>(&json).unwrap()["config_table"].clone()
    }

    #[test]
    fn older_data_planes_share_one_downgraded_frame_per_set_of_removals() {
        let table = json!({"plugins": [
            {"name": "cors", "updated_at": 1, "config": {"allow_origin_absent": true, "x": 1}},
        ]});
        let snapshot = build_snapshot(table.clone());
        let version = |v: &str| KongVersion::parse(v).unwrap();
        let current = snapshot.payload_for(version("3.10.0"));
        assert_eq!(current.as_ptr(), snapshot.payload.as_ptr());

        let for_3_4 = snapshot.payload_for(version("3.4.0"));
        assert_eq!(config_of(&for_3_4)["plugins"][0]["config"], json!({"x": 1}));
        assert_eq!(config_of(&for_3_4)["plugins"][0]["updated_at"], 1);
        // 3.9.0 and 3.9.4 are below the same thresholds: one frame, encoded once.
        let for_3_9 = snapshot.payload_for(version("3.9.0"));
        assert_eq!(config_of(&for_3_9)["plugins"][0]["config"], json!({"x": 1}));
        assert_eq!(
            snapshot.payload_for(version("3.9.4.1")).as_ptr(),
            for_3_9.as_ptr()
        );
        assert_ne!(for_3_9.as_ptr(), for_3_4.as_ptr());
        assert_eq!(
            snapshot.payload_for(version("3.4.0")).as_ptr(),
            for_3_4.as_ptr()
        );
        let for_3_1 = snapshot.payload_for(version("3.1.0"));
        assert_ne!(for_3_1.as_ptr(), for_3_4.as_ptr());
        assert!(
            config_of(&for_3_1)["plugins"][0]
                .get("updated_at")
                .is_none()
        );

        // Removals that change nothing in this config send the shared frame.
        let plain = build_snapshot(json!({"services": [{"id": "s"}]}));
        let for_3_9 = plain.payload_for(version("3.9.1"));
        assert_eq!(for_3_9.as_ptr(), plain.payload.as_ptr());
    }
}
