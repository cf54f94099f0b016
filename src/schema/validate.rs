//! Kong's validation of an entity against its schema (`kong/db/schema/init.lua`, 3.10):
//! `process_auto_fields` (shorthands, auto values, defaults) then `validate` (fields,
//! required fields, entity checks), with Kong's order of checks and its message texts.
//! Lua functions of the schema are called through [`Functions`]; nothing here runs Lua.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::definition::{Check, EntityCheck, Field, FieldType, FnId, Schema, Validator};
use super::errors::{ErrorKey, ErrorTree, Errors};
use super::filled::Filled;
use super::value::lua_number;
use crate::lua::pattern::Pattern;

/// Calls a function of the schema with one argument, returning its first two results
/// (`None` is `nil`); `Err` carries a Lua error (or time/memory limit) as text.
pub trait Functions {
    fn call(&mut self, id: FnId, argument: &Value) -> Result<[Option<Value>; 2], String>;
}

/// For schemas without functions.
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn call(&mut self, _: FnId, _: &Value) -> Result<[Option<Value>; 2], String> {
        Err("this schema's functions are not loaded".into())
    }
}

/// The DAO operation a validation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Insert,
    Upsert,
    Update,
}

const REQUIRED: &str = "required field missing";
const REQUIRED_FOR_ENTITY_CHECK: &str = "field required for entity check";

/// One validation run: the functions to call and the budget for Lua patterns.
pub struct Engine<'a> {
    functions: &'a mut dyn Functions,
    pattern_steps: u64,
    now_seconds: f64,
    /// Kong's `validate_update` patches three messages for the whole run.
    updating: bool,
    /// Set while `check` validates what it has just processed.
    processed: bool,
    /// A string value reused to validate map keys.
    key_buffer: Value,
}

impl<'a> Engine<'a> {
    pub fn new(functions: &'a mut dyn Functions, pattern_steps: u64, now_seconds: f64) -> Self {
        Engine {
            functions,
            pattern_steps,
            now_seconds,
            updating: false,
            processed: false,
            key_buffer: Value::Null,
        }
    }

    /// What Kong's DAO does on insert and upsert: fill auto fields and defaults, then
    /// validate fully. Returns the entity as it would be stored.
    pub fn check(
        &mut self,
        schema: &Schema,
        input: &Value,
        context: Context,
    ) -> Result<Value, Errors> {
        self.check_owned(schema, input.clone(), context)
    }

    /// [`Engine::check`] on a body the caller gives up: the entity is built from it in
    /// place of a copy.
    pub fn check_owned(
        &mut self,
        schema: &Schema,
        input: Value,
        context: Context,
    ) -> Result<Value, Errors> {
        self.check_filled(schema, input, context)
            .map(Filled::into_value)
    }

    /// [`Engine::check_owned`] as a write path runs it: the entity is left as validation
    /// filled it (see [`Filled`]), to be written out without becoming one tree first.
    pub fn check_filled(
        &mut self,
        schema: &Schema,
        input: Value,
        context: Context,
    ) -> Result<Filled, Errors> {
        if context != Context::Update && !schema.has_functions() {
            // Insert and upsert fill nested defaults, so every record is validated as
            // processed (see `validate_field`); without Lua functions nothing observes the
            // order of the two walks, so they are one.
            self.processed = true;
            let outcome = self.process_record::<true>(schema, input, context);
            self.processed = false;
            let (entity, invalid) = outcome?;
            return if invalid.is_empty() {
                Ok(entity)
            } else {
                Err(invalid)
            };
        }
        let processed = self.process_owned(schema, input, context)?;
        // Kong's `validate_update` rewords REQUIRED_FOR_ENTITY_CHECK, AT_LEAST_ONE_OF and
        // CONDITIONAL_AT_LEAST_ONE_OF while it runs (nested records included).
        self.updating = context == Context::Update;
        // An update fills no nested defaults, so its records are filled (on a copy) when
        // validated, as Kong does; insert and upsert have filled them already.
        self.processed = context != Context::Update;
        let outcome = self.validate(schema, &processed, context != Context::Update);
        self.updating = false;
        self.processed = false;
        outcome?;
        Ok(processed.into())
    }

    /// Kong's `Schema:process_auto_fields` for insert, upsert and update.
    pub fn process_auto_fields(
        &mut self,
        schema: &Schema,
        data: &Value,
        context: Context,
    ) -> Result<Value, Errors> {
        self.process_owned(schema, data.clone(), context)
    }

    fn process_owned(
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
    fn process_record<const VALIDATE: bool>(
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

    fn apply_shorthands(
        &mut self,
        schema: &Schema,
        data: &mut Map<String, Value>,
    ) -> Result<(), Errors> {
        let mut errors = Errors::new();
        for shorthand in &schema.shorthands {
            let Some(value) = data.get(&shorthand.name).cloned() else {
                continue;
            };
            // Validated as processing does, before any record is filled.
            let processed = std::mem::replace(&mut self.processed, false);
            let outcome = self.validate_field(&shorthand.field, &value);
            self.processed = processed;
            if let Err(e) = outcome {
                errors.insert(shorthand.name.as_str().into(), e);
                continue;
            }
            data.remove(&shorthand.name);
            let Some(func) = shorthand.func else {
                continue;
            };
            let new_values = match self.functions.call(func, &value) {
                Ok([Some(Value::Object(map)), _]) => map,
                Ok(_) => continue,
                Err(message) => {
                    errors.insert(shorthand.name.as_str().into(), ErrorTree::Message(message));
                    continue;
                }
            };
            for (k, v) in new_values {
                let existing = data.get(&k).filter(|e| !e.is_null()).cloned();
                if v.is_object() || v.is_array() {
                    let merged = match (existing, shorthand.deprecated) {
                        // A deprecated shorthand never overrides what the new field says.
                        // Kong: `null_aware_table_merge(v, source)`: a null in the
                        // current value does not erase what the shorthand set.
                        (Some(current), true) if current.is_object() => {
                            null_aware_merge(v, current)
                        }
                        (Some(current), false) => merge_tables(current, v),
                        _ => v,
                    };
                    data.insert(k, merged);
                } else if !shorthand.deprecated || existing.is_none() {
                    data.insert(k, v);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn auto_value(
        &self,
        key: &str,
        field: &Field,
        value: Option<Value>,
        context: Context,
    ) -> Option<Value> {
        let creating = context != Context::Update;
        if field.uuid {
            if creating && value.is_none() {
                return Some(Value::String(uuid::Uuid::new_v4().to_string()));
            }
            return value;
        }
        if field.kind == FieldType::String {
            if creating && value.is_none() {
                return Some(Value::String(random_string()));
            }
            return value;
        }
        let stamp = (key == "created_at" && creating && value.as_ref().is_none_or(Value::is_null))
            || key == "updated_at";
        if !stamp {
            return value;
        }
        match field.kind {
            FieldType::Integer => Some(Value::from(self.now_seconds.floor() as i64)),
            FieldType::Number => {
                serde_json::Number::from_f64((self.now_seconds * 1000.0).floor() / 1000.0)
                    .map(Value::Number)
            }
            _ => value,
        }
    }

    /// Kong's `adjust_field_for_context`: recurse into records and collections, fill
    /// what is missing. `None` means the key stays absent.
    fn adjust(
        &mut self,
        field: &Field,
        value: Option<Value>,
        context: Context,
    ) -> Result<Option<Value>, Errors> {
        if field.abstract_ {
            return Ok(value);
        }
        let mut value = value;
        if field.kind == FieldType::Record {
            let recurse = match context {
                Context::Update => value.as_ref().is_some_and(|v| !v.is_null()),
                _ => {
                    !matches!(value, Some(Value::Null)) && (value.is_some() || field.is_required())
                }
            };
            if recurse {
                let v = match value {
                    Some(v) => Some(v),
                    None => self.missing(field)?,
                };
                if v.as_ref().and_then(as_record).is_some() {
                    let sub = field.record.as_deref().unwrap_or(Schema::empty());
                    return self
                        .process_owned(sub, v.unwrap_or_default(), context)
                        .map(Some);
                }
                value = v;
            }
        } else if let Some(v) = value.take() {
            value = Some(self.adjust_collection(field, v, context)?);
        }
        if value.is_none() && context != Context::Update {
            return self.missing(field);
        }
        Ok(value)
    }

    fn adjust_collection(
        &mut self,
        field: &Field,
        value: Value,
        context: Context,
    ) -> Result<Value, Errors> {
        let sub = match field.kind {
            FieldType::Array | FieldType::Set => field.elements.as_deref(),
            FieldType::Map => field.values.as_deref(),
            _ => None,
        };
        Ok(match (value, sub) {
            // Kong's `make_array` / `make_set` give an empty sequence (JSON `{}` decodes
            // to one) the array metatable, so it is stored and returned as `[]`.
            (Value::Object(map), _)
                if map.is_empty() && matches!(field.kind, FieldType::Array | FieldType::Set) =>
            {
                Value::Array(Vec::new())
            }
            // Adjusted in place: the request's own vectors and maps are kept. Scalar items
            // and values have nothing to fill (see `adjust`).
            (Value::Array(mut items), Some(sub)) => {
                if field.kind == FieldType::Set {
                    dedupe(&mut items);
                }
                if sub.is_scalar() {
                    return Ok(Value::Array(items));
                }
                for item in &mut items {
                    let taken = std::mem::take(item);
                    *item = self
                        .adjust(sub, Some(taken), context)?
                        .unwrap_or(Value::Null);
                }
                Value::Array(items)
            }
            (Value::Object(mut map), Some(sub)) if field.kind == FieldType::Map => {
                if sub.is_scalar() {
                    return Ok(Value::Object(map));
                }
                for value in map.values_mut() {
                    let taken = std::mem::take(value);
                    *value = self
                        .adjust(sub, Some(taken), context)?
                        .unwrap_or(Value::Null);
                }
                Value::Object(map)
            }
            (other, _) => other,
        })
    }

    /// Kong's `handle_missing_field`.
    fn missing(&mut self, field: &Field) -> Result<Option<Value>, Errors> {
        if let Some(default) = &field.default {
            return Ok(Some(default.clone()));
        }
        if !field.is_required() {
            return Ok(Some(Value::Null));
        }
        if fills_from_empty(field) {
            let sub = field.record.as_deref().unwrap_or(Schema::empty());
            return self
                .process_owned(sub, Value::Object(Map::new()), Context::Insert)
                .map(Some);
        }
        Ok(None)
    }

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
    fn check_known(&mut self, key: &str, field: &Field, value: &Value, errors: &mut Errors) {
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
            FieldType::Foreign => self.validate_foreign_key(value)?,
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

    #[inline(always)]
    fn run_validators(&mut self, field: &Field, value: &Value) -> Result<(), ErrorTree> {
        for validator in &field.validators {
            if let Err(message) = self.run_validator(validator, value, field) {
                return Err(ErrorTree::Message(field.err.clone().unwrap_or(message)));
            }
        }
        Ok(())
    }

    /// Whether `value` is the default of `field`, which holds records, met while
    /// validating what was processed: a default is not processed (see `validate_field`).
    fn is_unfilled_default(&self, field: &Field, value: &Value) -> bool {
        self.processed && field.default.as_ref() == Some(value) && holds_records(field)
    }

    /// A foreign key is `{ id = <uuid> }`; other keys are ignored, as Kong's
    /// `validate_primary_key(pk, true)` does.
    fn validate_foreign_key(&mut self, value: &Value) -> Result<(), ErrorTree> {
        let mut errors = Errors::new();
        let id = value.as_object().and_then(|m| m.get("id"));
        let problem = match id {
            None | Some(Value::Bool(false)) => Some("missing primary key".to_string()),
            Some(Value::Null) => Some(REQUIRED.to_string()),
            Some(Value::String(s)) if is_uuid(s) => None,
            Some(Value::String(_)) => Some("expected a valid UUID".to_string()),
            Some(_) => Some("expected a string".to_string()),
        };
        if let Some(problem) = problem {
            errors.insert("id".into(), ErrorTree::Message(problem));
            return Err(ErrorTree::Nested(errors));
        }
        Ok(())
    }

    #[inline(always)]
    fn run_validator(
        &mut self,
        validator: &Validator,
        value: &Value,
        field: &Field,
    ) -> Result<(), String> {
        let text = value.as_str();
        let number = value.as_f64();
        match validator {
            Validator::Eq(wanted) => check(lua_eq(value, wanted), || {
                format!("value must be {}", lua_tostring(wanted))
            }),
            Validator::Ne(wanted) => check(!lua_eq(value, wanted), || {
                format!("value must not be {}", lua_tostring(value))
            }),
            Validator::NotOneOf(options) => {
                check(!options.iter().any(|o| lua_eq(value, o)), || {
                    format!("must not be one of: {}", concat(options))
                })
            }
            Validator::OneOf(options) => check(options.iter().any(|o| lua_eq(value, o)), || {
                format!("expected one of: {}", concat(options))
            }),
            Validator::Gt(limit) => check(number.is_some_and(|n| n > *limit), || {
                format!("value must be greater than {}", lua_number(*limit))
            }),
            Validator::Timestamp => check(number.is_some_and(|n| n > 0.0), || {
                "expected a valid timestamp".into()
            }),
            Validator::Uuid => check(text.is_some_and(is_uuid), || "expected a valid UUID".into()),
            Validator::IsRegex => check(text.is_some_and(|t| regex::Regex::new(t).is_ok()), || {
                format!("not a valid regex: {}", lua_tostring(value))
            }),
            Validator::Between(min, max) => {
                check(number.is_some_and(|n| n >= *min && n <= *max), || {
                    format!(
                        "value should be between {} and {}",
                        lua_int(*min),
                        lua_int(*max)
                    )
                })
            }
            Validator::LenEq(n) => check(length(value, field) as f64 == *n, || {
                format!("length must be {}", lua_int(*n))
            }),
            Validator::LenMin(n) => check(length(value, field) as f64 >= *n, || {
                format!("length must be at least {}", lua_int(*n))
            }),
            Validator::LenMax(n) => check(length(value, field) as f64 <= *n, || {
                format!("length must be at most {}", lua_int(*n))
            }),
            Validator::StartsWith(prefix) => check(
                text.is_some_and(|t| t.as_bytes().starts_with(prefix.as_bytes())),
                || format!("should start with: {prefix}"),
            ),
            Validator::NotMatch(pattern) => {
                let matched = self.matches(value, pattern)?;
                check(!matched, || {
                    format!("invalid value: {}", lua_tostring(value))
                })
            }
            Validator::MatchNone(rules) => {
                for rule in rules {
                    if self.matches(value, &rule.pattern)? {
                        return Err(rule.err.clone().unwrap_or_else(|| invalid(value)));
                    }
                }
                Ok(())
            }
            Validator::Match(pattern) => {
                let matched = self.matches(value, pattern)?;
                check(matched, || invalid(value))
            }
            Validator::MatchAll(rules) => {
                for rule in rules {
                    if !self.matches(value, &rule.pattern)? {
                        return Err(rule.err.clone().unwrap_or_else(|| invalid(value)));
                    }
                }
                Ok(())
            }
            Validator::MatchAny { patterns, err } => {
                for pattern in patterns {
                    if self.matches(value, pattern)? {
                        return Ok(());
                    }
                }
                Err(err.clone().unwrap_or_else(|| invalid(value)))
            }
            Validator::Contains(wanted) => {
                let found = value
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| lua_eq(i, wanted)));
                check(found, || {
                    format!("expected to contain: {}", lua_tostring(wanted))
                })
            }
            Validator::Custom(id) => {
                let [ok, err] = self.functions.call(*id, value)?;
                if truthy(ok.as_ref()) {
                    return Ok(());
                }
                Err(match err {
                    Some(Value::String(s)) => s,
                    Some(other) if truthy(Some(&other)) => lua_tostring(&other),
                    _ => format!("failed validating: {}", lua_tostring(value)),
                })
            }
            Validator::MutuallyExclusiveSubsets(subsets) => {
                let mut member_of: Vec<usize> = Vec::new();
                for item in value.as_array().map(Vec::as_slice).unwrap_or_default() {
                    // Kong keys the union by element, so a later subset wins for shared ones.
                    let owner = subsets
                        .iter()
                        .rposition(|s| s.iter().any(|e| lua_eq(e, item)));
                    if let Some(owner) = owner
                        && !member_of.contains(&owner)
                    {
                        member_of.push(owner);
                    }
                }
                check(member_of.len() <= 1, || {
                    let groups: Vec<String> = member_of
                        .iter()
                        .map(|i| format!("({})", quoted(subsets[*i].iter().map(lua_tostring))))
                        .collect();
                    format!("these sets are mutually exclusive: {}", groups.join(", "))
                })
            }
        }
    }

    /// `value:match(pattern)` with Lua patterns, under the step budget.
    fn matches(&self, value: &Value, pattern: &Pattern) -> Result<bool, String> {
        let Some(subject) = value.as_str() else {
            return Err(format!("failed validating: {}", lua_tostring(value)));
        };
        pattern
            .is_match(subject.as_bytes(), self.pattern_steps)
            .map_err(|e| e.to_string())
    }

    fn run_entity_check(
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

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { failed(message) }
}

/// Messages are built out of line (here and in `field_error`), so the validators'
/// common path stays small.
#[cold]
#[inline(never)]
fn failed(message: impl FnOnce() -> String) -> Result<(), String> {
    Err(message())
}

#[cold]
#[inline(never)]
/// The error of an `eq = null` field given a value.
fn must_be_null(field: &Field) -> Result<(), ErrorTree> {
    field_error(field.err.as_deref().unwrap_or("value must be null"))
}

fn field_error(message: &str) -> Result<(), ErrorTree> {
    Err(ErrorTree::Message(message.to_string()))
}

fn invalid(value: &Value) -> String {
    format!("invalid value: {}", lua_tostring(value))
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

/// Whether values of `field` can hold records: it is one, or a collection of them.
fn holds_records(field: &Field) -> bool {
    match field.kind {
        FieldType::Record => true,
        FieldType::Array | FieldType::Set => field.elements.as_deref().is_some_and(holds_records),
        FieldType::Map => field.values.as_deref().is_some_and(holds_records),
        _ => false,
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

fn truthy(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Bool(false)))
}

/// A JSON array, or an empty object (Lua cannot tell `{}` from `[]`).
fn as_sequence(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) if map.is_empty() => Some(&[]),
        _ => None,
    }
}

/// A JSON object, or an empty array.
fn as_record(value: &Value) -> Option<&Map<String, Value>> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    match value {
        Value::Object(map) => Some(map),
        Value::Array(items) if items.is_empty() => Some(&EMPTY),
        _ => None,
    }
}

/// `#value` as Kong's length validators count it: bytes, items, or keys of a map.
fn length(value: &Value, field: &Field) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        Value::Object(map) if field.kind == FieldType::Map => map.len(),
        _ => 0,
    }
}

/// A set keeps the first of equal items; tables are never equal in Lua.
fn dedupe(items: &mut Vec<Value>) {
    let mut kept = 0;
    for i in 0..items.len() {
        let item = &items[i];
        let duplicate =
            !item.is_array() && !item.is_object() && items[..kept].iter().any(|o| lua_eq(o, item));
        if !duplicate {
            items.swap(kept, i);
            kept += 1;
        }
    }
    items.truncate(kept);
}

/// Kong's `table_merge`: `b`'s keys over `a`'s, one level.
fn merge_tables(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                a.insert(k, v);
            }
            Value::Object(a)
        }
        (_, b) => b,
    }
}

/// Kong's `null_aware_table_merge`: `b`'s keys over `a`'s, except that a null in `b`
/// does not replace a key `a` has.
fn null_aware_merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                if !v.is_null() || !a.contains_key(&k) {
                    a.insert(k, v);
                }
            }
            Value::Object(a)
        }
        (a, _) => a,
    }
}

/// Lua's `==` on two values: tables are equal only to themselves, so never here.
fn lua_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

/// Lua's `tostring` of a value, as Kong's messages print it.
pub fn lua_tostring(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => lua_number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => "table".into(),
    }
}

/// `%d` of a number: LuaJIT truncates toward zero.
fn lua_int(n: f64) -> String {
    format!("{}", n.trunc() as i64)
}

fn concat(options: &[Value]) -> String {
    options
        .iter()
        .map(lua_tostring)
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(words: impl IntoIterator<Item = String>) -> String {
    words
        .into_iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `template:format(arg)` for the `%s` templates of entity checks.
fn lua_format(template: &str, arg: &str) -> String {
    let mut out = String::with_capacity(template.len() + arg.len());
    let mut rest = template;
    let mut used = false;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.as_bytes().get(i + 1) {
            Some(b's') if !used => {
                out.push_str(arg);
                used = true;
            }
            Some(b'%') => out.push('%'),
            _ => out.push_str(&rest[i..(i + 2).min(rest.len())]),
        }
        rest = rest.get(i + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Kong's `uuid` validator: 36 characters, hex groups 8-4-4-4-12, any case.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A vault reference (`{vault://env/name}`), as Kong's `kong.vault.is_reference` tells.
pub fn is_reference(s: &str) -> bool {
    s.len() > 9 && s.starts_with("{vault://") && s.ends_with('}')
}

/// A missing field that `missing` fills by processing an empty table: a required,
/// non-abstract record without a default.
fn fills_from_empty(field: &Field) -> bool {
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
        None if fills_from_empty(field) => Some(Value::Object(Map::new())),
        _ => None,
    }
}

/// In a merge of two lists sorted by key: hands the entries before `key` to `skipped` and
/// takes the one at `key`, if any, with one comparison per entry.
fn next_with_key<K: AsRef<str>, V>(
    entries: &mut std::iter::Peekable<impl Iterator<Item = (K, V)>>,
    key: &str,
    mut skipped: impl FnMut(K, V),
) -> Option<(K, V)> {
    while let Some((k, _)) = entries.peek() {
        match k.as_ref().cmp(key) {
            std::cmp::Ordering::Less => {
                if let Some((k, v)) = entries.next() {
                    skipped(k, v);
                }
            }
            std::cmp::Ordering::Equal => return entries.next(),
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}

fn random_string() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| {
            char::from(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    [rng.random_range(0..62)],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
