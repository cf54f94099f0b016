//! Kong's `Schema:merge_values`: how a partial update (PATCH) lands on the stored
//! entity. Record fields merge key by key, recursively; everything else is replaced.

use serde_json::Value;

use super::definition::{FieldType, Schema};

pub fn merge_values(schema: &Schema, top: &Value, bottom: &Value) -> Value {
    let (Value::Object(top), Value::Object(bottom)) = (top, bottom) else {
        return top.clone();
    };
    let subschema = schema
        .subschema_for(top)
        .or_else(|| schema.subschema_for(bottom));
    let mut out = bottom.clone();
    for (key, value) in top {
        let field = subschema
            .and_then(|s| s.field(key))
            .or_else(|| schema.field(key));
        let merged = match (field, bottom.get(key)) {
            (Some(f), Some(below)) if f.kind == FieldType::Record && !value.is_null() => {
                match &f.record {
                    Some(record) => merge_values(record, value, below),
                    // An abstract `config` specialized by a plugin schema: merge one level.
                    None => merge_values(Schema::empty(), value, below),
                }
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::definition::from_json;
    use serde_json::json;

    /// PATCH `{"config": {"a": 2}}` keeps the other config keys (Kong's plugin PATCH).
    #[test]
    fn records_merge_and_other_values_are_replaced() {
        let schema = Schema::parse(
            &from_json(&json!({"fields": [
                {"config": {"type": "record", "fields": [{"a": {"type": "integer"}}, {"b": {"type": "integer"}}]}},
                {"tags": {"type": "set", "elements": {"type": "string"}}},
            ]})),
            true,
        )
        .unwrap();
        let merged = merge_values(
            &schema,
            &json!({"config": {"a": 2}, "tags": ["y"]}),
            &json!({"config": {"a": 1, "b": 1}, "tags": ["x"], "id": "i"}),
        );
        assert_eq!(
            merged,
            json!({"config": {"a": 2, "b": 1}, "tags": ["y"], "id": "i"})
        );
    }
}
