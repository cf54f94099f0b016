//! Kong's plugin metaschema (`kong/db/schema/metaschema.lua`, `MetaSubSchema`) and the
//! subschema rules of `Entity.new_subschema`, applied to an evaluated `schema.lua`.
//! Error texts are Kong 3.10's, from `metaschema.lua` and `kong/db/schema/entity.lua`.

use super::errors::{ErrorKey, Errors, put, put_nested, schema_violation};
use super::value::SchemaValue;

/// Kong's field types (`Schema.valid_types`), in the order Kong's message lists them.
pub const FIELD_TYPES: &[&str] = &[
    "map", "record", "string", "array", "json", "number", "integer", "set", "function", "foreign",
    "boolean",
];

const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "fields",
    "entity_checks",
    "shorthand_fields",
    "transformations",
    "check",
];

/// Validators, in Kong's `validators_order`.
pub const VALIDATORS: &[&str] = &[
    "eq",
    "ne",
    "not_one_of",
    "one_of",
    "gt",
    "timestamp",
    "uuid",
    "is_regex",
    "between",
    "len_eq",
    "len_min",
    "len_max",
    "starts_with",
    "not_match",
    "match_none",
    "match",
    "match_all",
    "match_any",
    "contains",
    "custom_validator",
    "mutually_exclusive_subsets",
];

const ATTRIBUTES: &[&str] = &[
    "type",
    "required",
    "default",
    "elements",
    "keys",
    "values",
    "fields",
    "entity_checks",
    "shorthand_fields",
    "reference",
    "on_delete",
    "auto",
    "unique",
    "unique_across_ws",
    "immutable",
    "abstract",
    "referenceable",
    "encrypted",
    "description",
    "examples",
    "err",
    "deprecation",
    "json_schema",
    "transient",
    "generate_admin_api",
    "translate_backwards",
    "indexed",
];

const ENTITY_CHECKERS: &[&str] = &[
    "at_least_one_of",
    "conditional",
    "conditional_at_least_one_of",
    "custom_entity_check",
    "distinct",
    "mutually_exclusive",
    "mutually_exclusive_sets",
    "mutually_required",
    "only_one_of",
];

/// Which types may carry a validator (metaschema `attribute_types`); absent means any.
fn allowed_types(attribute: &str) -> Option<&'static [&'static str]> {
    Some(match attribute {
        "between" => &["integer", "number"],
        "len_eq" => &["array", "set", "string", "map"],
        "match" => &["string"],
        "one_of" => &["string", "number", "integer"],
        "contains" => &["array", "set"],
        "is_regex" | "uuid" => &["string"],
        "timestamp" => &["number", "integer"],
        "unique" | "unique_across_ws" => &["string", "number", "integer", "foreign"],
        "json_schema" => &["json"],
        _ => return None,
    })
}

/// The fields of Kong's `plugins` entity a plugin schema may specialize, with their types.
pub const BASE_PLUGIN_FIELDS: &[(&str, &str)] = &[
    ("id", "string"),
    ("name", "string"),
    ("instance_name", "string"),
    ("created_at", "integer"),
    ("updated_at", "integer"),
    ("route", "foreign"),
    ("service", "foreign"),
    ("consumer", "foreign"),
    ("config", "record"),
    ("protocols", "set"),
    ("enabled", "boolean"),
    ("tags", "set"),
];

/// Why an uploaded schema was refused: Kong's one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaRejected(pub String);

/// What a valid plugin schema declares that konnektd needs to know up front.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSchema {
    pub name: String,
}

/// Checks an evaluated schema as Kong's `MetaSubSchema:validate` and
/// `Entity.new_subschema` would, returning its name.
pub fn check_plugin_schema(schema: &SchemaValue) -> Result<PluginSchema, SchemaRejected> {
    let Some(entries) = schema.entries() else {
        return Err(SchemaRejected(format!(
            "invalid schema for plugin: expected a table, got {}",
            schema.lua_type()
        )));
    };
    let mut errors = Errors::new();
    // Kong reports missing keys through its entity check, hence the odd wording.
    for key in ["name", "fields"] {
        if schema.get(key).is_none() {
            put(&mut errors, key, "field required for entity check");
        }
    }
    for (key, value) in entries {
        match key.as_str() {
            "name" if value.as_str().is_none() => put(&mut errors, "name", "expected a string"),
            "fields" => {
                let mut top = Errors::new();
                check_fields(value, "fields", &mut errors, &mut top);
                errors.extend(top);
            }
            "entity_checks" => check_entity_checks(value, "entity_checks", &mut errors),
            "shorthand_fields" => check_shorthands(value, &mut errors),
            "check" if !matches!(value, SchemaValue::Function(_)) => {
                put(&mut errors, "check", "expected a function")
            }
            "transformations" if value.items().is_none() => {
                put(&mut errors, "transformations", "expected an array")
            }
            other if !TOP_LEVEL_KEYS.contains(&other) => put(&mut errors, other, "unknown field"),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(SchemaRejected(schema_violation(&errors, "fields")));
    }
    let name = schema
        .get("name")
        .and_then(SchemaValue::as_str)
        .unwrap_or_default()
        .to_string();
    check_specialization(&name, schema)?;
    Ok(PluginSchema { name })
}

/// `Entity.new_subschema`: a plugin may only specialize the `plugins` entity's fields,
/// keeping their types.
fn check_specialization(name: &str, schema: &SchemaValue) -> Result<(), SchemaRejected> {
    let fields = schema
        .get("fields")
        .and_then(SchemaValue::items)
        .unwrap_or_default();
    for entry in fields {
        let Some([(field, definition)]) = entry.entries() else {
            continue;
        };
        let problem = match BASE_PLUGIN_FIELDS.iter().find(|(f, _)| f == field) {
            None => Some("cannot create a new field"),
            Some((_, base_type)) => {
                let declared = definition.get("type").and_then(SchemaValue::as_str);
                (declared != Some(*base_type))
                    .then_some("cannot change type in a specialized field")
            }
        };
        if let Some(problem) = problem {
            return Err(SchemaRejected(format!(
                "error in definition of '{name}': {field}: {problem}"
            )));
        }
    }
    Ok(())
}

/// A `fields` array: each item a one-key table naming a field definition. `top` collects
/// the errors Kong reports at the top level whatever the nesting.
///
/// A definition's errors are keyed by the field's name, where Kong's metaschema keys them
/// by the item's index: the message then names the path (`config.timeout.type`). A name
/// given twice keeps the index for its second definition, so no error hides another.
fn check_fields(value: &SchemaValue, key: &str, errors: &mut Errors, top: &mut Errors) {
    let Some(items) = value.items() else {
        put(errors, key, "expected an array");
        return;
    };
    let mut nested = Errors::new();
    for (i, item) in items.iter().enumerate() {
        let index = i + 1;
        match item.entries() {
            Some([(name, definition)]) => {
                let mut field_errors = Errors::new();
                check_field(name, definition, &mut field_errors, top);
                let named = ErrorKey::from(name.as_str());
                match nested.contains_key(&named) {
                    false => put_nested(&mut nested, named, field_errors),
                    true => put_nested(&mut nested, index, field_errors),
                }
            }
            Some(_) if item.is_table() => put(&mut nested, index, "length must be 1"),
            _ => put(&mut nested, index, format!("'{item}' must be a table")),
        }
    }
    put_nested(errors, key, nested);
}

/// One field definition. Attribute errors go into `errors`; the metaschema's own
/// cross-attribute checks report at the bare field name in `top`, as Kong does.
fn check_field(name: &str, def: &SchemaValue, errors: &mut Errors, top: &mut Errors) {
    let Some(entries) = def.entries() else {
        put(errors, "@entity", "expected a table");
        return;
    };
    let field_type = def.get("type").and_then(SchemaValue::as_str);
    match def.get("type") {
        None => put(errors, "type", "required field missing"),
        Some(SchemaValue::String(t)) if FIELD_TYPES.contains(&t.as_str()) => {}
        Some(_) => put(
            errors,
            "type",
            format!("expected one of: {}", FIELD_TYPES.join(", ")),
        ),
    }
    for (attribute, value) in entries {
        if !ATTRIBUTES.contains(&attribute.as_str()) && !VALIDATORS.contains(&attribute.as_str()) {
            put(errors, attribute.as_str(), "unknown field");
            continue;
        }
        if let Some(message) = attribute_value_problem(attribute, value) {
            put(errors, attribute.as_str(), message);
        }
        if let (Some(t), Some(allowed)) = (field_type, allowed_types(attribute))
            && !allowed.contains(&t)
        {
            put(
                top,
                name,
                format!("field of type '{t}' cannot have attribute '{attribute}'"),
            );
        }
    }
    let Some(t) = field_type.filter(|t| FIELD_TYPES.contains(t)) else {
        return;
    };
    let abstract_ = def.get("abstract") == Some(&SchemaValue::Bool(true));
    let must_declare: &[&str] = match t {
        "array" | "set" => &["elements"],
        "map" => &["keys", "values"],
        "record" if !abstract_ => &["fields"],
        _ => &[],
    };
    for attribute in must_declare {
        if def.get(attribute).is_none() {
            put(
                top,
                name,
                format!("field of type '{t}' must declare '{attribute}'"),
            );
        }
    }
    for attribute in ["elements", "keys", "values"] {
        if let Some(inner) = def.get(attribute) {
            let mut inner_errors = Errors::new();
            check_field(attribute, inner, &mut inner_errors, top);
            put_nested(errors, attribute, inner_errors);
        }
    }
    if let Some(fields) = def.get("fields") {
        check_fields(fields, "fields", errors, top);
    }
    if let Some(checks) = def.get("entity_checks") {
        check_entity_checks(checks, "entity_checks", errors);
    }
    if let Some(default) = def.get("default")
        && let Some(message) = value_type_problem(t, default)
    {
        put(errors, "default", message);
    }
}

/// The type Kong's metaschema gives each attribute's value.
fn attribute_value_problem(attribute: &str, value: &SchemaValue) -> Option<String> {
    use SchemaValue as V;
    let expect = |ok: bool, what: &str| (!ok).then(|| format!("expected {what}"));
    match attribute {
        "type" | "elements" | "keys" | "values" | "fields" | "entity_checks" | "default" | "eq"
        | "ne" | "contains" => None,
        "required" | "auto" | "unique" | "unique_across_ws" | "immutable" | "abstract"
        | "referenceable" | "encrypted" | "transient" | "uuid" | "timestamp" | "is_regex"
        | "generate_admin_api" | "indexed" => expect(matches!(value, V::Bool(_)), "a boolean"),
        "description" => match value {
            V::String(s) if s.len() < 10 => Some("length must be at least 10".into()),
            V::String(s) if s.len() > 500 => Some("length must be at most 500".into()),
            V::String(_) => None,
            _ => Some("expected a string".into()),
        },
        "reference" | "err" | "match" | "not_match" | "starts_with" => {
            expect(matches!(value, V::String(_)), "a string")
        }
        "on_delete" => match value.as_str() {
            Some("restrict" | "cascade" | "null") => None,
            _ => Some("expected one of: restrict, cascade, null".into()),
        },
        "gt" => expect(matches!(value, V::Number(_)), "a number"),
        "len_eq" | "len_min" | "len_max" => expect(
            matches!(value, V::Number(n) if n.fract() == 0.0),
            "an integer",
        ),
        "between" => match value.items() {
            Some(items) if items.len() != 2 => Some("length must be 2".into()),
            Some(items) if items.iter().all(|i| matches!(i, V::Number(_))) => None,
            Some(_) => Some("expected a number".into()),
            None => Some("expected an array".into()),
        },
        "one_of"
        | "not_one_of"
        | "examples"
        | "match_all"
        | "match_none"
        | "shorthand_fields"
        | "mutually_exclusive_subsets" => expect(value.items().is_some(), "an array"),
        "match_any" | "deprecation" | "json_schema" => {
            expect(value.entries().is_some(), "a record")
        }
        "custom_validator" | "translate_backwards" => expect(
            matches!(value, V::Function(_)) || attribute == "translate_backwards",
            "a function",
        ),
        _ => None,
    }
}

/// Whether `value` can be a value of a field of type `t` (for `default`).
fn value_type_problem(t: &str, value: &SchemaValue) -> Option<String> {
    use SchemaValue as V;
    let ok = match (t, value) {
        (_, V::Null) => true,
        ("string", V::String(_)) => true,
        ("number", V::Number(_)) => true,
        ("integer", V::Number(n)) => n.fract() == 0.0,
        ("boolean", V::Bool(_)) => true,
        ("array" | "set", v) => v.items().is_some(),
        ("map" | "record" | "json", v) => v.entries().is_some() || v.items().is_some(),
        ("foreign", v) => v.is_table(),
        ("function", V::Function(_)) => true,
        _ => false,
    };
    if ok {
        return None;
    }
    let article = match t {
        "integer" | "array" => "an",
        _ => "a",
    };
    Some(format!("expected {article} {t}"))
}

fn check_entity_checks(value: &SchemaValue, key: &str, errors: &mut Errors) {
    let Some(items) = value.items() else {
        put(errors, key, "expected an array");
        return;
    };
    let mut nested = Errors::new();
    for (i, item) in items.iter().enumerate() {
        match item.entries() {
            Some([(checker, _)]) if ENTITY_CHECKERS.contains(&checker.as_str()) => {}
            Some([(checker, _)]) => {
                let mut inner = Errors::new();
                put(&mut inner, checker.as_str(), "unknown field");
                put(
                    &mut inner,
                    "@entity",
                    format!(
                        "exactly one of these fields must be non-empty: {}",
                        ENTITY_CHECKERS
                            .iter()
                            .map(|c| format!("'{c}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                put_nested(&mut nested, i + 1, inner);
            }
            _ => put(&mut nested, i + 1, "length must be 1"),
        }
    }
    put_nested(errors, key, nested);
}

fn check_shorthands(value: &SchemaValue, errors: &mut Errors) {
    let Some(items) = value.items() else {
        put(errors, "shorthand_fields", "expected an array");
        return;
    };
    let mut nested = Errors::new();
    for (i, item) in items.iter().enumerate() {
        match item.entries() {
            Some([(_, def)]) if def.get("type").is_some() && def.get("func").is_some() => {}
            Some([(_, def)]) if def.get("func").is_none() => {
                let mut inner = Errors::new();
                put(&mut inner, "func", "required field missing");
                put_nested(&mut nested, i + 1, inner);
            }
            _ => put(&mut nested, i + 1, "length must be 1"),
        }
    }
    put_nested(errors, "shorthand_fields", nested);
}

#[cfg(test)]
mod tests {
    use super::*;
    use SchemaValue as V;

    fn obj(entries: Vec<(&str, SchemaValue)>) -> SchemaValue {
        let mut e: Vec<(String, SchemaValue)> = entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        e.sort_by(|a, b| a.0.cmp(&b.0));
        V::Object(e)
    }
    fn s(x: &str) -> SchemaValue {
        V::String(x.into())
    }
    fn plugin(fields: Vec<SchemaValue>) -> SchemaValue {
        obj(vec![("name", s("p")), ("fields", V::Array(fields))])
    }
    fn config(fields: Vec<SchemaValue>) -> SchemaValue {
        obj(vec![(
            "config",
            obj(vec![("type", s("record")), ("fields", V::Array(fields))]),
        )])
    }
    fn field(name: &str, def: Vec<(&str, SchemaValue)>) -> SchemaValue {
        obj(vec![(name, obj(def))])
    }
    fn rejected(schema: &SchemaValue) -> String {
        check_plugin_schema(schema).unwrap_err().0
    }

    #[test]
    fn an_empty_schema_misses_name_and_fields() {
        assert_eq!(
            rejected(&V::EmptyTable),
            "2 schema violations (fields: field required for entity check; name: field required for entity check)"
        );
        assert_eq!(
            rejected(&obj(vec![("fields", V::EmptyTable)])),
            "schema violation (name: field required for entity check)"
        );
    }

    #[test]
    fn a_valid_schema_yields_its_name() {
        let schema = plugin(vec![config(vec![field("a", vec![("type", s("string"))])])]);
        assert_eq!(check_plugin_schema(&schema).unwrap().name, "p");
    }

    #[test]
    fn attribute_and_type_mismatches_report_at_the_bare_field_name() {
        let schema = plugin(vec![config(vec![field(
            "a",
            vec![
                ("type", s("string")),
                ("between", V::Array(vec![V::Number(1.0), V::Number(2.0)])),
            ],
        )])]);
        assert_eq!(
            rejected(&schema),
            "schema violation (a: field of type 'string' cannot have attribute 'between')"
        );
        let schema = plugin(vec![config(vec![field("a", vec![("type", s("array"))])])]);
        assert_eq!(
            rejected(&schema),
            "schema violation (a: field of type 'array' must declare 'elements')"
        );
    }

    #[test]
    fn unknown_attributes_and_bad_values_are_named_by_their_field_path() {
        let schema = plugin(vec![config(vec![field(
            "a",
            vec![
                ("type", s("string")),
                ("legacy", V::Bool(true)),
                ("description", s("short")),
            ],
        )])]);
        assert_eq!(
            rejected(&schema),
            "2 schema violations (config.a.description: length must be at least 10; config.a.legacy: unknown field)"
        );
    }

    /// Kong's metaschema declares `type = { type = "string", one_of =
    /// tablex.keys(Schema.valid_types), required = true }` (`kong/db/schema/metaschema.lua`)
    /// and `one_of` fails with `validation_errors.ONE_OF`, `"expected one of: %s"`
    /// (`kong/db/schema/init.lua`). Kong prints it inside a penlight table dump under
    /// `fields.1`; konnektd names the field.
    #[test]
    fn a_type_typo_names_the_field_path_with_kongs_one_of_message() {
        let schema = plugin(vec![config(vec![
            field("greeting", vec![("type", s("string"))]),
            field("connection_timeout_ms", vec![("type", s("interger"))]),
        ])]);
        assert_eq!(
            rejected(&schema),
            format!(
                "schema violation (config.connection_timeout_ms.type: expected one of: {})",
                FIELD_TYPES.join(", ")
            )
        );
    }

    #[test]
    fn a_typo_in_a_nested_record_names_every_level() {
        let nested = field(
            "nested",
            vec![
                ("type", s("record")),
                (
                    "fields",
                    V::Array(vec![field("field", vec![("type", s("strnig"))])]),
                ),
            ],
        );
        let tags = field(
            "tags",
            vec![
                ("type", s("array")),
                ("elements", obj(vec![("type", s("str"))])),
            ],
        );
        let message = rejected(&plugin(vec![config(vec![nested, tags])]));
        assert_eq!(
            message,
            format!(
                "2 schema violations (config.nested.field.type: expected one of: {types}; config.tags.elements.type: expected one of: {types})",
                types = FIELD_TYPES.join(", ")
            )
        );
    }

    #[test]
    fn several_errors_are_listed_by_path_in_sorted_order() {
        let schema = obj(vec![
            ("name", s("p")),
            (
                "fields",
                V::Array(vec![config(vec![
                    field("z", vec![("type", s("nubmer"))]),
                    field("b", vec![]),
                    field("a", vec![("type", s("string")), ("between", V::Bool(true))]),
                    V::Number(5.0),
                    field("b", vec![("type", s("intger"))]),
                    obj(vec![("c", V::Bool(true))]),
                ])]),
            ),
            ("no_consumer", V::Bool(true)),
        ]);
        let types = FIELD_TYPES.join(", ");
        assert_eq!(
            rejected(&schema),
            [
                "8 schema violations (a: field of type 'string' cannot have attribute 'between'",
                "config.a.between: expected an array",
                "config.b.type: required field missing",
                "config.c: expected a table",
                "config.fields.4: '5' must be a table",
                &format!("config.fields.5.type: expected one of: {types}"),
                &format!("config.z.type: expected one of: {types}"),
                "no_consumer: unknown field)",
            ]
            .join("; ")
        );
    }

    #[test]
    fn only_base_plugin_fields_may_be_specialized() {
        let schema = plugin(vec![field("foo", vec![("type", s("string"))])]);
        assert_eq!(
            rejected(&schema),
            "error in definition of 'p': foo: cannot create a new field"
        );
        let schema = plugin(vec![field("protocols", vec![("type", s("string"))])]);
        assert_eq!(
            rejected(&schema),
            "error in definition of 'p': protocols: cannot change type in a specialized field"
        );
    }

    #[test]
    fn defaults_must_fit_their_type() {
        let schema = plugin(vec![config(vec![field(
            "a",
            vec![("type", s("string")), ("default", V::Number(5.0))],
        )])]);
        assert_eq!(
            rejected(&schema),
            "schema violation (config.a.default: expected a string)"
        );
    }

    #[test]
    fn unknown_top_level_keys_are_unknown_fields() {
        let schema = obj(vec![
            ("name", s("p")),
            ("fields", obj(vec![("config", V::EmptyTable)])),
            ("no_consumer", V::Bool(true)),
        ]);
        assert_eq!(
            rejected(&schema),
            "2 schema violations (fields: expected an array; no_consumer: unknown field)"
        );
    }
}
