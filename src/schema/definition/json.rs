//! Definition values as JSON and back, as cjson would print and read them.

use serde_json::{Map, Number, Value};

use super::FieldType;
use crate::schema::value::SchemaValue;

/// A definition value as JSON: `ngx.null` is `null`, integral numbers are integers, an
/// empty table is `[]` where the field is a list and `{}` otherwise.
pub fn to_json(v: &SchemaValue, kind: Option<FieldType>) -> Value {
    match v {
        SchemaValue::Null | SchemaValue::Function(_) => Value::Null,
        SchemaValue::Bool(b) => Value::Bool(*b),
        SchemaValue::Number(n) => json_number(*n),
        SchemaValue::String(s) => Value::String(s.clone()),
        SchemaValue::Array(items) => Value::Array(items.iter().map(|i| to_json(i, None)).collect()),
        SchemaValue::Object(entries) => Value::Object(
            entries
                .iter()
                .filter(|(_, v)| !matches!(v, SchemaValue::Function(_)))
                .map(|(k, v)| (k.clone(), to_json(v, None)))
                .collect(),
        ),
        SchemaValue::EmptyTable => match kind {
            Some(FieldType::Array | FieldType::Set) => Value::Array(Vec::new()),
            _ => Value::Object(Map::new()),
        },
    }
}

/// Integral numbers as JSON integers, as cjson prints them.
pub fn json_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// A JSON value as a [`SchemaValue`], for definitions konnektd writes as JSON.
pub fn from_json(v: &Value) -> SchemaValue {
    match v {
        Value::Null => SchemaValue::Null,
        Value::Bool(b) => SchemaValue::Bool(*b),
        Value::Number(n) => SchemaValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => SchemaValue::String(s.clone()),
        Value::Array(items) if items.is_empty() => SchemaValue::EmptyTable,
        Value::Array(items) => SchemaValue::Array(items.iter().map(from_json).collect()),
        Value::Object(map) if map.is_empty() => SchemaValue::EmptyTable,
        Value::Object(map) => {
            SchemaValue::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}
