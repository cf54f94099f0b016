//! Kong's entity checks (`entity_checkers` and `run_entity_check`): which fields each
//! needs, when it runs, and its messages.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::lua_values::{lua_eq, lua_format, lua_tostring, quoted, truthy};
use super::validators::is_reference;
use super::{Engine, REQUIRED, REQUIRED_FOR_ENTITY_CHECK};
use crate::schema::definition::{Check, EntityCheck, FieldType, Schema};
use crate::schema::errors::{ErrorKey, ErrorTree, Errors};

impl Engine<'_> {
    pub(super) fn run_entity_check(
        &mut self,
        schema: &Schema,
        parent: Option<&Schema>,
        check: &Check,
        input: &Value,
        full_check: bool,
        errors: &mut Errors,
    ) {
        let spec = CheckSpec::of(&check.check);
        let mut missing = Vec::new();
        let mut all_nil = true;
        let mut all_ok = true;
        let mut check_input = Value::Object(Map::new());
        for name in &spec.fields {
            let value = get_field(input, name);
            match value {
                None => {
                    if !spec.run_with_missing_fields
                        && !check.flags.run_with_missing_fields
                        && spec.required.contains(name.as_str())
                    {
                        missing.push(name.clone());
                    }
                }
                Some(v) => {
                    all_nil = false;
                    let field = schema
                        .field_at(name)
                        .or_else(|| parent.and_then(|p| p.field_at(name)));
                    let reference = field.is_some_and(|f| {
                        f.kind == FieldType::String
                            && f.referenceable
                            && v.as_str().is_some_and(is_reference)
                    });
                    if reference {
                        return;
                    }
                }
            }
            if errors.contains_key(&ErrorKey::Name(name.clone())) {
                all_ok = false;
            }
            if let Some(v) = value {
                set_value(&mut check_input, name, v.clone());
            }
        }
        if !all_ok && !spec.run_with_invalid_fields && !check.flags.run_with_invalid_fields {
            return;
        }
        if all_nil && !(spec.run_with_missing_fields && full_check) {
            return;
        }
        if !missing.is_empty() {
            for name in missing {
                set_error(
                    errors,
                    &name,
                    ErrorTree::Message(if self.updating {
                        format!("{REQUIRED_FOR_ENTITY_CHECK} when updating")
                    } else {
                        REQUIRED_FOR_ENTITY_CHECK.into()
                    }),
                );
            }
            return;
        }
        let outcome = self.run_checker(schema, &check.check, input, &check_input, errors);
        if let Err(message) = outcome {
            push_entity_error(errors, message);
        }
    }

    /// The checker itself; `Err` is the message for `@entity`.
    fn run_checker(
        &mut self,
        schema: &Schema,
        check: &EntityCheck,
        input: &Value,
        check_input: &Value,
        errors: &mut Errors,
    ) -> Result<(), String> {
        let nonempty = |name: &String| is_nonempty(get_field(input, name));
        let when = if self.updating { "when updating, " } else { "" };
        let list = |names: &[String]| quoted(names.iter().cloned());
        match check {
            EntityCheck::AtLeastOneOf(names) => {
                if names.iter().any(nonempty) {
                    return Ok(());
                }
                Err(format!(
                    "{when}at least one of these fields must be non-empty: {}",
                    list(names)
                ))
            }
            EntityCheck::OnlyOneOf(names) => {
                if names.iter().filter(|n| nonempty(n)).count() == 1 {
                    return Ok(());
                }
                Err(format!(
                    "exactly one of these fields must be non-empty: {}",
                    list(names)
                ))
            }
            EntityCheck::Distinct(names) => {
                let mut seen: Vec<&Value> = Vec::new();
                for name in names {
                    if let Some(v) = get_field(input, name).filter(|v| is_nonempty(Some(v))) {
                        if seen.iter().any(|s| lua_eq(s, v)) {
                            return Err(format!(
                                "values of these fields must be distinct: {}",
                                list(names)
                            ));
                        }
                        seen.push(v);
                    }
                }
                Ok(())
            }
            EntityCheck::MutuallyRequired(names) => {
                let n = names.iter().filter(|n| nonempty(n)).count();
                if n == 0 || n == names.len() {
                    return Ok(());
                }
                Err(format!(
                    "all or none of these fields must be set: {}",
                    list(names)
                ))
            }
            EntityCheck::MutuallyExclusive(names) => {
                if names.iter().filter(|n| nonempty(n)).count() <= 1 {
                    return Ok(());
                }
                Err(format!(
                    "only one or none of these fields must be set: {}",
                    list(names)
                ))
            }
            EntityCheck::MutuallyExclusiveSets { set1, set2 } => {
                let a: Vec<String> = set1.iter().filter(|n| nonempty(n)).cloned().collect();
                let b: Vec<String> = set2.iter().filter(|n| nonempty(n)).cloned().collect();
                if a.is_empty() || b.is_empty() {
                    return Ok(());
                }
                Err(format!(
                    "these sets are mutually exclusive: ({}), ({})",
                    list(&a),
                    list(&b)
                ))
            }
            EntityCheck::Conditional {
                if_field,
                if_match,
                then_field,
                then_match,
                then_match_required,
                then_err,
            } => {
                let Some(if_value) = get_field(input, if_field).cloned() else {
                    return Ok(());
                };
                if self.validate_field(if_match, &if_value).is_err() {
                    return Ok(());
                }
                let then_value = get_field(input, then_field).cloned().unwrap_or(Value::Null);
                let failure = if *then_match_required && then_value.is_null() {
                    Some(ErrorTree::Message(REQUIRED.into()))
                } else {
                    self.validate_field(then_match, &then_value).err()
                };
                let Some(failure) = failure else {
                    return Ok(());
                };
                set_error(errors, then_field, failure);
                Err(match then_err {
                    Some(template) if !*then_match_required || !then_value.is_null() => {
                        lua_format(template, if_field)
                    }
                    _ => format!("failed conditional validation given value of field '{if_field}'"),
                })
            }
            EntityCheck::ConditionalAtLeastOneOf {
                if_field,
                if_match,
                then_at_least_one_of,
                then_err,
                else_match,
                else_then_at_least_one_of,
                else_then_err,
            } => {
                let Some(if_value) = get_field(input, if_field).cloned() else {
                    return Ok(());
                };
                let (names, custom) = if self.validate_field(if_match, &if_value).is_ok() {
                    (then_at_least_one_of, then_err)
                } else {
                    let Some(else_match) = else_match else {
                        return Ok(());
                    };
                    if self.validate_field(else_match, &if_value).is_err() {
                        return Ok(());
                    }
                    (else_then_at_least_one_of, else_then_err)
                };
                if names.iter().any(nonempty) {
                    return Ok(());
                }
                let quoted_names = list(names);
                Err(match custom {
                    Some(template) => lua_format(template, &quoted_names),
                    None => {
                        format!(
                            "{when}at least one of these fields must be non-empty: {quoted_names}"
                        )
                    }
                })
            }
            EntityCheck::Custom { .. } if self.foreign => Ok(()),
            EntityCheck::Custom { func, .. } => {
                let _ = schema;
                let [ok, err] = self.functions.call(*func, check_input)?;
                if truthy(ok.as_ref()) {
                    return Ok(());
                }
                Err(match err {
                    Some(Value::String(s)) => s,
                    Some(other) if truthy(Some(&other)) => lua_tostring(&other),
                    _ => "failed entity check: custom_entity_check".into(),
                })
            }
        }
    }
}

/// What Kong's `entity_checkers` table says about each checker.
struct CheckSpec {
    fields: Vec<String>,
    required: HashSet<String>,
    run_with_missing_fields: bool,
    run_with_invalid_fields: bool,
}

impl CheckSpec {
    fn of(check: &EntityCheck) -> CheckSpec {
        let all_required = |names: &[String], missing: bool, invalid: bool| CheckSpec {
            fields: names.to_vec(),
            required: names.iter().cloned().collect(),
            run_with_missing_fields: missing,
            run_with_invalid_fields: invalid,
        };
        match check {
            EntityCheck::AtLeastOneOf(n) => all_required(n, true, true),
            EntityCheck::OnlyOneOf(n) | EntityCheck::Distinct(n) => all_required(n, false, true),
            EntityCheck::MutuallyRequired(n) | EntityCheck::MutuallyExclusive(n) => {
                all_required(n, true, false)
            }
            // Kong lists these checkers' required sources as an array but looks them up by
            // name, so none is ever required.
            EntityCheck::MutuallyExclusiveSets { set1, set2 } => CheckSpec {
                fields: set1.iter().chain(set2).cloned().collect(),
                required: HashSet::new(),
                run_with_missing_fields: true,
                run_with_invalid_fields: false,
            },
            EntityCheck::ConditionalAtLeastOneOf {
                if_field,
                then_at_least_one_of,
                else_then_at_least_one_of,
                ..
            } => CheckSpec {
                fields: std::iter::once(if_field)
                    .chain(then_at_least_one_of)
                    .chain(else_then_at_least_one_of)
                    .cloned()
                    .collect(),
                required: HashSet::new(),
                run_with_missing_fields: true,
                run_with_invalid_fields: true,
            },
            EntityCheck::Conditional {
                if_field,
                then_field,
                ..
            } => CheckSpec {
                fields: vec![if_field.clone(), then_field.clone()],
                required: HashSet::from([if_field.clone()]),
                run_with_missing_fields: false,
                run_with_invalid_fields: true,
            },
            EntityCheck::Custom { field_sources, .. } => all_required(field_sources, false, false),
        }
    }
}

fn push_entity_error(errors: &mut Errors, message: String) {
    let entry = errors
        .entry("@entity".into())
        .or_insert_with(|| ErrorTree::Nested(Errors::new()));
    if let ErrorTree::Nested(list) = entry {
        let next = list.len() + 1;
        list.insert(ErrorKey::Index(next), ErrorTree::Message(message));
    }
}

/// Kong's `set_field` on an error table: `a.b` nests under `a`.
fn set_error(errors: &mut Errors, path: &str, error: ErrorTree) {
    match path.split_once('.') {
        None => {
            errors.insert(path.into(), error);
        }
        Some((head, rest)) => {
            let entry = errors
                .entry(head.into())
                .or_insert_with(|| ErrorTree::Nested(Errors::new()));
            if let ErrorTree::Message(_) = entry {
                *entry = ErrorTree::Nested(Errors::new());
            }
            if let ErrorTree::Nested(inner) = entry {
                set_error(inner, rest, error);
            }
        }
    }
}

/// Kong's `get_field`: a dotted path through nested tables; `None` is `nil`.
pub fn get_field<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    match path.split_once('.') {
        None => map.get(path),
        Some((head, rest)) => get_field(map.get(head)?, rest),
    }
}

fn set_value(target: &mut Value, path: &str, value: Value) {
    let Value::Object(map) = target else { return };
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            set_value(entry, rest, value);
        }
    }
}

fn is_nonempty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}
