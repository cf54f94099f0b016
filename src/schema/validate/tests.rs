//! Kong's validation semantics, case by case (schema-language.md §2.4–2.9).

use serde_json::{Value, json};

use super::*;
use crate::schema::definition::{Schema, from_json};
use crate::schema::errors::details;

fn schema(def: Value) -> Schema {
    Schema::parse(&from_json(&def), true).unwrap()
}

fn check(schema: &Schema, input: Value) -> Result<Value, Vec<(Option<String>, Vec<String>)>> {
    Engine::new(&mut NoFunctions, 1_000_000, 1_700_000_000.0)
        .check(schema, &input, Context::Insert)
        .map_err(|e| details(&e).into_iter().map(|d| (d.field, d.messages)).collect())
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
