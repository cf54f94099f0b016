//! Kong's JSON rendering of a schema (`kong/api/api_helpers.lua` `schema_to_jsonable`):
//! functions dropped, `ngx.null` as `null`, `fields` kept as arrays of one-key objects,
//! and records made required as `Entity` does (`make_records_required`).

use serde_json::{Map, Value, json};

use super::definition::json_number;
use super::plugin_entity::base_fields;
use super::value::SchemaValue;

/// Attributes whose value is a list, so an empty Lua table renders as `[]`.
const LIST_ATTRIBUTES: &[&str] = &[
    "fields",
    "entity_checks",
    "shorthand_fields",
    "one_of",
    "not_one_of",
    "examples",
    "between",
    "match_all",
    "match_none",
    "mutually_exclusive_subsets",
    "at_least_one_of",
    "only_one_of",
    "mutually_exclusive",
    "mutually_required",
    "distinct",
    "field_sources",
    "then_at_least_one_of",
    "else_then_at_least_one_of",
];

/// The plugin's own rendering: `{"fields": [...], "entity_checks": [...]}`.
pub fn plugin_schema_json(schema: &SchemaValue) -> Value {
    let mut out = Map::new();
    let fields = schema
        .get("fields")
        .and_then(SchemaValue::items)
        .unwrap_or_default();
    out.insert(
        "fields".into(),
        Value::Array(fields.iter().map(|f| field_entry(f, true)).collect()),
    );
    if let Some(checks) = schema.get("entity_checks") {
        out.insert("entity_checks".into(), list(checks));
    }
    if let Some(shorthands) = schema.get("shorthand_fields") {
        out.insert("shorthand_fields".into(), list(shorthands));
    }
    Value::Object(out)
}

/// `GET /schemas/plugins/{name}`: the `plugins` entity with the plugin's fields
/// specialized in, in the entity's field order (`kong/db/schema/entities/plugins.lua`).
pub fn merged_plugin_schema_json(schema: &SchemaValue) -> Value {
    let own = plugin_schema_json(schema);
    let own_fields = own["fields"].as_array().cloned().unwrap_or_default();
    let mut fields = Vec::new();
    for base in base_fields().into_iter().filter(|field| field.in_kong) {
        let name = base.name;
        let specialized = own_fields.iter().find_map(|f| f.get(name).cloned());
        let definition = match (name, specialized) {
            // The abstract base `config` is replaced, not merged.
            ("config", Some(own)) => own,
            (_, Some(Value::Object(own))) => {
                let mut merged = base.definition.as_object().cloned().unwrap_or_default();
                merged.extend(own);
                Value::Object(merged)
            }
            (_, _) => base.definition,
        };
        fields.push(json!({ name: definition }));
    }
    let mut out = Map::new();
    out.insert("fields".into(), Value::Array(fields));
    if let Some(checks) = own.get("entity_checks") {
        out.insert("entity_checks".into(), checks.clone());
    }
    Value::Object(out)
}

/// One `{name: definition}` entry of a `fields` list.
fn field_entry(entry: &SchemaValue, records_required: bool) -> Value {
    match entry.entries() {
        Some([(name, definition)]) => {
            json!({ name: field_definition(definition, records_required) })
        }
        _ => value(entry),
    }
}

fn field_definition(def: &SchemaValue, records_required: bool) -> Value {
    let Some(entries) = def.entries() else {
        return value(def);
    };
    let field_type = def.get("type").and_then(SchemaValue::as_str);
    let mut out = Map::new();
    for (key, v) in entries {
        if matches!(v, SchemaValue::Function(_)) {
            continue;
        }
        let rendered = match key.as_str() {
            // Nested records are required too; array elements and map parts are not.
            "fields" => Value::Array(
                v.items()
                    .unwrap_or_default()
                    .iter()
                    .map(|f| field_entry(f, records_required))
                    .collect(),
            ),
            "elements" | "keys" | "values" => field_definition(v, false),
            "default" if matches!(field_type, Some("array" | "set")) => list(v),
            k if LIST_ATTRIBUTES.contains(&k) => list(v),
            _ => value(v),
        };
        out.insert(key.clone(), rendered);
    }
    if records_required && field_type == Some("record") && !out.contains_key("required") {
        out.insert("required".into(), Value::Bool(true));
    }
    Value::Object(out)
}

/// A list-valued attribute: an empty table is `[]`.
fn list(v: &SchemaValue) -> Value {
    match v {
        SchemaValue::EmptyTable => Value::Array(Vec::new()),
        other => value(other),
    }
}

/// Any other value; tables inside keep their shape, functions vanish.
pub fn value(v: &SchemaValue) -> Value {
    match v {
        SchemaValue::Null | SchemaValue::Function(_) => Value::Null,
        SchemaValue::Bool(b) => Value::Bool(*b),
        SchemaValue::Number(n) => json_number(*n),
        SchemaValue::String(s) => Value::String(s.clone()),
        SchemaValue::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| !matches!(i, SchemaValue::Function(_)))
                .map(value)
                .collect(),
        ),
        SchemaValue::Object(entries) => Value::Object(
            entries
                .iter()
                .filter(|(_, v)| !matches!(v, SchemaValue::Function(_)))
                .map(|(k, v)| {
                    let rendered = if LIST_ATTRIBUTES.contains(&k.as_str()) {
                        list(v)
                    } else {
                        value(v)
                    };
                    (k.clone(), rendered)
                })
                .collect(),
        ),
        SchemaValue::EmptyTable => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_numbers_are_integers() {
        assert_eq!(json_number(10.0), json!(10));
        assert_eq!(json_number(0.5), json!(0.5));
    }
}
