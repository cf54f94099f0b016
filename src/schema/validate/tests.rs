//! Kong's validation semantics, case by case, with the texts of
//! `kong/db/schema/init.lua` (Kong 3.10), one file per topic; the cases whose schemas
//! call Lua functions are in `lua::tests`. `docs/schema-engine.md` describes the
//! language they exercise.
//!
//! Most cases are tables of `(definition, input, outcome)`. Errors are rendered as the
//! Konnect `details` entries they become: `field: message` for field errors (dotted
//! paths, `[i]` 0-based for array items) and `@field: m1 | m2` for the entity entry
//! of a level (`@: ...` at the top).

mod entity_checks;
mod properties;
mod subschemas;
mod typedefs;
mod types_and_defaults;
mod validators;

use serde_json::{Value, json};

use super::*;
use crate::schema::definition::{Schema, from_json};
use crate::schema::errors::{DetailKind, details};

pub(crate) fn schema(def: Value) -> Schema {
    Schema::parse(&from_json(&def), true).unwrap()
}

/// `(field, messages)` of each `details` entry.
type Flat = Vec<(Option<String>, Vec<String>)>;

fn check(schema: &Schema, input: Value) -> Result<Value, Flat> {
    Engine::new(&mut NoFunctions, 1_000_000, 1_700_000_000.0)
        .check(schema, &input, Context::Insert)
        .map_err(|e| {
            details(&e)
                .into_iter()
                .map(|d| (d.field, d.messages))
                .collect()
        })
}

/// The `details` entries of a failed check, one string each.
pub(crate) fn render(errors: &Errors) -> Vec<String> {
    details(errors)
        .into_iter()
        .map(|d| {
            let field = d.field.unwrap_or_default();
            let messages = d.messages.join(" | ");
            match d.kind {
                DetailKind::Entity => format!("@{field}: {messages}"),
                _ => format!("{field}: {messages}"),
            }
        })
        .collect()
}

pub(crate) fn run(schema: &Schema, input: &Value) -> Result<Value, Vec<String>> {
    Engine::new(&mut NoFunctions, 1_000_000, 1_700_000_000.0)
        .check(schema, input, Context::Insert)
        .map_err(|e| render(&e))
}

/// The errors of a check that must fail.
pub(crate) fn errs(schema: &Schema, input: Value) -> Vec<String> {
    match run(schema, &input) {
        Ok(v) => panic!("expected errors for {input}, got {v}"),
        Err(e) => e,
    }
}

/// A one-field schema `{ f = def }`.
fn one(def: Value) -> Schema {
    schema(json!({ "fields": [{ "f": def }] }))
}

/// `(definition of f, value of f, expected message or None when valid)`.
type Case = (Value, Value, Option<&'static str>);

fn table(cases: Vec<Case>) {
    for (i, (def, value, expected)) in cases.into_iter().enumerate() {
        let s = one(def.clone());
        let got = run(&s, &json!({ "f": value }));
        match (expected, got) {
            (None, Ok(_)) => {}
            (Some(message), Err(e)) => {
                assert_eq!(
                    e,
                    vec![format!("f: {message}")],
                    "case {i}: {def} with {value}"
                )
            }
            (expected, got) => {
                panic!("case {i}: {def} with {value}: expected {expected:?}, got {got:?}")
            }
        }
    }
}

#[test]
fn integers_reject_fractions_and_fill_defaults() {
    let s = schema(json!({"fields": [{"n": {"type": "integer", "default": 5, "gt": 0}}]}));
    assert_eq!(check(&s, json!({})).unwrap(), json!({"n": 5}));
    assert_eq!(
        check(&s, json!({"n": 1.5})).unwrap_err(),
        vec![(Some("n".into()), vec!["expected an integer".into()])]
    );
}
