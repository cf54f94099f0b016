//! Kong's `Schema:validate` (every key, every required field, then the entity checks)
//! and `Schema:validate_field` (a value against its field: type, then validators).

use serde_json::{Map, Value};

use super::lua_values::{as_record, as_sequence, lua_format, lua_tostring};
use super::validators::{is_reference, is_uuid};
use super::{Context, Engine, REQUIRED, next_with_key};
use crate::schema::definition::{Field, FieldType, Schema, Validator};
use crate::schema::errors::{ErrorKey, ErrorTree, Errors};

impl Engine<'_> {
    /// Kong's `Schema:validate`: every input key, every required field, then the checks.
    pub fn validate(
        &mut self,
        schema: &Schema,
        input: &Value,
        full_check: bool,
    ) -> Result<(), Errors> {
        let empty = Map::new();
        let map = match input {
            Value::Object(map) => map,
            Value::Array(items) if items.is_empty() => &empty,
            _ => {
                let mut errors = Errors::new();
                errors.insert(
                    "@entity".into(),
                    entity_list(vec!["expected an input table".into()]),
                );
                return Err(errors);
            }
        };
        // Kong `Schema:validate`: without a subschema to pick, validation stops at the key.
        if let Some(key) = schema.subschema_key.as_deref() {
            let single = |message: String| {
                let mut errors = Errors::new();
                errors.insert(key.into(), ErrorTree::Message(message));
                Err(errors)
            };
            let name = match map.get(key) {
                None | Some(Value::Null) => return single(REQUIRED.into()),
                Some(Value::String(s)) => s.clone(),
                // `("%s"):format(nil)` in LuaJIT prints `nil`.
                Some(Value::Array(items)) => items.first().map_or("nil".into(), lua_tostring),
                Some(other) => lua_tostring(other),
            };
            if schema.subschema_for(map).is_none() {
                let template = schema
                    .subschema_error
                    .as_deref()
                    .unwrap_or("unknown type: %s");
                return single(lua_format(template, &name));
            }
        }
        let subschema = schema.subschema_for(map);
        let mut errors = Errors::new();
        // Keys and fields both sorted by name: one merge finds each key's field and the
        // fields no key names, which a full check requires.
        let mut fields = schema.fields_by_name().map(|(n, f)| (n, f)).peekable();
        let missing = |errors: &mut Errors, name: &String, f: &Field| {
            if full_check && f.is_required() {
                errors.insert(name.as_str().into(), ErrorTree::Message(REQUIRED.into()));
            }
        };
        for (key, value) in map {
            let field = next_with_key(&mut fields, key, |name, f| missing(&mut errors, name, f))
                .map(|(_, f)| f);
            match field {
                Some(field) => {
                    let field = subschema.and_then(|s| s.field(key)).unwrap_or(field);
                    self.check_known(key, field, value, &mut errors);
                }
                // Kong's `unvalidated_fields`: `updated_at` is never validated (nor
                // reported unknown), at any level, since every `Schema.new` installs the
                // same table.
                None if key == "updated_at" => {}
                None => {
                    errors.insert(
                        key.as_str().into(),
                        ErrorTree::Message("unknown field".into()),
                    );
                }
            }
        }
        for (name, f) in fields {
            missing(&mut errors, name, f);
        }
        for check in &schema.checks {
            self.run_entity_check(schema, None, check, input, full_check, &mut errors);
        }
        if let Some(subschema) = subschema {
            // Kong runs a subschema's checks through a proxy whose fields are the
            // subschema's, falling back to the parent's.
            for check in &subschema.checks {
                self.run_entity_check(
                    subschema,
                    Some(schema),
                    check,
                    input,
                    full_check,
                    &mut errors,
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// `validate`'s verdict on one key the schema knows.
    #[inline(always)]
    pub(super) fn check_known(
        &mut self,
        key: &str,
        field: &Field,
        value: &Value,
        errors: &mut Errors,
    ) {
        if key != "updated_at"
            && !self.is_valid_default(field, value)
            && let Err(e) = self.validate_field(field, value)
        {
            errors.insert(key.into(), e);
        }
        // A required field set to null is missing, whatever its own check said.
        if value.is_null() && field.is_required() {
            errors.insert(key.into(), ErrorTree::Message(REQUIRED.into()));
        }
    }

    /// Whether `value` is the field's default and passed the field's validation before.
    /// A default is validated like any value, as Kong does, but when no Lua function sees
    /// it and it holds no record (which validation fills), the outcome depends on the
    /// value alone, so it is learnt once per field.
    fn is_valid_default(&mut self, field: &Field, value: &Value) -> bool {
        if field.default.as_ref() != Some(value) || holds_records(field) {
            return false;
        }
        *field
            .default_valid
            .get_or_init(|| !field.has_functions() && self.validate_field(field, value).is_ok())
    }

    /// Kong's `Schema:validate_field`.
    pub fn validate_field(&mut self, field: &Field, value: &Value) -> Result<(), ErrorTree> {
        if value.is_null() {
            if field.ne_null {
                return field_error(field.err.as_deref().unwrap_or("value must not be null"));
            }
            if let Some(Validator::Eq(wanted)) = field.validators.first() {
                return field_error(&format!("value must be {}", lua_tostring(wanted)));
            }
            if field.is_required() {
                return field_error(REQUIRED);
            }
            return Ok(());
        }
        if field.eq_null {
            return must_be_null(field);
        }
        if field.abstract_ {
            return field_error("error in schema definition: abstract field was not specialized");
        }
        if !field.is_scalar() && self.is_unfilled_default(field, value) {
            // A table default is stored as it is written (Kong's `handle_missing_field`),
            // not filled: records in it are validated on a filled copy, as Kong always
            // validates a record. (Were it filled, copying would change nothing.)
            self.processed = false;
            let outcome = self.validate_field(field, value);
            self.processed = true;
            return outcome;
        }
        match field.kind {
            FieldType::Array | FieldType::Set => {
                let Some(items) = as_sequence(value) else {
                    return field_error(if field.kind == FieldType::Array {
                        "expected an array"
                    } else {
                        "expected a set"
                    });
                };
                if let Some(element) = field.elements.as_deref() {
                    let mut errors = Errors::new();
                    for (i, item) in items.iter().enumerate() {
                        if let Err(e) = self.validate_field(element, item) {
                            errors.insert(ErrorKey::Index(i + 1), e);
                        }
                    }
                    if !errors.is_empty() {
                        return Err(ErrorTree::Nested(errors));
                    }
                }
            }
            FieldType::Map => {
                let Some(map) = as_record(value) else {
                    return field_error("expected a map");
                };
                // Each key is validated as a string value; one buffer serves them all.
                let mut key = std::mem::take(&mut self.key_buffer);
                let mut outcome = Ok(());
                for (k, v) in map {
                    if let Some(keys) = field.keys.as_deref() {
                        match &mut key {
                            Value::String(buffer) => k.clone_into(buffer),
                            other => *other = Value::String(k.clone()),
                        }
                        outcome = self.validate_field(keys, &key);
                    }
                    if outcome.is_ok()
                        && let Some(values) = field.values.as_deref()
                    {
                        outcome = self.validate_field(values, v);
                    }
                    if outcome.is_err() {
                        break;
                    }
                }
                self.key_buffer = key;
                outcome?;
            }
            FieldType::Record => {
                if as_record(value).is_none() {
                    return field_error("expected a record");
                }
                let sub = field.record.as_deref().unwrap_or(Schema::empty());
                if self.processed {
                    // `check` already filled this record: Kong's second pass over a copy
                    // would change nothing (processing twice is a no-op, tested).
                    self.validate(sub, value, true).map_err(ErrorTree::Nested)?;
                } else {
                    let copy = self
                        .process_auto_fields(sub, value, Context::Insert)
                        .map_err(ErrorTree::Nested)?;
                    self.validate(sub, &copy, true).map_err(ErrorTree::Nested)?;
                }
            }
            FieldType::Foreign => self.validate_foreign_key(field, value)?,
            FieldType::Integer => {
                if !value
                    .as_f64()
                    .is_some_and(|n| n.is_finite() && n == n.floor())
                {
                    return field_error("expected an integer");
                }
            }
            FieldType::Number => {
                if !value.is_number() {
                    return field_error("expected a number");
                }
            }
            FieldType::Boolean => {
                if !value.is_boolean() {
                    return field_error("expected a boolean");
                }
            }
            FieldType::String => {
                let Some(s) = value.as_str() else {
                    return field_error("expected a string");
                };
                if field.referenceable && is_reference(s) {
                    return Ok(());
                }
            }
            FieldType::Function => return field_error("expected a function"),
            FieldType::Json | FieldType::Any => {}
        }
        self.run_validators(field, value)
    }

    /// Whether `value` is the default of `field`, which holds records, met while
    /// validating what was processed: a default is not processed (see `validate_field`).
    fn is_unfilled_default(&self, field: &Field, value: &Value) -> bool {
        self.processed && field.default.as_ref() == Some(value) && holds_records(field)
    }

    /// A foreign key is `{ id = <uuid> }`; other keys are ignored, as Kong's
    /// `validate_primary_key(pk, true)` does. When the key is invalid, Kong 3.x validates
    /// the value against the referenced entity's schema (`validate(value, false)`, no
    /// required fields) and answers those errors if there are any: `consumer: {"name":
    /// "x"}` is `consumer.name: unknown field`, `consumer: {"username": "x"}` is
    /// `consumer.id: missing primary key`.
    fn validate_foreign_key(&mut self, field: &Field, value: &Value) -> Result<(), ErrorTree> {
        let mut errors = Errors::new();
        let id = value.as_object().and_then(|m| m.get("id"));
        let problem = match id {
            None | Some(Value::Bool(false)) => Some("missing primary key".to_string()),
            Some(Value::Null) => Some(REQUIRED.to_string()),
            Some(Value::String(s)) if is_uuid(s) => None,
            Some(Value::String(_)) => Some("expected a valid UUID".to_string()),
            Some(_) => Some("expected a string".to_string()),
        };
        let Some(problem) = problem else {
            return Ok(());
        };
        if let (Some(schema), Value::Object(_)) = (field.foreign_schema.as_deref(), value) {
            let outer = std::mem::replace(&mut self.foreign, true);
            let (processed, updating) = (self.processed, self.updating);
            (self.processed, self.updating) = (false, false);
            let outcome = self.validate(schema, value, false);
            (self.foreign, self.processed, self.updating) = (outer, processed, updating);
            outcome.map_err(ErrorTree::Nested)?;
        }
        errors.insert("id".into(), ErrorTree::Message(problem));
        Err(ErrorTree::Nested(errors))
    }
}

#[cold]
#[inline(never)]
/// The error of an `eq = null` field given a value.
pub(super) fn must_be_null(field: &Field) -> Result<(), ErrorTree> {
    field_error(field.err.as_deref().unwrap_or("value must be null"))
}

fn field_error(message: &str) -> Result<(), ErrorTree> {
    Err(ErrorTree::Message(message.to_string()))
}

fn entity_list(messages: Vec<String>) -> ErrorTree {
    ErrorTree::Nested(
        messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| (ErrorKey::Index(i + 1), ErrorTree::Message(m)))
            .collect(),
    )
}

/// Whether values of `field` can hold records: it is one, or a collection of them.
fn holds_records(field: &Field) -> bool {
    match field.kind {
        FieldType::Record => true,
        FieldType::Array | FieldType::Set => field.elements.as_deref().is_some_and(holds_records),
        FieldType::Map => field.values.as_deref().is_some_and(holds_records),
        _ => false,
    }
}
