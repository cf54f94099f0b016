//! Kong's validation of an entity against its schema (`kong/db/schema/init.lua`, 3.10):
//! `process_auto_fields` (shorthands, auto values, defaults) then `validate` (fields,
//! required fields, entity checks), with Kong's order of checks and its message texts.
//! Lua functions of the schema are called through [`Functions`]; nothing here runs Lua.
//!
//! One [`Engine`] runs it all; its methods are split by job: `process` (the walk that
//! fills a record, validating as it goes on insert and upsert), `defaults` (auto values,
//! defaults, records and collections filled), `shorthands`, `fields` (`Schema:validate`
//! and `validate_field`), `validators` (the field validators), `entity_checks`, and
//! `lua_values` (Lua's view of the JSON values messages and functions see).

mod defaults;
mod entity_checks;
mod fields;
mod lua_values;
mod process;
mod shorthands;
#[cfg(test)]
pub(crate) mod tests;
mod validators;

use serde_json::Value;

pub use self::entity_checks::get_field;
pub use self::lua_values::lua_tostring;
pub use self::validators::{is_reference, is_uuid};
use super::definition::{FnId, Schema};
use super::errors::Errors;
use super::filled::Filled;

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
    /// Set while a foreign key's value is validated against the referenced entity's
    /// schema, whose Lua functions live in another VM: they are not called (their checks
    /// pass), which can only change which message a refused reference gets.
    foreign: bool,
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
            foreign: false,
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
        if context != Context::Update && one_walk(schema) {
            // Insert and upsert fill nested defaults, so every record is validated as
            // processed (see `validate_field`); nothing observes the order of the two
            // walks (see `one_walk`), so they are one.
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
        self.check_two_walks(schema, input, context)
    }

    /// Kong's order, always: process the whole entity, then validate it.
    pub(crate) fn check_two_walks(
        &mut self,
        schema: &Schema,
        input: Value,
        context: Context,
    ) -> Result<Filled, Errors> {
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
}

/// Whether filling and validating in one walk is the same as Kong's two (process every
/// field, then validate the processed entity). It is without Lua functions. With them,
/// it still is when no level has shorthand fields: processing then calls no Lua and
/// cannot fail, and the one walk validates each record's keys in the order `validate`
/// does (sorted, nested records when their key comes, a record's own validators after
/// its fields, entity checks last), each on its final value, so the functions are called
/// in the same order with the same arguments.
fn one_walk(schema: &Schema) -> bool {
    !schema.has_functions() || !schema.has_shorthands()
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
