//! Parsing a definition (`SchemaValue`) into [`Schema`] and [`Field`], as Kong's
//! `Schema.new` reads one: fields, shorthands, entity checks, subschemas, validators.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::json::to_json;
use super::{
    Check, CheckFlags, DefinitionError, EntityCheck, Field, FieldType, PatternRule, Schema,
    Shorthand, Validator,
};
use crate::lua_pattern::Pattern;
use crate::schema::metaschema::VALIDATORS;
use crate::schema::value::SchemaValue;

type Result<T> = std::result::Result<T, DefinitionError>;

fn problem<T>(text: impl Into<String>) -> Result<T> {
    Err(DefinitionError(text.into()))
}

impl FieldType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => FieldType::String,
            "number" => FieldType::Number,
            "integer" => FieldType::Integer,
            "boolean" => FieldType::Boolean,
            "array" => FieldType::Array,
            "set" => FieldType::Set,
            "map" => FieldType::Map,
            "record" => FieldType::Record,
            "foreign" => FieldType::Foreign,
            "function" => FieldType::Function,
            "json" => FieldType::Json,
            "any" => FieldType::Any,
            _ => return None,
        })
    }
}

impl Schema {
    /// Parses a schema level. `records_required` applies Kong's `Entity`
    /// rule: record fields without an explicit `required` become required, recursively
    /// through records (not into array elements or map values).
    pub fn parse(def: &SchemaValue, records_required: bool) -> Result<Schema> {
        Schema::parse_level(def, records_required, None)
    }

    /// One level; a subschema's `parent` is where its checks find the fields it does not
    /// redefine (Kong runs them with `subschema.fields[k] or self.fields[k]`).
    fn parse_level(
        def: &SchemaValue,
        records_required: bool,
        parent: Option<&Schema>,
    ) -> Result<Schema> {
        let mut schema = Schema::default();
        for entry in def
            .get("fields")
            .and_then(SchemaValue::items)
            .unwrap_or_default()
        {
            let Some([(name, field_def)]) = entry.entries() else {
                return problem("each entry of fields must have exactly one key");
            };
            let field = Field::parse(field_def, records_required)?;
            schema.fields.push((name.clone(), field));
        }
        // Entity checks below look fields up by name.
        schema.by_name = (0..schema.fields.len()).collect();
        schema
            .by_name
            .sort_by(|&a, &b| schema.fields[a].0.cmp(&schema.fields[b].0));
        schema.repeated_names = schema
            .by_name
            .windows(2)
            .any(|pair| schema.fields[pair[0]].0 == schema.fields[pair[1]].0);
        schema.record_fields = schema
            .fields
            .iter()
            .filter(|(_, f)| f.kind == FieldType::Record)
            .count();
        for entry in def
            .get("shorthand_fields")
            .and_then(SchemaValue::items)
            .unwrap_or_default()
        {
            let Some([(name, sdef)]) = entry.entries() else {
                return problem("each shorthand field must have exactly one key");
            };
            let func = match sdef.get("func") {
                Some(SchemaValue::Function(id)) => Some(*id),
                _ => None,
            };
            schema.shorthands.push(Shorthand {
                name: name.clone(),
                field: Field::parse(sdef, false)?,
                func,
                deprecated: sdef.get("deprecation").is_some(),
            });
        }
        for entry in def
            .get("entity_checks")
            .and_then(SchemaValue::items)
            .unwrap_or_default()
        {
            if let Some(check) = schema.parse_check(entry, parent)? {
                schema.checks.push(check);
            }
        }
        schema.subschema_key = def
            .get("subschema_key")
            .and_then(SchemaValue::as_str)
            .map(str::to_string);
        schema.subschema_error = def
            .get("subschema_error")
            .and_then(SchemaValue::as_str)
            .map(str::to_string);
        for (name, sub) in def
            .get("subschemas")
            .and_then(SchemaValue::entries)
            .unwrap_or_default()
        {
            let parsed = Schema::parse_level(sub, records_required, Some(&schema))?;
            schema.subschemas.push((name.clone(), Arc::new(parsed)));
        }
        // Nested records were parsed (and know theirs) before this level.
        schema.shorthands_anywhere = !schema.shorthands.is_empty()
            || schema.fields.iter().any(|(_, f)| f.has_shorthands())
            || schema.subschemas.iter().any(|(_, s)| s.has_shorthands());
        schema.functions = schema.fields.iter().any(|(_, f)| f.has_functions())
            || schema
                .shorthands
                .iter()
                .any(|s| s.func.is_some() || s.field.has_functions())
            || schema.subschemas.iter().any(|(_, s)| s.has_functions())
            || schema
                .checks
                .iter()
                .any(|c| matches!(c.check, EntityCheck::Custom { .. }) || c.check.has_functions());
        Ok(schema)
    }

    fn parse_check(&self, entry: &SchemaValue, parent: Option<&Schema>) -> Result<Option<Check>> {
        let inherit =
            |path: &str, overrides: Option<&SchemaValue>| self.inherit(path, overrides, parent);
        let Some([(name, arg)]) = entry.entries() else {
            return problem("each entity check must have exactly one key");
        };
        if *arg == SchemaValue::Null {
            return Ok(None);
        }
        let flags = CheckFlags {
            run_with_missing_fields: arg.get("run_with_missing_fields")
                == Some(&SchemaValue::Bool(true)),
            run_with_invalid_fields: arg.get("run_with_invalid_fields")
                == Some(&SchemaValue::Bool(true)),
        };
        let names = |v: Option<&SchemaValue>| -> Vec<String> {
            v.and_then(SchemaValue::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        };
        let text = |key: &str| {
            arg.get(key)
                .and_then(SchemaValue::as_str)
                .map(str::to_string)
        };
        let check = match name.as_str() {
            "at_least_one_of" => EntityCheck::AtLeastOneOf(names(Some(arg))),
            "only_one_of" => EntityCheck::OnlyOneOf(names(Some(arg))),
            "distinct" => EntityCheck::Distinct(names(Some(arg))),
            "mutually_required" => EntityCheck::MutuallyRequired(names(Some(arg))),
            "mutually_exclusive" => EntityCheck::MutuallyExclusive(names(Some(arg))),
            "mutually_exclusive_sets" => EntityCheck::MutuallyExclusiveSets {
                set1: names(arg.get("set1")),
                set2: names(arg.get("set2")),
            },
            "conditional" => {
                let if_field = text("if_field").unwrap_or_default();
                let then_field = text("then_field").unwrap_or_default();
                let then_match_def = arg
                    .get("then_match")
                    .cloned()
                    .unwrap_or(SchemaValue::EmptyTable);
                EntityCheck::Conditional {
                    if_match: Box::new(inherit(&if_field, arg.get("if_match"))?),
                    then_match: Box::new(inherit(&then_field, Some(&then_match_def))?),
                    then_match_required: then_match_def.get("required")
                        == Some(&SchemaValue::Bool(true)),
                    then_err: text("then_err"),
                    if_field,
                    then_field,
                }
            }
            "conditional_at_least_one_of" => {
                let if_field = text("if_field").unwrap_or_default();
                let else_match = match arg.get("else_match") {
                    Some(m) => Some(Box::new(inherit(&if_field, Some(m))?)),
                    None => None,
                };
                EntityCheck::ConditionalAtLeastOneOf {
                    if_match: Box::new(inherit(&if_field, arg.get("if_match"))?),
                    then_at_least_one_of: names(arg.get("then_at_least_one_of")),
                    then_err: text("then_err"),
                    else_match,
                    else_then_at_least_one_of: names(arg.get("else_then_at_least_one_of")),
                    else_then_err: text("else_then_err"),
                    if_field,
                }
            }
            "custom_entity_check" => match arg.get("fn") {
                Some(SchemaValue::Function(id)) => EntityCheck::Custom {
                    field_sources: names(arg.get("field_sources")),
                    func: *id,
                },
                _ => return problem("custom_entity_check needs a function fn"),
            },
            other => return problem(format!("unknown entity check '{other}'")),
        };
        Ok(Some(Check { check, flags }))
    }

    /// A match definition that falls back to the target field's own definition, as
    /// Kong's `setmetatable(arg.if_match, { __index = field })` does.
    fn inherit(
        &self,
        path: &str,
        overrides: Option<&SchemaValue>,
        parent: Option<&Schema>,
    ) -> Result<Field> {
        let mut entries: Vec<(String, SchemaValue)> = self
            .field_at(path)
            .or_else(|| parent.and_then(|p| p.field_at(path)))
            .and_then(|f| f.raw.entries())
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        for (k, v) in overrides.and_then(SchemaValue::entries).unwrap_or_default() {
            entries.retain(|(existing, _)| existing != k);
            entries.push((k.clone(), v.clone()));
        }
        if !entries.iter().any(|(k, _)| k == "type") {
            // A target we cannot resolve: validators only.
            entries.push(("type".into(), SchemaValue::String("any".into())));
        }
        Field::parse(&SchemaValue::Object(entries), false)
    }
}

impl Field {
    pub fn parse(def: &SchemaValue, records_required: bool) -> Result<Field> {
        let type_name = def
            .get("type")
            .and_then(SchemaValue::as_str)
            .unwrap_or("any");
        let Some(kind) = FieldType::parse(type_name) else {
            return problem(format!("unknown type: {type_name}"));
        };
        let flag = |key: &str| def.get(key) == Some(&SchemaValue::Bool(true));
        let mut required = match def.get("required") {
            Some(SchemaValue::Bool(b)) => Some(*b),
            _ => None,
        };
        if records_required && kind == FieldType::Record && required.is_none() {
            required = Some(true);
        }
        // Kong forces `required = true` on elements, keys and values when it validates
        // them (`validate_elements`, the map branch of `validate_field`).
        let part = |key: &str| -> Result<Option<Box<Field>>> {
            match def.get(key) {
                Some(d) if d.is_table() => {
                    let mut part = Field::parse(d, false)?;
                    part.required = Some(true);
                    Ok(Some(Box::new(part)))
                }
                _ => Ok(None),
            }
        };
        let record = if kind == FieldType::Record && def.get("fields").is_some() {
            Some(Arc::new(Schema::parse(def, records_required)?))
        } else {
            None
        };
        let mut validators = Vec::new();
        for name in VALIDATORS {
            let Some(arg) = def.get(name) else {
                if *name == "len_min" && kind == FieldType::String {
                    // Kong: "empty strings are not accepted by default".
                    validators.push(Validator::LenMin(1.0));
                }
                continue;
            };
            if let Some(v) = parse_validator(name, arg, Some(kind))? {
                validators.push(v);
            }
        }
        Ok(Field {
            kind,
            required,
            default: def.get("default").map(|d| to_json(d, Some(kind))),
            auto: flag("auto"),
            abstract_: flag("abstract"),
            referenceable: flag("referenceable"),
            encrypted: flag("encrypted"),
            immutable: flag("immutable"),
            uuid: flag("uuid"),
            reference: def
                .get("reference")
                .and_then(SchemaValue::as_str)
                .map(str::to_string),
            err: def
                .get("err")
                .and_then(SchemaValue::as_str)
                .map(str::to_string),
            eq_null: def.get("eq") == Some(&SchemaValue::Null),
            ne_null: def.get("ne") == Some(&SchemaValue::Null),
            validators,
            elements: part("elements")?,
            keys: part("keys")?,
            values: part("values")?,
            record,
            foreign_schema: None,
            raw: def.clone(),
            default_valid: OnceLock::new(),
        })
    }
}

fn parse_validator(
    name: &str,
    arg: &SchemaValue,
    kind: Option<FieldType>,
) -> Result<Option<Validator>> {
    let number = |v: &SchemaValue| match v {
        SchemaValue::Number(n) => Ok(*n),
        _ => problem(format!("{name} expects a number")),
    };
    let string = |v: &SchemaValue| match v {
        SchemaValue::String(s) => Ok(s.clone()),
        _ => problem(format!("{name} expects a string")),
    };
    let list = |v: &SchemaValue| -> Vec<Value> {
        v.items()
            .unwrap_or_default()
            .iter()
            .map(|i| to_json(i, None))
            .collect()
    };
    let rules = |v: &SchemaValue| -> Vec<PatternRule> {
        v.items()
            .unwrap_or_default()
            .iter()
            .map(|r| PatternRule {
                pattern: Pattern::new(
                    r.get("pattern")
                        .and_then(SchemaValue::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
                err: r
                    .get("err")
                    .and_then(SchemaValue::as_str)
                    .map(str::to_string),
            })
            .collect()
    };
    Ok(Some(match name {
        // `eq`/`ne` with `ngx.null` are handled before the type checks.
        "eq" if *arg == SchemaValue::Null => return Ok(None),
        "ne" if *arg == SchemaValue::Null => return Ok(None),
        "eq" => Validator::Eq(to_json(arg, kind)),
        "ne" => Validator::Ne(to_json(arg, kind)),
        "not_one_of" => Validator::NotOneOf(list(arg)),
        "one_of" => Validator::OneOf(list(arg)),
        "gt" => Validator::Gt(number(arg)?),
        "timestamp" => Validator::Timestamp,
        "uuid" => Validator::Uuid,
        "is_regex" => Validator::IsRegex,
        "between" => {
            let items = arg.items().unwrap_or_default();
            match items {
                [min, max] => Validator::Between(number(min)?, number(max)?),
                _ => return problem("between expects two numbers"),
            }
        }
        "len_eq" => Validator::LenEq(number(arg)?),
        "len_min" => Validator::LenMin(number(arg)?),
        "len_max" => Validator::LenMax(number(arg)?),
        "starts_with" => Validator::StartsWith(string(arg)?),
        "not_match" => Validator::NotMatch(Pattern::new(string(arg)?)),
        "match" => Validator::Match(Pattern::new(string(arg)?)),
        "match_none" => Validator::MatchNone(rules(arg)),
        "match_all" => Validator::MatchAll(rules(arg)),
        "match_any" => Validator::MatchAny {
            patterns: arg
                .get("patterns")
                .and_then(SchemaValue::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.as_str().map(|p| Pattern::new(p.to_string())))
                .collect(),
            err: arg
                .get("err")
                .and_then(SchemaValue::as_str)
                .map(str::to_string),
        },
        "contains" => Validator::Contains(to_json(arg, None)),
        "custom_validator" => match arg {
            SchemaValue::Function(id) => Validator::Custom(*id),
            _ => return Ok(None),
        },
        "mutually_exclusive_subsets" => Validator::MutuallyExclusiveSubsets(
            arg.items().unwrap_or_default().iter().map(list).collect(),
        ),
        _ => return Ok(None),
    }))
}
