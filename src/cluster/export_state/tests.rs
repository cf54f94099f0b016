//! The incremental export against the full one: after random writes and deletes across
//! kinds (cascades included), fed the changes the store publishes, its frame inflates
//! to exactly the bytes of `export_config` encoded whole, with Kong's hashes of that
//! table; a fresh state from every row, and a full comparison, agree too.

use std::io::Read;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::*;
use crate::cluster::export::{export_config, reconfigure_json};
use crate::cluster::hash::config_hashes;
use crate::domain::control_plane::{ControlPlane, NewControlPlane};
use crate::domain::entity_kind::OnDelete;
use crate::store::core_entities::{EntityRecord, EntityRef};
use crate::store::{Change, Store};

fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(payload)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// The frame `state` builds equals the full export's, byte for byte once inflated.
async fn assert_matches_full_export(state: &mut ExportState, store: &Store, cp: Uuid, step: &str) {
    let now = Timestamp::from_millis(1_700_000_000_250);
    let table = export_config(store, cp).await.unwrap();
    let hashes = config_hashes(&table);
    let expected = reconfigure_json(&table, &hashes, now);
    let encoded = state.encode(now);
    assert_eq!(encoded.hashes, hashes, "{step}");
    let got = inflate(&encoded.payload);
    if got != expected {
        panic!(
            "{step}: frames differ\n got: {}\nwant: {}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
    }
    let mut names: Vec<String> = table
        .get("plugins")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(encoded.plugins, names, "{step}");
}

struct World {
    rng: StdRng,
    ids: HashMap<&'static str, Vec<String>>,
    next: u64,
}

impl World {
    fn pick(&mut self, kind: &'static str) -> Option<String> {
        self.ids.get(kind)?.choose(&mut self.rng).cloned()
    }

    fn fresh_id(&mut self) -> String {
        self.next += 1;
        // Random leading bytes spread entities over the chunks.
        let lead: u32 = self.rng.random();
        format!("{lead:08x}-0000-4000-8000-{:012x}", self.next)
    }

    /// A new or replaced entity of a random kind, its references to live entities.
    fn record(&mut self) -> Option<(EntityRecord, bool)> {
        let kinds = [
            "services",
            "routes",
            "consumers",
            "keyauth_credentials",
            "plugins",
            "upstreams",
            "targets",
            "consumer_groups",
        ];
        let kind = *kinds.choose(&mut self.rng).expect("kinds");
        let replace =
            self.rng.random_bool(0.3) && self.ids.get(kind).is_some_and(|v| !v.is_empty());
        let id = if replace {
            self.pick(kind)?
        } else {
            self.fresh_id()
        };
        let mut refs = Vec::new();
        let mut reference = |world: &mut World, field: &'static str, target: &'static str| {
            let target_id = world.pick(target)?;
            refs.push(EntityRef {
                field,
                target,
                id: target_id.clone(),
            });
            Some(json!({"id": target_id}))
        };
        let enabled = self.rng.random_bool(0.8);
        let body = match kind {
            "services" => json!({"id": id, "host": "h", "port": 80, "protocol": "http",
                "retries": self.rng.random_range(0..9), "enabled": enabled,
                "client_certificate": null, "tags": ["a", "b"]}),
            "routes" => {
                let service = reference(self, "service", "services")?;
                json!({"id": id, "paths": ["/x", "/y"], "service": service, "strip_path": true,
                    "regex_priority": 0, "headers": null})
            }
            "consumers" => json!({"id": id, "username": format!("u{id}"), "custom_id": null}),
            "keyauth_credentials" => {
                let consumer = reference(self, "consumer", "consumers")?;
                json!({"id": id, "key": format!("k{id}"), "consumer": consumer, "ttl": null})
            }
            "plugins" => {
                let name = *["key-auth", "cors", "acl"]
                    .choose(&mut self.rng)
                    .expect("names");
                let mut body = json!({"id": id, "name": name,
                    "enabled": enabled, "config": {"n": 1.5, "list": [1, 2, 3, 4, 5, 6]},
                    "ordering": null, "protocols": ["http", "https"]});
                match self.rng.random_range(0..4) {
                    0 => body["service"] = reference(self, "service", "services")?,
                    1 => body["route"] = reference(self, "route", "routes")?,
                    2 => body["consumer"] = reference(self, "consumer", "consumers")?,
                    _ => {}
                }
                // Now and then a large one, so group hashes fold inside an entity.
                if self.rng.random_bool(0.05) {
                    body["config"]["big"] =
                        json!("z".repeat(self.rng.random_range(200_000..400_000)));
                }
                body
            }
            "upstreams" => json!({"id": id, "name": format!("up{id}"), "slots": 10000}),
            "targets" => {
                let upstream = reference(self, "upstream", "upstreams")?;
                json!({"id": id, "target": "10.0.0.1:80", "weight": 100, "upstream": upstream})
            }
            _ => json!({"id": id, "name": format!("g{id}")}),
        };
        if !replace {
            self.ids.entry(kind).or_default().push(id.clone());
        }
        Some((
            EntityRecord {
                kind,
                id,
                name: None,
                body: body.to_string(),
                keys: vec![],
                refs,
                tags: vec![],
                created_at: Default::default(),
                updated_at: Default::default(),
            },
            replace,
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_keep_the_incremental_export_equal_to_the_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::store::default_database_url(dir.path());
    let store = Store::open(&url).await.unwrap();
    let request = NewControlPlane::parse(&json!({"name": "cp"})).unwrap();
    let cp = ControlPlane::create(request, Default::default());
    store.insert_control_plane(&cp).await.unwrap();
    let cp = cp.id;
    let heard: Arc<Mutex<Vec<Change>>> = Default::default();
    let sink = heard.clone();
    store.on_change(Arc::new(move |c| sink.lock().unwrap().push(c)));

    let mut state = ExportState::new(cp);
    state.sync_all(store.entity_rows(cp).await.unwrap());
    assert_matches_full_export(&mut state, &store, cp, "empty").await;

    let mut world = World {
        rng: StdRng::seed_from_u64(18),
        ids: HashMap::new(),
        next: 0,
    };
    let cascade = |_: &str, _: &str| OnDelete::Cascade;
    for step in 0..600 {
        if world.rng.random_bool(0.2) {
            let kind = *["services", "routes", "consumers", "upstreams", "plugins"]
                .choose(&mut world.rng)
                .unwrap();
            if let Some(id) = world.pick(kind) {
                store.delete_entity(cp, kind, &id, cascade).await.unwrap();
            }
        } else if let Some((record, replace)) = world.record() {
            // A reference to an entity deleted meanwhile fails the write: nothing changes.
            let _ = store.write_entity(cp, &record, replace).await;
        }
        // Feed what the store published, several changes at once now and then (a burst).
        if step % 3 != 0 {
            continue;
        }
        let changes = std::mem::take(&mut *heard.lock().unwrap());
        let touched: Vec<EntityKey> = changes
            .iter()
            .flat_map(|c| match c {
                Change::Entities(_, keys) => keys.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        let rows = store.entity_rows_of(cp, &touched).await.unwrap();
        state.sync_some(&touched, rows);
        assert_matches_full_export(&mut state, &store, cp, &format!("step {step}")).await;
        if step % 60 == 0 {
            // A restart rebuilds the same frame from every row, and a full comparison
            // of the kept state finds nothing to change.
            let mut fresh = ExportState::new(cp);
            fresh.sync_all(store.entity_rows(cp).await.unwrap());
            assert_matches_full_export(&mut fresh, &store, cp, "fresh").await;
            state.sync_all(store.entity_rows(cp).await.unwrap());
            assert_matches_full_export(&mut state, &store, cp, "compared").await;
        }
    }
    assert!(state.entity_count() > 100, "{}", state.entity_count());
    // Deleting what is left by cascades from services and consumers.
    for kind in [
        "services",
        "consumers",
        "upstreams",
        "plugins",
        "consumer_groups",
    ] {
        for id in world.ids.remove(kind).unwrap_or_default() {
            store.delete_entity(cp, kind, &id, cascade).await.unwrap();
        }
    }
    let changes = std::mem::take(&mut *heard.lock().unwrap());
    let touched: Vec<EntityKey> = changes
        .iter()
        .flat_map(|c| match c {
            Change::Entities(_, keys) => keys.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    let rows = store.entity_rows_of(cp, &touched).await.unwrap();
    assert!(rows.is_empty(), "everything was deleted");
    state.sync_some(&touched, rows);
    assert_eq!(state.entity_count(), 0);
    assert_matches_full_export(&mut state, &store, cp, "all deleted").await;
    store.close().await;
}

/// Disabling a service takes its routes, their plugins and its own plugins out of the
/// config, and enabling it brings them back, with the same frame as before.
#[test]
fn a_disabled_service_takes_what_hangs_off_it_along() {
    let cp = Uuid::nil();
    let row = |kind: &str, body: Value| {
        (
            kind.to_string(),
            body["id"].as_str().unwrap().to_string(),
            body.to_string(),
        )
    };
    let rows = vec![
        row("services", json!({"id": "s", "enabled": true})),
        row("routes", json!({"id": "r", "service": {"id": "s"}})),
        row(
            "plugins",
            json!({"id": "p1", "name": "cors", "route": {"id": "r"}}),
        ),
        row(
            "plugins",
            json!({"id": "p2", "name": "acl", "service": {"id": "s"}}),
        ),
        row("plugins", json!({"id": "p3", "name": "acl"})),
    ];
    let mut state = ExportState::new(cp);
    state.sync_all(rows.clone());
    let now = Timestamp::from_millis(1000);
    let before = state.encode(now);
    assert_eq!(before.plugins, ["acl", "cors"]);
    let key = ("services".to_string(), "s".to_string());
    state.sync_some(
        std::slice::from_ref(&key),
        vec![row("services", json!({"id": "s", "enabled": false}))],
    );
    let disabled = state.encode(now);
    let table: Value = serde_json::from_slice(&inflate(&disabled.payload)).unwrap();
    let table = &table["config_table"];
    assert!(
        table.get("services").is_none() && table.get("routes").is_none(),
        "{table}"
    );
    assert_eq!(table["plugins"], json!([{"id": "p3", "name": "acl"}]));
    assert_eq!(disabled.plugins, ["acl"]);
    state.sync_some(std::slice::from_ref(&key), vec![rows[0].clone()]);
    let after = state.encode(now);
    assert_eq!(after.hashes, before.hashes);
    assert_eq!(inflate(&after.payload), inflate(&before.payload));
}

#[test]
fn chunks_are_cut_finer_as_a_kind_grows_and_coarser_well_below() {
    assert_eq!(prefix_len_for(0, 10), 0);
    assert_eq!(prefix_len_for(0, 512), 1);
    assert_eq!(prefix_len_for(1, 200), 1, "kept above a quarter");
    assert_eq!(prefix_len_for(1, 100), 0);
    assert_eq!(prefix_len_for(0, 100_000), 2);
    assert_eq!(prefix_len_for(2, 5_000), 2);
    assert_eq!(prefix_len_for(2, 4_000), 1);
}
