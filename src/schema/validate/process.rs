//! Kong's `process_auto_fields` over a record, and the one walk that also validates
//! each value as soon as it is final (insert and upsert).

use serde_json::{Map, Value};

use super::fields::must_be_null;
use super::lua_values::as_record;
use super::{Context, Engine, REQUIRED, next_with_key};
use crate::schema::definition::{Field, FieldType, Schema};
use crate::schema::errors::{ErrorTree, Errors};
use crate::schema::filled::Filled;

impl Engine<'_> {
    pub(super) fn process_owned(
        &mut self,
        schema: &Schema,
        data: Value,
        context: Context,
    ) -> Result<Value, Errors> {
        self.process_record::<false>(schema, data, context)
            .map(|(record, _)| record.into_value())
    }

    /// Processes a record as `process_auto_fields` does. With `VALIDATE` (insert and
    /// upsert only) it also validates each field's value as soon as it is final, and the
    /// record's entity checks at the end, exactly as `validate(.., full_check)` would
    /// over the processed record: one walk instead of two, over values still in cache.
    /// `Err` holds processing errors, which win over validation errors as in Kong (it
    /// validates only what processed); `Ok` holds the record and its validation errors.
    pub(super) fn process_record<const VALIDATE: bool>(
        &mut self,
        schema: &Schema,
        data: Value,
        context: Context,
    ) -> Result<(Filled, Errors), Errors> {
        let mut data = match data {
            Value::Object(map) => map,
            Value::Array(items) if items.is_empty() => Map::new(),
            other => return Ok(self.validated::<VALIDATE>(schema, other)),
        };
        if VALIDATE && (schema.subschema_key.is_some() || schema.has_repeated_names()) {
            // Subschemas, and two fields of one name, keep Kong's two walks.
            let record = self
                .process_record::<false>(schema, Value::Object(data), context)?
                .0
                .into_value();
            return Ok(self.validated::<true>(schema, record));
        }
        self.apply_shorthands(schema, &mut data)?;
        let subschema = schema.subschema_for(&data);
        let mut errors = Errors::new();
        let mut invalid = Errors::new();
        // Keys Kong's `validate` reports; `updated_at` is never validated (see `validate`).
        let unknown = |invalid: &mut Errors, key: &String| {
            if VALIDATE && key != "updated_at" {
                invalid.insert(
                    key.as_str().into(),
                    ErrorTree::Message("unknown field".into()),
                );
            }
        };
        // One merge of the record's keys (sorted, as a JSON object's are) with the schema's
        // fields sorted by name: present values are adjusted where they lie, and what is
        // missing is added beside them (see `Filled`), in the same order. The order fields
        // are processed in is unobservable: each is adjusted on its own.
        let mut added: Vec<(String, Filled)> = Vec::with_capacity(
            schema.fields.len().saturating_sub(data.len()) + schema.record_fields(),
        );
        let mut emptied: Vec<&str> = Vec::new();
        let mut present = data.iter_mut().peekable();
        for (key, field) in schema.fields_by_name() {
            let mut slot =
                next_with_key(&mut present, key, |k, _| unknown(&mut invalid, k)).map(|(_, v)| v);
            let field = subschema.and_then(|s| s.field(key)).unwrap_or(field);
            // A scalar given a value keeps it as it is.
            if slot.is_some() && field.is_scalar() && !field.auto {
                if let (true, Some(value)) = (VALIDATE, slot.as_deref()) {
                    self.check_known(key, field, value, &mut invalid);
                }
                continue;
            }
            let mut value = slot.as_deref_mut().map(std::mem::take);
            if field.auto {
                value = self.auto_value(key, field, value, context);
            }
            if VALIDATE && let Some(input) = nested_record_input(field, &mut value) {
                // A nested record is validated as it is filled.
                let sub = field.record.as_deref().unwrap_or(Schema::empty());
                match self.process_record::<true>(sub, input, context) {
                    Ok((record, nested)) => {
                        let record =
                            self.check_filled_record(key, field, record, nested, &mut invalid);
                        match (record, slot) {
                            (Filled::Value(record), Some(slot)) => *slot = record,
                            (record, _) => added.push((key.clone(), record)),
                        }
                    }
                    Err(nested) => {
                        errors.insert(key.as_str().into(), ErrorTree::Nested(nested));
                    }
                }
                continue;
            }
            // Most fields are scalars, for which `adjust` only fills what is missing.
            let adjusted = match value {
                Some(value) if field.is_scalar() => Ok(Some(value)),
                None if field.is_scalar() && context != Context::Update => self.missing(field),
                value => self.adjust(field, value, context),
            };
            let missing = |invalid: &mut Errors| {
                if VALIDATE && field.is_required() {
                    invalid.insert(key.as_str().into(), ErrorTree::Message(REQUIRED.into()));
                }
            };
            match (slot, adjusted) {
                (Some(slot), Ok(Some(v))) => {
                    *slot = v;
                    if VALIDATE {
                        self.check_known(key, field, slot, &mut invalid);
                    }
                }
                (None, Ok(Some(v))) => {
                    if VALIDATE {
                        self.check_known(key, field, &v, &mut invalid);
                    }
                    added.push((key.clone(), Filled::Value(v)));
                }
                // A missing optional value stays absent.
                (None, Ok(None)) => missing(&mut invalid),
                (Some(_), Ok(None)) => {
                    emptied.push(key);
                    missing(&mut invalid);
                }
                (_, Err(nested)) => {
                    errors.insert(key.as_str().into(), ErrorTree::Nested(nested));
                }
            }
        }
        for (key, _) in present {
            unknown(&mut invalid, key);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for key in emptied {
            data.remove(key);
        }
        let record = Filled::record(data, added);
        if VALIDATE && !schema.checks.is_empty() {
            // No subschema here (see above).
            let record = record.into_value();
            for check in &schema.checks {
                self.run_entity_check(schema, None, check, &record, true, &mut invalid);
            }
            return Ok((record.into(), invalid));
        }
        Ok((record, invalid))
    }

    /// `validate_field`'s verdict on a nested record `record` that was validated as it
    /// was filled, `nested` its fields' errors: the same checks in the same order. A
    /// record with validators of its own is handed back as a tree (they read it).
    fn check_filled_record(
        &mut self,
        key: &str,
        field: &Field,
        record: Filled,
        nested: Errors,
        invalid: &mut Errors,
    ) -> Filled {
        let outcome = if field.eq_null {
            must_be_null(field)
        } else if !nested.is_empty() {
            Err(ErrorTree::Nested(nested))
        } else {
            Ok(())
        };
        let (outcome, record) = match outcome {
            Ok(()) if !field.validators.is_empty() => {
                let record = record.into_value();
                (self.run_validators(field, &record), record.into())
            }
            outcome => (outcome, record),
        };
        if let Err(e) = outcome
            && key != "updated_at"
        {
            invalid.insert(key.into(), e);
        }
        record
    }

    /// `(record, validate(record))` with `VALIDATE`, `(record, none)` without.
    fn validated<const VALIDATE: bool>(
        &mut self,
        schema: &Schema,
        record: Value,
    ) -> (Filled, Errors) {
        let invalid = if VALIDATE {
            self.validate(schema, &record, true)
                .err()
                .unwrap_or_default()
        } else {
            Errors::new()
        };
        (record.into(), invalid)
    }
}

/// A missing field that `missing` fills by processing an empty table: a required,
/// non-abstract record without a default.
pub(super) fn fills_from_empty(field: &Field) -> bool {
    field.kind == FieldType::Record
        && field.default.is_none()
        && field.is_required()
        && !field.abstract_
}

/// What a (non-abstract) record field's walk fills, validating as it goes: a table given
/// for it, or the empty table `missing` would fill it from. Anything else is left in
/// `value` for `adjust`. (`missing` processes as an insert; only an update differs, and
/// updates do not come here.)
fn nested_record_input(field: &Field, value: &mut Option<Value>) -> Option<Value> {
    if field.kind != FieldType::Record || field.abstract_ {
        return None;
    }
    match value {
        Some(v) if as_record(v).is_some() => value.take(),
        // `false` is filled as a missing record is (see `adjust`).
        None | Some(Value::Bool(false)) if fills_from_empty(field) => {
            *value = None;
            Some(Value::Object(Map::new()))
        }
        _ => None,
    }
}
