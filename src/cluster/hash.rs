//! Kong's config hash (`kong/clustering/config_helper.lua` `calculate_config_hash`):
//! MD5 over a canonical serialisation, per entity group and combined. Data planes
//! trust the control plane's hash and rebuild their router, plugins and balancer only
//! when the group hash they depend on changes, so this must match Kong's byte for byte
//! (docs/clustering.md, "Hash").

use md5::{Digest, Md5};
use serde_json::Value;

use crate::schema::value::lua_number;

pub const ZERO_HASH: &str = "00000000000000000000000000000000";

/// Buffers longer than this are folded into their MD5 before the next value is added.
const FOLD_AT: usize = 1_000_000;

/// The groups the data plane hashes separately, in the order they are combined.
pub const GROUPS: [&str; 5] = ["routes", "services", "plugins", "upstreams", "targets"];

/// The config hash and the six group hashes a `reconfigure` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigHashes {
    pub config: String,
    pub routes: String,
    pub services: String,
    pub plugins: String,
    pub upstreams: String,
    pub targets: String,
}

impl ConfigHashes {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "config": self.config,
            "routes": self.routes,
            "services": self.services,
            "plugins": self.plugins,
            "upstreams": self.upstreams,
            "targets": self.targets,
        })
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Where Kong's canonical serialisation goes: a plain buffer, or a running MD5 that
/// folds exactly where Kong's buffer would (so a many-megabyte group is hashed as a
/// stream, never held whole).
pub trait Sink {
    /// Bytes since the last fold (Kong's `#o`).
    fn held(&self) -> usize;
    /// Replaces what was written with its binary MD5.
    fn fold(&mut self);
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn held(&self) -> usize {
        self.len()
    }
    fn fold(&mut self) {
        let folded = Md5::digest(&self[..]);
        self.clear();
        self.extend_from_slice(&folded);
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Kong's buffer as a stream: only its length and the MD5 of what it holds.
#[derive(Default, Clone)]
pub struct Md5Sink {
    md5: Md5,
    len: usize,
}

impl Md5Sink {
    pub fn hex(self) -> String {
        hex::encode(self.md5.finalize())
    }
}

impl Sink for Md5Sink {
    fn held(&self) -> usize {
        self.len
    }
    fn fold(&mut self) {
        let folded = self.md5.finalize_reset();
        self.md5.update(folded);
        self.len = folded.len();
    }
    fn put(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.len += bytes.len();
    }
}

/// Kong's check before each value: past a megabyte, fold.
fn check(buffer: &mut impl Sink) {
    if buffer.held() > FOLD_AT {
        buffer.fold();
    }
}

/// Kong's `to_sorted_string` of `value` appended to `buffer`.
pub fn serialize(value: &Value, buffer: &mut impl Sink) {
    check(buffer);
    match value {
        Value::Null => buffer.put(b"/null/"),
        Value::Bool(b) => buffer.put(if *b { b"true" } else { b"false" }),
        Value::Number(n) => buffer.put(lua_number(n.as_f64().unwrap_or(0.0)).as_bytes()),
        Value::String(s) => buffer.put(s.as_bytes()),
        Value::Array(items) if items.is_empty() => buffer.put(b"{}"),
        Value::Object(map) if map.is_empty() => buffer.put(b"{}"),
        Value::Array(items) => match items.len() {
            1 => serialize(&items[0], buffer),
            // Kong's unrolled fast path: separators between, no trailing one.
            2..=5 => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buffer.put(b";");
                    }
                    serialize(item, buffer);
                }
            }
            _ => {
                for item in items {
                    serialize(item, buffer);
                    buffer.put(b";");
                }
            }
        },
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for key in keys {
                buffer.put(key.as_bytes());
                buffer.put(b":");
                serialize(&map[key], buffer);
                buffer.put(b";");
            }
        }
    }
}

/// A serialisation that never folds: an item's bytes as they are, however long, for
/// [`CachedItem::sorted`]. (A folding buffer would hand back an item over `FOLD_AT`
/// already folded, which is not what its place in an array hashes to.)
#[derive(Default)]
pub struct Unfolded(pub Vec<u8>);

impl Sink for Unfolded {
    fn held(&self) -> usize {
        0
    }
    fn fold(&mut self) {}
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// One item of a non-empty array, as the incremental export caches it: its
/// serialisation from an empty buffer, never folded ([`Unfolded`]), and its JSON for
/// the rare item a fold falls in.
pub struct CachedItem<'a> {
    pub sorted: &'a [u8],
    pub json: &'a [u8],
}

/// Kong's `to_sorted_string` of a non-empty array of `count` items, from the items'
/// cached serialisations: the same bytes and the same folds as serialising the array.
pub fn serialize_cached<'a>(
    count: usize,
    items: impl IntoIterator<Item = CachedItem<'a>>,
    buffer: &mut impl Sink,
) {
    check(buffer);
    for (i, item) in items.into_iter().enumerate() {
        if (2..=5).contains(&count) && i > 0 {
            buffer.put(b";");
        }
        // Every fold check inside the item sees less than its length added: if the item
        // fits below the threshold none can fire, and its cached bytes are exact.
        if buffer.held() + item.sorted.len() <= FOLD_AT {
            buffer.put(item.sorted);
        } else {
            let value: Value = serde_json::from_slice(item.json).expect("cached JSON");
            serialize(&value, buffer);
        }
        if count > 5 {
            buffer.put(b";");
        }
    }
}

/// Kong's config hash from the five group hashes and the rest's.
pub fn combine(groups: [&str; 5], rest: &str) -> String {
    md5_hex(format!("{}{rest}", groups.concat()).as_bytes())
}

/// Kong's `hash(value)`; `None` (Lua's `nil`) is all zeros.
pub fn hash(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return ZERO_HASH.to_string();
    };
    let mut buffer = Md5Sink::default();
    serialize(value, &mut buffer);
    buffer.hex()
}

/// Kong's `calculate_config_hash` of a `config_table`.
pub fn config_hashes(config: &Value) -> ConfigHashes {
    let Value::Object(map) = config else {
        let h = hash(Some(config));
        return ConfigHashes {
            config: h,
            routes: ZERO_HASH.into(),
            services: ZERO_HASH.into(),
            plugins: ZERO_HASH.into(),
            upstreams: ZERO_HASH.into(),
            targets: ZERO_HASH.into(),
        };
    };
    let group = |name: &str| hash(map.get(name));
    let rest: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !GROUPS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let [routes, services, plugins, upstreams, targets] = GROUPS.map(group);
    let rest = hash(Some(&Value::Object(rest)));
    ConfigHashes {
        config: combine([&routes, &services, &plugins, &upstreams, &targets], &rest),
        routes,
        services,
        plugins,
        upstreams,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Kong's vectors (`spec/01-unit/19-hybrid/02-clustering_spec.lua` in Kong's repository).
    #[test]
    fn kongs_published_hash_vectors() {
        assert_eq!(hash(None), ZERO_HASH);
        assert_eq!(
            config_hashes(&Value::Null).config,
            "5bf07a8b7343015026657d1108d8206e"
        );
        assert_eq!(
            config_hashes(&json!(10)).config,
            "d3d9446802a44259755d38e6d163e820"
        );
        assert_eq!(
            config_hashes(&json!(0.9)).config,
            "a894124cc6d5c5c71afe060d5dde0762"
        );
        assert_eq!(config_hashes(&json!("hello")).config, md5_hex(b"hello"));
        assert_eq!(config_hashes(&json!(false)).config, md5_hex(b"false"));
        assert_eq!(
            config_hashes(&json!({})).config,
            "2da3c26e4dbd6dd6ea3ab60a3dd7fb3e"
        );
        let three = config_hashes(&json!({"routes": [], "services": [], "plugins": []}));
        assert_eq!(three.config, "81aac97a81ad03c0cf0b36663806488e");
        for h in [&three.routes, &three.services, &three.plugins] {
            assert_eq!(h, "99914b932bd37a50b983c5e7c90ae93b");
        }
        assert_eq!(three.upstreams, ZERO_HASH);
        assert_eq!(three.targets, ZERO_HASH);
        let two = config_hashes(&json!({"upstreams": [], "targets": []}));
        assert_eq!(two.config, "4d60dd9998ea4314039da5ca2f1db96f");
    }

    /// The serialisation rules: sorted keys, LuaJIT numbers, the array fast path.
    #[test]
    fn serialisation_follows_kongs_rules() {
        let s = |v: Value| {
            let mut b = Vec::new();
            serialize(&v, &mut b);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(s(json!({"b": 1, "a": [1.0, "x"]})), "a:1;x;b:1;");
        assert_eq!(s(json!([7])), "7");
        assert_eq!(s(json!([1, 2, 3, 4, 5])), "1;2;3;4;5");
        assert_eq!(s(json!([1, 2, 3, 4, 5, 6])), "1;2;3;4;5;6;");
        assert_eq!(
            s(json!({"n": null, "e": {}, "f": 1e15})),
            "e:{};f:1e+15;n:/null/;"
        );
    }

    /// Past a megabyte the buffer folds into its binary MD5, before each next value.
    #[test]
    fn large_buffers_fold_into_their_digest() {
        let big = "x".repeat(FOLD_AT + 1);
        let mut b = Vec::new();
        serialize(&json!([big.clone(), "tail"]), &mut b);
        let mut expected = Md5::digest(format!("{big};").as_bytes()).to_vec();
        expected.extend_from_slice(b"tail");
        assert_eq!(b, expected);
    }

    /// The stream folds where the buffer does, and cached items give the same hash as
    /// the array serialised whole, folds inside items included (items of ~300 KB put
    /// folds inside them; counts cover the 1, 2..=5 and 6+ rules).
    #[test]
    fn streamed_and_cached_serialisations_hash_as_the_buffer_does() {
        for count in [1, 2, 5, 6, 9] {
            // The second item alone is past a fold (an entity over 1 MB).
            let items: Vec<Value> = (0..count)
                .map(|i| {
                    let size = if i == 1 {
                        FOLD_AT + 100_000
                    } else {
                        290_000 + i * 7
                    };
                    json!({"id": i, "big": "y".repeat(size), "n": [i, 2]})
                })
                .collect();
            let array = Value::Array(items.clone());
            let mut buffer = Vec::new();
            serialize(&array, &mut buffer);
            let expected = md5_hex(&buffer);
            assert_eq!(hash(Some(&array)), expected, "{count}");

            let cached: Vec<(Vec<u8>, Vec<u8>)> = items
                .iter()
                .map(|item| {
                    let mut sorted = Unfolded::default();
                    serialize(item, &mut sorted);
                    (sorted.0, serde_json::to_vec(item).unwrap())
                })
                .collect();
            let mut sink = Md5Sink::default();
            serialize_cached(
                count,
                cached
                    .iter()
                    .map(|(sorted, json)| CachedItem { sorted, json }),
                &mut sink,
            );
            assert_eq!(sink.hex(), expected, "{count}");
        }
    }
}
