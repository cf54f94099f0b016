//! What processing fills: auto values (ids, random strings, timestamps), Kong's
//! `adjust_field_for_context` (records and collections walked) and `handle_missing_field`
//! (defaults).

use serde_json::{Map, Value};

use super::lua_values::{as_record, lua_eq};
use super::process::fills_from_empty;
use super::{Context, Engine};
use crate::schema::definition::{Field, FieldType, Schema};
use crate::schema::errors::Errors;

impl Engine<'_> {
    pub(super) fn auto_value(
        &self,
        key: &str,
        field: &Field,
        value: Option<Value>,
        context: Context,
    ) -> Option<Value> {
        let creating = context != Context::Update;
        if field.uuid {
            if creating && value.is_none() {
                return Some(Value::String(uuid::Uuid::new_v4().to_string()));
            }
            return value;
        }
        if field.kind == FieldType::String {
            if creating && value.is_none() {
                return Some(Value::String(random_string()));
            }
            return value;
        }
        let stamp = (key == "created_at" && creating && value.as_ref().is_none_or(Value::is_null))
            || key == "updated_at";
        if !stamp {
            return value;
        }
        match field.kind {
            FieldType::Integer => Some(Value::from(self.now_seconds.floor() as i64)),
            FieldType::Number => {
                serde_json::Number::from_f64((self.now_seconds * 1000.0).floor() / 1000.0)
                    .map(Value::Number)
            }
            _ => value,
        }
    }

    /// Kong's `adjust_field_for_context`: recurse into records and collections, fill
    /// what is missing. `None` means the key stays absent.
    pub(super) fn adjust(
        &mut self,
        field: &Field,
        value: Option<Value>,
        context: Context,
    ) -> Result<Option<Value>, Errors> {
        if field.abstract_ {
            return Ok(value);
        }
        let mut value = value;
        if field.kind == FieldType::Record {
            let recurse = match context {
                Context::Update => value.as_ref().is_some_and(|v| !v.is_null()),
                _ => {
                    !matches!(value, Some(Value::Null)) && (value.is_some() || field.is_required())
                }
            };
            if recurse {
                // Kong's `value = value or handle_missing_field(field, value)`: `false`
                // is Lua-falsy, so a record given `false` is filled as a missing one.
                let v = match value {
                    Some(v) if v != Value::Bool(false) => Some(v),
                    _ => self.missing(field)?,
                };
                if v.as_ref().and_then(as_record).is_some() {
                    let sub = field.record.as_deref().unwrap_or(Schema::empty());
                    return self
                        .process_owned(sub, v.unwrap_or_default(), context)
                        .map(Some);
                }
                value = v;
            }
        } else if let Some(v) = value.take() {
            value = Some(self.adjust_collection(field, v, context)?);
        }
        if value.is_none() && context != Context::Update {
            return self.missing(field);
        }
        Ok(value)
    }

    fn adjust_collection(
        &mut self,
        field: &Field,
        value: Value,
        context: Context,
    ) -> Result<Value, Errors> {
        let sub = match field.kind {
            FieldType::Array | FieldType::Set => field.elements.as_deref(),
            FieldType::Map => field.values.as_deref(),
            _ => None,
        };
        Ok(match (value, sub) {
            // Kong's `make_array` / `make_set` give an empty sequence (JSON `{}` decodes
            // to one) the array metatable, so it is stored and returned as `[]`.
            (Value::Object(map), _)
                if map.is_empty() && matches!(field.kind, FieldType::Array | FieldType::Set) =>
            {
                Value::Array(Vec::new())
            }
            // Adjusted in place: the request's own vectors and maps are kept. Scalar items
            // and values have nothing to fill (see `adjust`).
            (Value::Array(mut items), Some(sub)) => {
                if field.kind == FieldType::Set {
                    dedupe(&mut items);
                }
                if sub.is_scalar() {
                    return Ok(Value::Array(items));
                }
                for item in &mut items {
                    let taken = std::mem::take(item);
                    *item = self
                        .adjust(sub, Some(taken), context)?
                        .unwrap_or(Value::Null);
                }
                Value::Array(items)
            }
            (Value::Object(mut map), Some(sub)) if field.kind == FieldType::Map => {
                if sub.is_scalar() {
                    return Ok(Value::Object(map));
                }
                for value in map.values_mut() {
                    let taken = std::mem::take(value);
                    *value = self
                        .adjust(sub, Some(taken), context)?
                        .unwrap_or(Value::Null);
                }
                Value::Object(map)
            }
            (other, _) => other,
        })
    }

    /// Kong's `handle_missing_field`.
    pub(super) fn missing(&mut self, field: &Field) -> Result<Option<Value>, Errors> {
        if let Some(default) = &field.default {
            return Ok(Some(default.clone()));
        }
        if !field.is_required() {
            return Ok(Some(Value::Null));
        }
        if fills_from_empty(field) {
            let sub = field.record.as_deref().unwrap_or(Schema::empty());
            return self
                .process_owned(sub, Value::Object(Map::new()), Context::Insert)
                .map(Some);
        }
        Ok(None)
    }
}

/// A set keeps the first of equal items; tables are never equal in Lua.
fn dedupe(items: &mut Vec<Value>) {
    let mut kept = 0;
    for i in 0..items.len() {
        let item = &items[i];
        let duplicate =
            !item.is_array() && !item.is_object() && items[..kept].iter().any(|o| lua_eq(o, item));
        if !duplicate {
            items.swap(kept, i);
            kept += 1;
        }
    }
    items.truncate(kept);
}

fn random_string() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| {
            char::from(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    [rng.random_range(0..62)],
            )
        })
        .collect()
}
