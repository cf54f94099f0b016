//! An entity as validation leaves it. Filling defaults into the request's own object
//! would cost a B-tree insert per key (serde_json's maps), more than validating the key,
//! so what validation adds is kept beside the object, sorted, and the two are merged only
//! when the entity is written out or turned into a plain `Value`.

use std::cmp::Ordering;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub enum Filled {
    Value(Value),
    /// Boxed, so that an entry of `added` is no bigger than a `(String, Value)`.
    Record(Box<Record>),
}

/// A record: the object as given, and what validation added to it, sorted by key. A key
/// of `added` that is also in `given` is a nested record that was filled in `added`, its
/// place in `given` left null; `added` wins.
#[derive(Debug, Clone)]
pub struct Record {
    given: Map<String, Value>,
    /// Sorted (see `Filled::record`), which the merge and `get` rely on.
    added: Vec<(String, Filled)>,
}

impl Filled {
    pub fn record(given: Map<String, Value>, added: Vec<(String, Filled)>) -> Filled {
        debug_assert!(
            added.is_sorted_by(|a, b| a.0 < b.0),
            "added keys are sorted"
        );
        Filled::Record(Box::new(Record { given, added }))
    }

    /// The top-level field `key`. A nested record that validation filled has no plain
    /// `Value` to lend, so it answers `None`: read records after [`Filled::into_value`].
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Filled::Value(value) => value.get(key),
            Filled::Record(record) => {
                match record.added.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                    Ok(i) => match &record.added[i].1 {
                        Filled::Value(value) => Some(value),
                        Filled::Record(_) => None,
                    },
                    Err(_) => record.given.get(key),
                }
            }
        }
    }

    /// The same entity as one JSON tree.
    pub fn into_value(self) -> Value {
        let Record { mut given, added } = match self {
            Filled::Value(value) => return value,
            Filled::Record(record) => *record,
        };
        if added.len() > given.len() {
            // Mostly added (an entity's base fields, a record given few keys): building
            // the tree anew from sorted runs costs less than an insert per key. Of equal
            // keys the later, added one is kept.
            let mut entries = Vec::with_capacity(given.len() + added.len());
            entries.extend(given);
            entries.extend(added.into_iter().map(|(k, v)| (k, v.into_value())));
            return Value::Object(entries.into_iter().collect());
        }
        for (key, value) in added {
            given.insert(key, value.into_value());
        }
        Value::Object(given)
    }

    /// Drops the null fields of a record (not those of records inside it).
    pub fn drop_nulls(&mut self) {
        match self {
            Filled::Value(Value::Object(map)) => map.retain(|_, v| !v.is_null()),
            Filled::Value(_) => {}
            Filled::Record(record) => {
                // A filled record's null placeholder in `given` goes too; it stays in `added`.
                record.given.retain(|_, v| !v.is_null());
                record
                    .added
                    .retain(|(_, v)| !matches!(v, Filled::Value(Value::Null)));
            }
        }
    }
}

impl Filled {
    /// Drops the null fields of a record and of every record inside it, but not inside
    /// its top-level fields named in `whole` (kept as given, nulls and all).
    pub fn drop_nulls_deep(&mut self, whole: &[&str]) {
        self.drop_nulls();
        match self {
            Filled::Value(Value::Object(map)) => {
                for (key, value) in map.iter_mut() {
                    if !whole.contains(&key.as_str()) {
                        drop_nested_nulls(value);
                    }
                }
            }
            Filled::Value(_) => {}
            Filled::Record(record) => {
                for (key, value) in record.given.iter_mut() {
                    if !whole.contains(&key.as_str()) {
                        drop_nested_nulls(value);
                    }
                }
                for (key, filled) in record.added.iter_mut() {
                    if !whole.contains(&key.as_str()) {
                        filled.drop_nulls_deep(&[]);
                    }
                }
            }
        }
    }
}

/// Drops null fields of the objects in `value`, at any depth; array items stay.
fn drop_nested_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nested_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nested_nulls),
        _ => {}
    }
}

impl From<Value> for Filled {
    fn from(value: Value) -> Self {
        Filled::Value(value)
    }
}

impl Serialize for Filled {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Record { given, added } = match self {
            Filled::Value(value) => return value.serialize(serializer),
            Filled::Record(record) => &**record,
        };
        // Both are sorted: one merge writes the keys in order, as a `Value`'s would be,
        // with one comparison per key.
        let mut map = serializer.serialize_map(None)?;
        let mut added = added.iter();
        let mut next = added.next();
        for (key, value) in given {
            let mut replaced = false;
            while let Some((k, v)) = next {
                let order = k.as_str().cmp(key);
                if order == Ordering::Greater {
                    break;
                }
                map.serialize_entry(k, v)?;
                next = added.next();
                if order == Ordering::Equal {
                    // The nested record filled in place of the given one.
                    replaced = true;
                    break;
                }
            }
            if !replaced {
                map.serialize_entry(key, value)?;
            }
        }
        while let Some((k, v)) = next {
            map.serialize_entry(k, v)?;
            next = added.next();
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(given: Value, added: Vec<(&str, Filled)>) -> Filled {
        let Value::Object(given) = given else {
            panic!("given must be an object")
        };
        Filled::record(
            given,
            added.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )
    }

    /// An entity with a nested record filled in `added` (`b`, null in `given`), a default
    /// before, between and after the given keys, and a null default.
    fn sample() -> Filled {
        let nested = record(json!({"y": 2}), vec![("x", json!(1).into())]);
        record(
            json!({"b": null, "d": "given", "f": [1, 2]}),
            vec![
                ("a", json!("first").into()),
                ("b", nested),
                ("c", Value::Null.into()),
                ("e", json!(5).into()),
                ("g", json!({"last": true}).into()),
            ],
        )
    }

    #[test]
    fn written_out_as_the_tree_it_stands_for() {
        let expected = json!({
            "a": "first", "b": {"x": 1, "y": 2}, "c": null, "d": "given", "e": 5,
            "f": [1, 2], "g": {"last": true},
        });
        assert_eq!(sample().into_value(), expected);
        assert_eq!(
            serde_json::to_string(&sample()).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn a_mostly_added_record_is_the_same_tree() {
        let filled = record(
            json!({"m": 1, "n": null}),
            vec![
                ("a", json!(0).into()),
                ("n", record(json!({}), vec![("z", json!(true).into())])),
                ("z", json!(2).into()),
            ],
        );
        let expected = json!({"a": 0, "m": 1, "n": {"z": true}, "z": 2});
        assert_eq!(
            serde_json::to_string(&filled).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        assert_eq!(filled.into_value(), expected);
    }

    /// The merge relies on it: serde_json's `preserve_order` feature would make a map
    /// iterate in insertion order and write keys out of order, or twice.
    #[test]
    fn a_json_map_iterates_in_key_order() {
        let mut map = Map::new();
        for key in ["b", "c", "a"] {
            map.insert(key.to_string(), Value::Null);
        }
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn get_reads_given_and_added_fields_but_not_a_filled_record() {
        let filled = sample();
        assert_eq!(filled.get("a"), Some(&json!("first")));
        assert_eq!(filled.get("d"), Some(&json!("given")));
        assert_eq!(filled.get("c"), Some(&Value::Null));
        assert_eq!(filled.get("b"), None);
        assert_eq!(filled.get("missing"), None);
        assert_eq!(Filled::from(json!({"k": 1})).get("k"), Some(&json!(1)));
    }

    #[test]
    fn drop_nulls_keeps_filled_records_and_nested_nulls() {
        let mut filled = sample();
        filled.drop_nulls();
        assert_eq!(
            filled.into_value(),
            json!({"a": "first", "b": {"x": 1, "y": 2}, "d": "given", "e": 5, "f": [1, 2], "g": {"last": true}})
        );
        let mut plain = Filled::from(json!({"k": null, "r": {"n": null}}));
        plain.drop_nulls();
        assert_eq!(plain.into_value(), json!({"r": {"n": null}}));
    }

    #[test]
    fn drop_nulls_deep_reaches_nested_records_but_not_the_fields_kept_whole() {
        let body = json!({"k": null, "ordering": {"after": null, "before": null}, "s": [{"ip": "a", "port": null}, null], "config": {"c": null, "r": {"n": null}}});
        let mut plain = Filled::from(body.clone());
        plain.drop_nulls_deep(&["config"]);
        let expected = json!({"ordering": {}, "s": [{"ip": "a"}, null], "config": {"c": null, "r": {"n": null}}});
        assert_eq!(plain.into_value(), expected);
        let Value::Object(given) = body else {
            unreachable!()
        };
        let mut filled = Filled::record(
            given,
            vec![("z".into(), Filled::from(json!({"m": null, "o": 1})))],
        );
        filled.drop_nulls_deep(&["config"]);
        let mut expected = expected;
        expected["z"] = json!({"o": 1});
        assert_eq!(filled.into_value(), expected);
    }
}
