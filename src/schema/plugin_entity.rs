//! The schema a plugin is validated against: Kong's `plugins` entity with the plugin's
//! own fields specialized in (`Entity.new_subschema`), plus the fields Konnect's Plugin
//! object adds (`consumer_group`, `ordering`, `partials`; see "Core entities" in
//! `docs/api.md`).

use serde_json::{Value, json};

use super::definition::{Native, Schema, Validator, from_json};
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

/// One base field of the plugin entity.
pub struct BaseField {
    pub name: &'static str,
    /// As Kong writes it, typedefs expanded; descriptions and functions (the
    /// `custom_validator`s of `instance_name` and `tags`) left out.
    pub definition: Value,
    /// Whether Kong's own `plugins` entity has the field. Those are what
    /// `GET /schemas/plugins/{name}` renders (`render::merged_plugin_schema_json`); the
    /// fields Konnect's Plugin object adds are validated but not rendered.
    pub in_kong: bool,
}

/// The plugin entity's base fields, the one table validation and rendering share: Kong
/// 3.10's `kong/db/schema/entities/plugins.lua` (`typedefs.uuid`, `utf8_name`,
/// `auto_timestamp_s`, `protocols`, `tags`), with Konnect's `consumer_group`, `ordering`
/// and `partials` (the Plugin schema of Konnect's control-plane configuration API) in
/// the order validation has always had them.
pub fn base_fields() -> Vec<BaseField> {
    let kong = |name, definition| BaseField {
        name,
        definition,
        in_kong: true,
    };
    let konnect = |name, definition| BaseField {
        name,
        definition,
        in_kong: false,
    };
    let foreign = |reference: &str| json!({"type": "foreign", "reference": reference, "default": null, "on_delete": "cascade"});
    let phases = json!({"type": "record", "required": false, "fields": [
        {"access": {"type": "array", "elements": {"type": "string"}}}
    ]});
    vec![
        kong("id", json!({"type": "string", "uuid": true, "auto": true})),
        kong("name", json!({"type": "string", "required": true})),
        kong("instance_name", json!({"type": "string", "unique": true})),
        kong(
            "created_at",
            json!({"type": "integer", "timestamp": true, "auto": true}),
        ),
        kong(
            "updated_at",
            json!({"type": "integer", "timestamp": true, "auto": true}),
        ),
        kong("route", foreign("routes")),
        kong("service", foreign("services")),
        kong("consumer", foreign("consumers")),
        konnect(
            "consumer_group",
            json!({"type": "foreign", "reference": "consumer_groups", "default": null}),
        ),
        kong("config", json!({"type": "record", "abstract": true})),
        kong(
            "protocols",
            json!({
                "type": "set", "required": true,
                "default": ["grpc", "grpcs", "http", "https"],
                "elements": {"type": "string", "one_of": PROTOCOLS},
            }),
        ),
        kong(
            "enabled",
            json!({"type": "boolean", "required": true, "default": true}),
        ),
        kong(
            "tags",
            json!({"type": "set", "elements": {"type": "string", "required": true}}),
        ),
        konnect(
            "ordering",
            json!({"type": "record", "required": false, "fields": [
                {"before": phases.clone()}, {"after": phases},
            ]}),
        ),
        konnect(
            "partials",
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
        .map(|field| (field.name.to_string(), from_json(&field.definition)))
        .collect();
    let mut respecified: Vec<&str> = Vec::new();
    for entry in plugin
        .get("fields")
        .and_then(SchemaValue::items)
        .unwrap_or_default()
    {
        if let Some([(name, def)]) = entry.entries() {
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => {
                    slot.1 = def.clone();
                    respecified.push(name);
                }
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
    let mut schema =
        Schema::parse(&SchemaValue::Object(entity), true).map_err(|e| e.to_string())?;
    for (name, field) in &mut schema.fields {
        if respecified.contains(&name.as_str()) {
            continue;
        }
        // Kong's `instance_name = typedefs.utf8_name` and `tags = typedefs.tags`: their
        // `custom_validator`s, which a definition written in JSON cannot carry.
        match name.as_str() {
            "instance_name" => field.validators.push(Validator::Native(Native::Utf8Name)),
            "tags" => {
                if let Some(tag) = field.elements.as_deref_mut() {
                    tag.validators.push(Validator::Native(Native::Tag));
                }
            }
            _ => {}
        }
    }
    Ok(schema)
}

/// For a bundled plugin whose schema konnektd does not carry: the base fields are
/// checked, `config` is kept as given (the data plane validates it).
pub fn opaque_plugin_schema(_: &SchemaValue) -> Result<Schema, String> {
    let opaque = json!({"fields": [{"config": {"type": "json", "required": true, "default": {}}}]});
    plugin_entity_schema(&from_json(&opaque))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::render::merged_plugin_schema_json;

    /// Validation knows every base field; `GET /schemas/plugins/{name}` renders Kong's,
    /// in Kong's order, with the same definitions.
    #[test]
    fn validation_and_rendering_share_the_base_fields() {
        let plugin = from_json(&json!({"fields": [{"config": {"type": "record", "fields": [
            {"a": {"type": "string"}}
        ]}}]}));
        let schema = plugin_entity_schema(&plugin).unwrap();
        let validated: Vec<&str> = schema.fields.iter().map(|(n, _)| n.as_str()).collect();
        let base: Vec<&str> = base_fields().iter().map(|f| f.name).collect();
        assert_eq!(validated, base);

        let rendered = merged_plugin_schema_json(&plugin);
        let rendered: Vec<(&String, &Value)> = rendered["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_object().unwrap().iter().next().unwrap())
            .collect();
        let kong: Vec<BaseField> = base_fields().into_iter().filter(|f| f.in_kong).collect();
        assert_eq!(
            rendered.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [
                "id",
                "name",
                "instance_name",
                "created_at",
                "updated_at",
                "route",
                "service",
                "consumer",
                "config",
                "protocols",
                "enabled",
                "tags"
            ]
        );
        for ((name, definition), field) in rendered.into_iter().zip(&kong) {
            if name != "config" {
                assert_eq!(definition, &field.definition, "{name}");
            }
        }
    }
}
