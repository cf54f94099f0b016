//! The schema a plugin is validated against: Kong's `plugins` entity with the plugin's
//! own fields specialized in (`Entity.new_subschema`), plus the fields Konnect's Plugin
//! object adds (`consumer_group`, `ordering`, `partials`; api-contract.md §4.2).

use serde_json::{Value, json};

use super::definition::{Schema, from_json};
use super::value::SchemaValue;

/// Kong's eight protocols (`typedefs.protocol`).
pub const PROTOCOLS: [&str; 8] = [
    "grpc",
    "grpcs",
    "http",
    "https",
    "tcp",
    "tls",
    "tls_passthrough",
    "udp",
];

fn base_fields() -> Vec<(String, Value)> {
    let foreign =
        |reference: &str| json!({"type": "foreign", "reference": reference, "default": null});
    let phases = json!({"type": "record", "required": false, "fields": [
        {"access": {"type": "array", "elements": {"type": "string"}}}
    ]});
    vec![
        (
            "id".into(),
            json!({"type": "string", "uuid": true, "auto": true}),
        ),
        ("name".into(), json!({"type": "string", "required": true})),
        ("instance_name".into(), json!({"type": "string"})),
        (
            "created_at".into(),
            json!({"type": "integer", "timestamp": true, "auto": true}),
        ),
        (
            "updated_at".into(),
            json!({"type": "integer", "timestamp": true, "auto": true}),
        ),
        ("route".into(), foreign("routes")),
        ("service".into(), foreign("services")),
        ("consumer".into(), foreign("consumers")),
        ("consumer_group".into(), foreign("consumer_groups")),
        ("config".into(), json!({"type": "record", "abstract": true})),
        (
            "protocols".into(),
            json!({
                "type": "set", "required": true,
                "default": ["grpc", "grpcs", "http", "https"],
                "elements": {"type": "string", "one_of": PROTOCOLS},
            }),
        ),
        (
            "enabled".into(),
            json!({"type": "boolean", "required": true, "default": true}),
        ),
        (
            "tags".into(),
            json!({"type": "set", "elements": {"type": "string"}}),
        ),
        (
            "ordering".into(),
            json!({"type": "record", "required": false, "fields": [
                {"before": phases.clone()}, {"after": phases},
            ]}),
        ),
        (
            "partials".into(),
            json!({"type": "array", "required": false, "elements": {
                "type": "record", "fields": [
                    {"id": {"type": "string", "uuid": true}},
                    {"name": {"type": "string"}},
                    {"path": {"type": "string"}},
                ],
            }}),
        ),
    ]
}

/// The plugins entity specialized by an evaluated plugin schema: the plugin's fields
/// replace the base ones of the same name, whole, as subschema fields do in Kong.
pub fn plugin_entity_schema(plugin: &SchemaValue) -> Result<Schema, String> {
    let mut fields: Vec<(String, SchemaValue)> = base_fields()
        .into_iter()
        .map(|(name, def)| (name, from_json(&def)))
        .collect();
    for entry in plugin
        .get("fields")
        .and_then(SchemaValue::items)
        .unwrap_or_default()
    {
        if let Some([(name, def)]) = entry.entries() {
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = def.clone(),
                None => fields.push((name.clone(), def.clone())),
            }
        }
    }
    let mut entity = vec![(
        "fields".to_string(),
        SchemaValue::Array(
            fields
                .into_iter()
                .map(|(name, def)| SchemaValue::Object(vec![(name, def)]))
                .collect(),
        ),
    )];
    for key in ["entity_checks", "shorthand_fields"] {
        if let Some(v) = plugin.get(key) {
            entity.push((key.to_string(), v.clone()));
        }
    }
    Schema::parse(&SchemaValue::Object(entity), true).map_err(|e| e.to_string())
}

/// For a bundled plugin whose schema konnektd does not carry: the base fields are
/// checked, `config` is kept as given (the data plane validates it).
pub fn opaque_plugin_schema(_: &SchemaValue) -> Result<Schema, String> {
    let opaque = json!({"fields": [{"config": {"type": "json", "required": true, "default": {}}}]});
    plugin_entity_schema(&from_json(&opaque))
}
