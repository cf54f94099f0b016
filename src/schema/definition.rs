//! A schema definition ready for validation: the evaluated `schema.lua` tree parsed once
//! into fields, validators (in Kong's `validators_order`), entity checks and shorthands.
//! Functions stay in the VM that evaluated them; a [`FnId`] names one. The types and
//! their lookups are here; `parse` builds them, `json` converts definition values.

mod json;
mod parse;

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

pub use self::json::{from_json, json_number, to_json};
use super::value::SchemaValue;
use crate::lua_pattern::Pattern;

/// Index of a Lua function of the schema, as `SchemaValue::Function` carries it.
pub type FnId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Set,
    Map,
    Record,
    Foreign,
    Function,
    Json,
    /// Kong's internal marker for match definitions whose target is unknown: validators only.
    Any,
}

/// One validator with its argument, as Kong's `Schema.validators` take them.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    Eq(Value),
    Ne(Value),
    NotOneOf(Vec<Value>),
    OneOf(Vec<Value>),
    Gt(f64),
    Timestamp,
    Uuid,
    IsRegex,
    Between(f64, f64),
    LenEq(f64),
    LenMin(f64),
    LenMax(f64),
    StartsWith(String),
    NotMatch(Pattern),
    MatchNone(Vec<PatternRule>),
    Match(Pattern),
    MatchAll(Vec<PatternRule>),
    MatchAny {
        patterns: Vec<Pattern>,
        err: Option<String>,
    },
    Contains(Value),
    Custom(FnId),
    /// A typedef's `custom_validator` run in Rust: never parsed from a schema, added to
    /// the definitions konnektd writes in Rust (the plugin entity's base fields).
    Native(Native),
    MutuallyExclusiveSubsets(Vec<Vec<Value>>),
}

/// The typedef validators [`Validator::Native`] runs, with the texts of Kong 3.10's
/// `kong/db/schema/typedefs.lua` (as `src/lua/typedefs.lua` gives them to Lua schemas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    /// `typedefs.tag`'s `validate_tag`.
    Tag,
    /// `typedefs.utf8_name`'s `validate_utf8_name`.
    Utf8Name,
}

/// A `{ pattern = ..., err = ... }` entry of `match_all` / `match_none`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternRule {
    pub pattern: Pattern,
    pub err: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub kind: FieldType,
    /// `None` when the definition does not say; Kong treats that as not required.
    pub required: Option<bool>,
    pub default: Option<Value>,
    pub auto: bool,
    pub abstract_: bool,
    pub referenceable: bool,
    pub encrypted: bool,
    pub immutable: bool,
    pub uuid: bool,
    pub reference: Option<String>,
    pub err: Option<String>,
    /// `eq = ngx.null` and `ne = ngx.null` are special-cased before type checks.
    pub eq_null: bool,
    pub ne_null: bool,
    pub validators: Vec<Validator>,
    pub elements: Option<Box<Field>>,
    pub keys: Option<Box<Field>>,
    pub values: Option<Box<Field>>,
    pub record: Option<Arc<Schema>>,
    /// For a foreign field, the referenced entity's schema, when konnektd knows it: Kong
    /// validates a value whose primary key is invalid against it (see
    /// `validate_foreign_key`). Set by the entity layer, never parsed.
    pub foreign_schema: Option<Arc<Schema>>,
    /// The definition as written, for entity checks whose `if_match` inherits from it.
    pub raw: SchemaValue,
    /// Whether `default` passes this field's own validation, learnt by the first
    /// validation that meets it (see `Engine::validate`).
    pub default_valid: OnceLock<bool>,
}

impl Field {
    pub fn is_required(&self) -> bool {
        self.required == Some(true)
    }

    /// Neither a record nor a collection, nor abstract: filling defaults has nothing
    /// inside it to walk.
    pub fn is_scalar(&self) -> bool {
        !self.abstract_
            && !matches!(
                self.kind,
                FieldType::Record | FieldType::Array | FieldType::Set | FieldType::Map
            )
    }

    /// Whether this field (or anything inside it) calls into Lua.
    pub fn has_functions(&self) -> bool {
        self.validators
            .iter()
            .any(|v| matches!(v, Validator::Custom(_)))
            || self.elements.as_ref().is_some_and(|f| f.has_functions())
            || self.keys.as_ref().is_some_and(|f| f.has_functions())
            || self.values.as_ref().is_some_and(|f| f.has_functions())
            || self.record.as_ref().is_some_and(|s| s.has_functions())
    }

    /// Whether a record anywhere inside this field declares shorthand fields.
    pub fn has_shorthands(&self) -> bool {
        self.elements.as_ref().is_some_and(|f| f.has_shorthands())
            || self.keys.as_ref().is_some_and(|f| f.has_shorthands())
            || self.values.as_ref().is_some_and(|f| f.has_shorthands())
            || self.record.as_ref().is_some_and(|s| s.has_shorthands())
    }
}

#[derive(Debug, Clone)]
pub struct Shorthand {
    pub name: String,
    pub field: Field,
    pub func: Option<FnId>,
    pub deprecated: bool,
}

/// Options every entity check argument may carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckFlags {
    pub run_with_missing_fields: bool,
    pub run_with_invalid_fields: bool,
}

#[derive(Debug, Clone)]
pub enum EntityCheck {
    AtLeastOneOf(Vec<String>),
    OnlyOneOf(Vec<String>),
    Distinct(Vec<String>),
    MutuallyRequired(Vec<String>),
    MutuallyExclusive(Vec<String>),
    MutuallyExclusiveSets {
        set1: Vec<String>,
        set2: Vec<String>,
    },
    Conditional {
        if_field: String,
        if_match: Box<Field>,
        then_field: String,
        then_match: Box<Field>,
        then_match_required: bool,
        then_err: Option<String>,
    },
    ConditionalAtLeastOneOf {
        if_field: String,
        if_match: Box<Field>,
        then_at_least_one_of: Vec<String>,
        then_err: Option<String>,
        else_match: Option<Box<Field>>,
        else_then_at_least_one_of: Vec<String>,
        else_then_err: Option<String>,
    },
    Custom {
        field_sources: Vec<String>,
        func: FnId,
    },
}

#[derive(Debug, Clone)]
pub struct Check {
    pub check: EntityCheck,
    pub flags: CheckFlags,
}

/// One level of a schema: an entity, or a record field's sub-schema.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub fields: Vec<(String, Field)>,
    pub checks: Vec<Check>,
    pub shorthands: Vec<Shorthand>,
    /// Kong's subschemas: the value of this field picks one (routes by protocol,
    /// plugins by name); its fields replace the parent's and its checks run after.
    pub subschema_key: Option<String>,
    pub subschemas: Vec<(String, Arc<Schema>)>,
    /// Kong's `subschema_error`: the message (a `%s` template) when no subschema fits.
    pub subschema_error: Option<String>,
    /// Positions in `fields` in the byte order of their names (equal names in definition
    /// order), the order of a JSON object's keys: a record is walked against its schema in
    /// one merge instead of a lookup per field, and a name is found by binary search.
    by_name: Vec<usize>,
    /// Whether two fields share a name (Kong allows it; the last one wins a lookup).
    repeated_names: bool,
    /// How many fields are records: a record's walk adds at most its missing fields and
    /// these (see `validate::Engine::process_record`), and a list sized so needs no
    /// regrowth (which cost 3,700 of 41,300 instructions per declarative validation).
    record_fields: usize,
    /// Whether a Lua function is called anywhere in it (see `has_functions`).
    functions: bool,
    /// Whether any level of it declares shorthand fields (see `has_shorthands`).
    shorthands_anywhere: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema definition: {0}")]
pub struct DefinitionError(pub String);

impl Schema {
    /// The subschema `data` selects: by a string key, or the first listed one of a set.
    pub fn subschema_for(&self, data: &Map<String, Value>) -> Option<&Schema> {
        let key = self.subschema_key.as_deref()?;
        let find = |name: &str| {
            self.subschemas
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| &**s)
        };
        match data.get(key)? {
            Value::String(name) => find(name),
            Value::Array(items) => items.iter().filter_map(Value::as_str).find_map(find),
            _ => None,
        }
    }

    /// A record with no fields (a record field without its own schema).
    pub fn empty() -> &'static Schema {
        static EMPTY: std::sync::LazyLock<Schema> = std::sync::LazyLock::new(Schema::default);
        &EMPTY
    }

    /// The fields sorted by name (see `by_name`).
    pub fn fields_by_name(&self) -> impl Iterator<Item = &(String, Field)> {
        self.by_name.iter().map(|&i| &self.fields[i])
    }

    pub fn has_repeated_names(&self) -> bool {
        self.repeated_names
    }

    pub fn record_fields(&self) -> usize {
        self.record_fields
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        // The last of equal names, as Kong's `fields[name]` keeps it.
        let end = self
            .by_name
            .partition_point(|&i| self.fields[i].0.as_str() <= name);
        let (found, field) = &self.fields[*self.by_name[..end].last()?];
        (found == name).then_some(field)
    }

    /// A field by dotted path (`config.redis.host`), through record fields.
    pub fn field_at(&self, path: &str) -> Option<&Field> {
        match path.split_once('.') {
            None => self.field(path),
            Some((head, rest)) => self.field(head)?.record.as_deref()?.field_at(rest),
        }
    }

    /// Whether any part of the schema needs the Lua VM.
    pub fn has_functions(&self) -> bool {
        self.functions
    }

    /// Whether this level, a subschema or a record anywhere inside declares shorthand
    /// fields: without them, processing (`process_auto_fields`) calls no Lua and cannot
    /// fail, only fill.
    pub fn has_shorthands(&self) -> bool {
        self.shorthands_anywhere
    }
}

impl EntityCheck {
    fn has_functions(&self) -> bool {
        match self {
            EntityCheck::Conditional {
                if_match,
                then_match,
                ..
            } => if_match.has_functions() || then_match.has_functions(),
            EntityCheck::ConditionalAtLeastOneOf {
                if_match,
                else_match,
                ..
            } => if_match.has_functions() || else_match.as_ref().is_some_and(|m| m.has_functions()),
            EntityCheck::Custom { .. } => true,
            _ => false,
        }
    }
}
