//! A control plane's export kept encoded between changes, so that one write costs what
//! it changes, not what the control plane holds (docs/performance.md, "Incremental
//! export"). Per entity it keeps the exported JSON and Kong's sorted-string hash input;
//! per kind, the entities in id order cut into chunks (by id prefix), each deflated
//! once and re-deflated only when one of its entities changes; per hash group, its
//! hash until one of its entities changes. A snapshot then costs: re-encoding the
//! changed entities and chunks, MD5 over the changed groups' cached inputs (a stream),
//! and a copy of the cached compressed chunks. Its payload and hashes are byte for byte
//! those of [`super::export::export_config`] followed by a full encode (tested).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::export::{EE_PLUGIN_FIELDS, collapse_foreign, exported_membership};
use super::gzip_segments::{SEGMENT_LEVEL, Segment, gzip, segment};
use super::hash::{
    CachedItem, ConfigHashes, GROUPS, Md5Sink, Sink, Unfolded, ZERO_HASH, combine, serialize,
    serialize_cached,
};
use crate::domain::Timestamp;
use crate::store::{EntityKey, EntityRow};

/// The collections of the config table, in the order the full export inserts them,
/// each with the foreign keys it writes as plain ids.
const KINDS: [(&str, &[&str]); 19] = [
    ("services", &["client_certificate"]),
    ("routes", &["service"]),
    ("consumers", &[]),
    ("consumer_groups", &[]),
    ("consumer_group_consumers", &["consumer_group", "consumer"]),
    (
        "plugins",
        &["service", "route", "consumer", "consumer_group"],
    ),
    ("certificates", &[]),
    ("ca_certificates", &[]),
    ("snis", &["certificate"]),
    ("upstreams", &["client_certificate"]),
    ("targets", &["upstream"]),
    ("key_sets", &[]),
    ("keys", &["set"]),
    ("vaults", &[]),
    ("keyauth_credentials", &["consumer"]),
    ("basicauth_credentials", &["consumer"]),
    ("hmacauth_credentials", &["consumer"]),
    ("jwt_secrets", &["consumer"]),
    ("acls", &["consumer"]),
];

/// Glue between chunks (keys, brackets, the message around the table) is small and
/// deflated afresh each time, fast.
const GLUE_LEVEL: u32 = 1;

/// Id-prefix length of a kind's chunks by its size: one chunk for a small kind, 16 or
/// 256 for large ones, so a chunk stays around tens of kilobytes (re-deflated in about
/// a millisecond) at 100,000 entities. A kind shrinks back only below a quarter of the
/// threshold, so a size near one never flips to and fro.
const PREFIX_STEPS: [usize; 2] = [512, 16_384];

fn prefix_len_for(current: usize, count: usize) -> usize {
    let grown = PREFIX_STEPS.iter().filter(|&&step| count >= step).count();
    let kept = PREFIX_STEPS
        .iter()
        .filter(|&&step| count >= step / 4)
        .count();
    if grown > current || kept < current {
        grown
    } else {
        current
    }
}

/// What decides whether an entity is exported, read from its stored body.
#[derive(Debug, Default, Clone)]
struct Links {
    enabled: bool,
    service: Option<String>,
    route: Option<String>,
    plugin_name: Option<String>,
}

#[derive(Debug)]
struct Entry {
    /// Of the stored body text, to tell a changed row in a full comparison.
    body_hash: u64,
    json: Box<[u8]>,
    sorted: Box<[u8]>,
    links: Links,
    included: bool,
}

#[derive(Debug, Default)]
struct Chunk {
    included: usize,
    /// The chunk's entities' JSON, comma-separated, deflated; with whether it starts
    /// with a comma (every chunk but an array's first).
    encoded: Option<(bool, Segment)>,
}

#[derive(Debug, Default)]
struct KindState {
    entries: BTreeMap<String, Entry>,
    included: usize,
    prefix_len: usize,
    chunks: BTreeMap<String, Chunk>,
    /// The group hash, for the five groups Kong hashes apart; `None` once changed.
    hash: Option<String>,
}

impl KindState {
    fn prefix(&self, id: &str) -> String {
        id.chars().take(self.prefix_len).collect()
    }

    /// The entry's inclusion changed or its content did: its chunk and hash are stale.
    fn touch(&mut self, id: &str, delta: isize) {
        let prefix = self.prefix(id);
        let chunk = self.chunks.entry(prefix.clone()).or_default();
        chunk.encoded = None;
        chunk.included = chunk.included.checked_add_signed(delta).expect("count");
        self.included = self.included.checked_add_signed(delta).expect("count");
        if chunk.included == 0 {
            self.chunks.remove(&prefix);
        }
        self.hash = None;
    }

    /// Re-cuts the chunks when the kind's size calls for another prefix length.
    fn rechunk(&mut self) {
        let wanted = prefix_len_for(self.prefix_len, self.included);
        if wanted == self.prefix_len {
            return;
        }
        self.prefix_len = wanted;
        self.chunks.clear();
        for (id, entry) in &self.entries {
            if entry.included {
                let prefix: String = id.chars().take(wanted).collect();
                self.chunks.entry(prefix).or_default().included += 1;
            }
        }
    }

    fn included_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values().filter(|e| e.included)
    }

    fn hash_items(&self) -> impl Iterator<Item = CachedItem<'_>> {
        self.included_entries().map(|e| CachedItem {
            sorted: &e.sorted,
            json: &e.json,
        })
    }

    fn group_hash(&mut self) -> String {
        if let Some(hash) = &self.hash {
            return hash.clone();
        }
        let hash = if self.included == 0 {
            ZERO_HASH.to_string()
        } else {
            let mut sink = Md5Sink::default();
            serialize_cached(self.included, self.hash_items(), &mut sink);
            sink.hex()
        };
        self.hash = Some(hash.clone());
        hash
    }
}

/// A built frame: what [`super::export::Snapshot`] carries.
pub struct Encoded {
    pub hashes: ConfigHashes,
    pub payload: Vec<u8>,
    pub plugins: Vec<String>,
}

/// One control plane's export, kept up to date change by change.
pub struct ExportState {
    control_plane: Uuid,
    kinds: HashMap<&'static str, KindState>,
    routes_by_service: HashMap<String, HashSet<String>>,
    plugins_by_service: HashMap<String, HashSet<String>>,
    plugins_by_route: HashMap<String, HashSet<String>>,
    plugin_names: BTreeMap<String, usize>,
    rest_hash: Option<String>,
}

fn body_hash(body: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

fn id_of(value: Option<&Value>) -> Option<String> {
    value
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The entity as the config table carries it (Kong's `export.lua`: foreign keys as
/// plain ids, a membership without its row id, plugins without unset EE fields), with
/// what decides whether it is exported.
fn exported(kind: &str, fields: &[&str], body: Value) -> Option<(Value, Links)> {
    let links = Links {
        enabled: body.get("enabled") != Some(&Value::Bool(false)),
        service: id_of(body.get("service")),
        route: id_of(body.get("route")),
        plugin_name: body.get("name").and_then(Value::as_str).map(str::to_string),
    };
    let value = if kind == "consumer_group_consumers" {
        exported_membership(body)?
    } else {
        let Value::Object(mut entity) = body else {
            return None;
        };
        if kind == "plugins" {
            for field in EE_PLUGIN_FIELDS {
                if entity.get(*field).is_some_and(Value::is_null) {
                    entity.remove(*field);
                }
            }
        }
        collapse_foreign(&mut entity, fields);
        Value::Object(entity)
    };
    Some((value, links))
}

fn add_link(index: &mut HashMap<String, HashSet<String>>, target: &Option<String>, id: &str) {
    if let Some(target) = target {
        index
            .entry(target.clone())
            .or_default()
            .insert(id.to_string());
    }
}

fn remove_link(index: &mut HashMap<String, HashSet<String>>, target: &Option<String>, id: &str) {
    if let Some(target) = target
        && let Some(set) = index.get_mut(target)
    {
        set.remove(id);
        if set.is_empty() {
            index.remove(target);
        }
    }
}

impl ExportState {
    pub fn new(control_plane: Uuid) -> Self {
        ExportState {
            control_plane,
            kinds: KINDS
                .iter()
                .map(|(kind, _)| (*kind, KindState::default()))
                .collect(),
            routes_by_service: HashMap::new(),
            plugins_by_service: HashMap::new(),
            plugins_by_route: HashMap::new(),
            plugin_names: BTreeMap::new(),
            rest_hash: None,
        }
    }

    #[cfg(test)]
    pub fn entity_count(&self) -> usize {
        self.kinds.values().map(|k| k.entries.len()).sum()
    }

    /// Brings the state to `rows`, every row of the control plane: only rows whose body
    /// changed are parsed and re-encoded, rows gone are removed.
    pub fn sync_all(&mut self, rows: Vec<EntityRow>) {
        let mut present: HashSet<(&'static str, String)> = HashSet::with_capacity(rows.len());
        let mut changed = Vec::new();
        for (kind, id, body) in rows {
            let Some((kind, _)) = KINDS.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            let unchanged = self.kinds[kind]
                .entries
                .get(&id)
                .is_some_and(|e| e.body_hash == body_hash(&body));
            present.insert((kind, id.clone()));
            if !unchanged {
                changed.push((kind.to_string(), id, Some(body)));
            }
        }
        for (kind, state) in &self.kinds {
            for id in state.entries.keys() {
                if !present.contains(&(*kind, id.clone())) {
                    changed.push((kind.to_string(), id.clone(), None));
                }
            }
        }
        self.apply(changed);
    }

    /// Applies the current rows of `touched` entities (`rows` holds those that still
    /// exist; the others were deleted).
    pub fn sync_some(&mut self, touched: &[EntityKey], rows: Vec<EntityRow>) {
        let mut bodies: HashMap<(String, String), String> = rows
            .into_iter()
            .map(|(kind, id, body)| ((kind, id), body))
            .collect();
        let changes = touched
            .iter()
            .map(|key| {
                let body = bodies.remove(key);
                (key.0.clone(), key.1.clone(), body)
            })
            .collect();
        self.apply(changes);
    }

    /// Replaces or removes each entity, then works out again whether each one it may
    /// decide (routes and plugins of a service, plugins of a route) is exported.
    fn apply(&mut self, changes: Vec<(String, String, Option<String>)>) {
        let (mut services, mut routes, mut plugins) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for (kind, id, body) in changes {
            let Some((kind, fields)) = KINDS.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            self.remove(kind, &id);
            let parsed = body.as_deref().map(|text| {
                (
                    body_hash(text),
                    serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
                )
            });
            if let Some((hash, value)) = parsed
                && let Some((value, links)) = exported(kind, fields, value)
            {
                self.insert(kind, &id, hash, value, links);
            }
            match *kind {
                "services" => services.insert(id),
                "routes" => routes.insert(id),
                "plugins" => plugins.insert(id),
                _ => {
                    self.rest_hash = None;
                    if self.kinds[kind].entries.contains_key(&id) {
                        self.set_included(kind, &id, true);
                    }
                    false
                }
            };
        }
        for service in &services {
            routes.extend(
                self.routes_by_service
                    .get(service)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            plugins.extend(
                self.plugins_by_service
                    .get(service)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        for route in &routes {
            plugins.extend(
                self.plugins_by_route
                    .get(route)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        for id in services {
            let live = self.kinds["services"]
                .entries
                .get(&id)
                .map(|e| e.links.enabled);
            if let Some(live) = live {
                self.set_included("services", &id, live);
            }
        }
        for id in routes {
            let service = self.kinds["routes"]
                .entries
                .get(&id)
                .map(|e| e.links.service.clone());
            if let Some(service) = service {
                let live = service.is_none_or(|s| self.included("services", &s));
                self.set_included("routes", &id, live);
            }
        }
        for id in plugins {
            let links = self.kinds["plugins"]
                .entries
                .get(&id)
                .map(|e| e.links.clone());
            if let Some(links) = links {
                let live = links.enabled
                    && links.service.is_none_or(|s| self.included("services", &s))
                    && links.route.is_none_or(|r| self.included("routes", &r));
                self.set_included("plugins", &id, live);
            }
        }
    }

    fn included(&self, kind: &str, id: &str) -> bool {
        self.kinds[kind].entries.get(id).is_some_and(|e| e.included)
    }

    fn set_included(&mut self, kind: &'static str, id: &str, included: bool) {
        let state = self.kinds.get_mut(kind).expect("known kind");
        let Some(entry) = state.entries.get_mut(id) else {
            return;
        };
        if entry.included == included {
            return;
        }
        entry.included = included;
        if kind == "plugins"
            && let Some(name) = entry.links.plugin_name.clone()
        {
            let count = self.plugin_names.entry(name.clone()).or_default();
            if included {
                *count += 1;
            } else {
                *count -= 1;
                if *count == 0 {
                    self.plugin_names.remove(&name);
                }
            }
        }
        state.touch(id, if included { 1 } else { -1 });
        if !GROUPS.contains(&kind) {
            self.rest_hash = None;
        }
    }

    fn remove(&mut self, kind: &'static str, id: &str) {
        self.set_included(kind, id, false);
        let Some(entry) = self
            .kinds
            .get_mut(kind)
            .expect("known kind")
            .entries
            .remove(id)
        else {
            return;
        };
        match kind {
            "routes" => remove_link(&mut self.routes_by_service, &entry.links.service, id),
            "plugins" => {
                remove_link(&mut self.plugins_by_service, &entry.links.service, id);
                remove_link(&mut self.plugins_by_route, &entry.links.route, id);
            }
            _ => {}
        }
    }

    fn insert(&mut self, kind: &'static str, id: &str, body_hash: u64, value: Value, links: Links) {
        match kind {
            "routes" => add_link(&mut self.routes_by_service, &links.service, id),
            "plugins" => {
                add_link(&mut self.plugins_by_service, &links.service, id);
                add_link(&mut self.plugins_by_route, &links.route, id);
            }
            _ => {}
        }
        let mut sorted = Unfolded::default();
        serialize(&value, &mut sorted);
        let entry = Entry {
            body_hash,
            json: serde_json::to_vec(&value).expect("JSON encodes").into(),
            sorted: sorted.0.into(),
            links,
            included: false,
        };
        self.kinds
            .get_mut(kind)
            .expect("known kind")
            .entries
            .insert(id.to_string(), entry);
    }

    /// The fixed rows every config carries (Kong's CP always exports `parameters`).
    fn fixed(&self) -> [(&'static str, Value); 3] {
        [
            ("_format_version", json!("3.0")),
            ("_transform", json!(false)),
            (
                "parameters",
                json!([{"key": "cluster_id", "value": self.control_plane.to_string()}]),
            ),
        ]
    }

    pub fn hashes(&mut self) -> ConfigHashes {
        let [routes, services, plugins, upstreams, targets] =
            GROUPS.map(|group| self.kinds.get_mut(group).expect("group").group_hash());
        let rest = match &self.rest_hash {
            Some(rest) => rest.clone(),
            None => {
                let rest = self.rest_group_hash();
                self.rest_hash = Some(rest.clone());
                rest
            }
        };
        ConfigHashes {
            config: combine([&routes, &services, &plugins, &upstreams, &targets], &rest),
            routes,
            services,
            plugins,
            upstreams,
            targets,
        }
    }

    /// Kong's hash of the table without the five groups: an object, keys in byte order.
    fn rest_group_hash(&self) -> String {
        let fixed = self.fixed();
        let mut keys: Vec<&str> = fixed.iter().map(|(k, _)| *k).collect();
        keys.extend(
            KINDS
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !GROUPS.contains(k) && self.kinds[k].included > 0),
        );
        keys.sort_unstable();
        let mut sink = Md5Sink::default();
        // The object's own check happens on an empty buffer: nothing to fold.
        for key in keys {
            sink.put(key.as_bytes());
            sink.put(b":");
            if let Some((_, value)) = fixed.iter().find(|(k, _)| *k == key) {
                serialize(value, &mut sink);
            } else {
                let kind = &self.kinds[key];
                serialize_cached(kind.included, kind.hash_items(), &mut sink);
            }
            sink.put(b";");
        }
        sink.hex()
    }

    /// The `reconfigure` frame as it stands, re-deflating only the chunks that changed.
    pub fn encode(&mut self, now: Timestamp) -> Encoded {
        let hashes = self.hashes();
        // The message's and the table's key order, as serde_json writes them.
        const HOLE: &str = "\u{0}config_table\u{0}";
        let message = json!({
            "type": "reconfigure",
            "timestamp": now.seconds_f64(),
            "config_table": HOLE,
            "config_hash": hashes.config,
            "hashes": hashes.to_json(),
        });
        let message = serde_json::to_string(&message).expect("JSON encodes");
        let hole = serde_json::to_string(HOLE).expect("JSON encodes");
        let (before, after) = message.split_once(&hole).expect("the hole is there");

        let fixed = self.fixed();
        let mut table = Map::new();
        for (key, value) in &fixed {
            table.insert(key.to_string(), value.clone());
        }
        for (kind, _) in KINDS {
            if self.kinds[kind].included > 0 {
                table.insert(kind.to_string(), Value::Null);
            }
        }

        let mut segments: Vec<Segment> = Vec::new();
        // Segments are built first (they need `&mut self`), then referenced in order.
        enum Part {
            Glue(usize),
            Chunk(&'static str, String),
        }
        let mut parts = Vec::new();
        let mut glue = String::from(before);
        let flush_glue = |glue: &mut String, segments: &mut Vec<Segment>, parts: &mut Vec<Part>| {
            if !glue.is_empty() {
                segments.push(segment(GLUE_LEVEL, glue.as_bytes()));
                parts.push(Part::Glue(segments.len() - 1));
                glue.clear();
            }
        };
        for (i, key) in table.keys().enumerate() {
            glue.push(if i == 0 { '{' } else { ',' });
            glue.push_str(&serde_json::to_string(key).expect("JSON encodes"));
            glue.push(':');
            if let Some((_, value)) = fixed.iter().find(|(k, _)| *k == key.as_str()) {
                glue.push_str(&serde_json::to_string(value).expect("JSON encodes"));
                continue;
            }
            let (kind, _) = KINDS
                .iter()
                .find(|(k, _)| *k == key.as_str())
                .expect("a kind");
            glue.push('[');
            flush_glue(&mut glue, &mut segments, &mut parts);
            let state = self.kinds.get_mut(kind).expect("kind");
            state.rechunk();
            let prefixes: Vec<String> = state.chunks.keys().cloned().collect();
            for (n, prefix) in prefixes.into_iter().enumerate() {
                let leading = n > 0;
                let chunk = &state.chunks[&prefix];
                if chunk.encoded.as_ref().is_none_or(|(l, _)| *l != leading) {
                    let mut text = Vec::new();
                    let range = state
                        .entries
                        .range(prefix.clone()..)
                        .take_while(|(id, _)| id.starts_with(prefix.as_str()))
                        .filter(|(_, e)| e.included);
                    for (j, (_, entry)) in range.enumerate() {
                        if leading || j > 0 {
                            text.push(b',');
                        }
                        text.extend_from_slice(&entry.json);
                    }
                    state.chunks.get_mut(&prefix).expect("chunk").encoded =
                        Some((leading, segment(SEGMENT_LEVEL, &text)));
                }
                parts.push(Part::Chunk(kind, prefix));
            }
            glue.push(']');
        }
        glue.push('}');
        glue.push_str(after);
        flush_glue(&mut glue, &mut segments, &mut parts);

        let payload = gzip(parts.iter().map(|part| {
            match part {
                Part::Glue(i) => &segments[*i],
                Part::Chunk(kind, prefix) => {
                    &self.kinds[kind].chunks[prefix]
                        .encoded
                        .as_ref()
                        .expect("encoded above")
                        .1
                }
            }
        }));
        Encoded {
            hashes,
            payload,
            plugins: self.plugin_names.keys().cloned().collect(),
        }
    }

    /// Heap held for this control plane: cached JSON, hash inputs, compressed chunks and
    /// ids, with a per-entry allowance for the maps' nodes and indexes.
    pub fn heap_bytes(&self) -> usize {
        const PER_ENTRY: usize = 160;
        let mut total = 0;
        for state in self.kinds.values() {
            for (id, entry) in &state.entries {
                total += id.len() * 3 + entry.json.len() + entry.sorted.len() + PER_ENTRY;
            }
            for chunk in state.chunks.values() {
                total += chunk.encoded.as_ref().map_or(0, |(_, s)| s.heap_bytes()) + 64;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests;
