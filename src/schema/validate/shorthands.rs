//! Kong's shorthand fields: each is validated, removed, and its function's result
//! merged into the record before anything else is processed.

use serde_json::{Map, Value};

use super::Engine;
use crate::schema::definition::Schema;
use crate::schema::errors::{ErrorTree, Errors};

impl Engine<'_> {
    pub(super) fn apply_shorthands(
        &mut self,
        schema: &Schema,
        data: &mut Map<String, Value>,
    ) -> Result<(), Errors> {
        let mut errors = Errors::new();
        for shorthand in &schema.shorthands {
            let Some(value) = data.get(&shorthand.name).cloned() else {
                continue;
            };
            // Validated as processing does, before any record is filled.
            let processed = std::mem::replace(&mut self.processed, false);
            let outcome = self.validate_field(&shorthand.field, &value);
            self.processed = processed;
            if let Err(e) = outcome {
                errors.insert(shorthand.name.as_str().into(), e);
                continue;
            }
            data.remove(&shorthand.name);
            let Some(func) = shorthand.func else {
                continue;
            };
            let new_values = match self.functions.call(func, &value) {
                Ok([Some(Value::Object(map)), _]) => map,
                Ok(_) => continue,
                Err(message) => {
                    errors.insert(shorthand.name.as_str().into(), ErrorTree::Message(message));
                    continue;
                }
            };
            for (k, v) in new_values {
                let existing = data.get(&k).filter(|e| !e.is_null()).cloned();
                if v.is_object() || v.is_array() {
                    let merged = match (existing, shorthand.deprecated) {
                        // A deprecated shorthand never overrides what the new field says.
                        // Kong: `null_aware_table_merge(v, source)`: a null in the
                        // current value does not erase what the shorthand set.
                        (Some(current), true) if current.is_object() => {
                            null_aware_merge(v, current)
                        }
                        (Some(current), false) => merge_tables(current, v),
                        _ => v,
                    };
                    data.insert(k, merged);
                } else if !shorthand.deprecated || existing.is_none() {
                    data.insert(k, v);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Kong's `table_merge`: `b`'s keys over `a`'s, one level.
fn merge_tables(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                a.insert(k, v);
            }
            Value::Object(a)
        }
        (_, b) => b,
    }
}

/// Kong's `null_aware_table_merge`: `b`'s keys over `a`'s, except that a null in `b`
/// does not replace a key `a` has.
fn null_aware_merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                if !v.is_null() || !a.contains_key(&k) {
                    a.insert(k, v);
                }
            }
            Value::Object(a)
        }
        (a, _) => a,
    }
}
