//! Kong's validation semantics, case by case (schema-language.md §2.4–2.9), with the
//! texts of `kong/db/schema/init.lua` (Kong 3.10).
//!
//! Most cases are tables of `(definition, input, outcome)`. Errors are rendered as the
//! Konnect `details` entries they become: `field: message` for field errors (dotted
//! paths, `[i]` 0-based for array items) and `@field: m1 | m2` for the entity entry
//! of a level (`@: ...` at the top).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::lua::compiled::CompiledSchema;
use crate::lua::sandbox::Limits;
use crate::schema::definition::{Schema, from_json};
use crate::schema::errors::{DetailKind, details};
use crate::schema::value::SchemaValue;

fn schema(def: Value) -> Schema {
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
fn render(errors: &Errors) -> Vec<String> {
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

fn run(schema: &Schema, input: &Value) -> Result<Value, Vec<String>> {
    Engine::new(&mut NoFunctions, 1_000_000, 1_700_000_000.0)
        .check(schema, input, Context::Insert)
        .map_err(|e| render(&e))
}

/// The errors of a check that must fail.
fn errs(schema: &Schema, input: Value) -> Vec<String> {
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

// ---------------------------------------------------------------------------------
// Types, presence, defaults
// ---------------------------------------------------------------------------------

/// Kong validates a filled-in default like any value: one its own validators reject
/// fails every insert that relies on it, given or filled, however often it is met; one
/// they accept passes (the engine learns that once per field).
#[test]
fn defaults_are_validated_like_given_values() {
    let s = schema(json!({"fields": [
        {"bad": {"type": "integer", "default": 5, "between": [10, 20]}},
        {"good": {"type": "string", "default": "X-Consumer", "match": "^X%-%a+"}},
        // Collections of scalars are learnt the same way.
        {"bad_set": {"type": "set", "default": ["a", "z"],
            "elements": {"type": "string", "one_of": ["a", "b"]}}},
        {"good_map": {"type": "map", "default": {"k": 1},
            "keys": {"type": "string"}, "values": {"type": "integer", "gt": 0}}},
    ]}));
    let set_error = "bad_set[1]: expected one of: a, b";
    for _ in 0..3 {
        assert_eq!(
            errs(&s, json!({"bad_set": ["b"]})),
            vec!["bad: value should be between 10 and 20"]
        );
        assert_eq!(errs(&s, json!({"bad": 12})), vec![set_error]);
        assert_eq!(
            errs(
                &s,
                json!({"bad": 12, "bad_set": ["a"], "good_map": {"k": 0}})
            ),
            vec!["good_map: value must be greater than 0"]
        );
        assert_eq!(
            errs(
                &s,
                json!({"bad": 5, "good": "X-Consumer", "bad_set": ["a"]})
            ),
            vec!["bad: value should be between 10 and 20"]
        );
        assert_eq!(
            run(&s, &json!({"bad": 12, "bad_set": ["b", "b"]})).unwrap(),
            json!({"bad": 12, "good": "X-Consumer", "bad_set": ["b"], "good_map": {"k": 1}})
        );
        assert_eq!(
            errs(&s, json!({"bad": 12, "good": "Y-Consumer", "bad_set": []})),
            vec!["good: invalid value: Y-Consumer"]
        );
    }
}

#[test]
fn every_type_has_its_type_error() {
    let strings = json!({"type": "string"});
    table(vec![
        (
            json!({"type": "string"}),
            json!(5),
            Some("expected a string"),
        ),
        (
            json!({"type": "string"}),
            json!(true),
            Some("expected a string"),
        ),
        (json!({"type": "string"}), json!("x"), None),
        (
            json!({"type": "number"}),
            json!("1"),
            Some("expected a number"),
        ),
        (json!({"type": "number"}), json!(1.5), None),
        (
            json!({"type": "integer"}),
            json!(1.5),
            Some("expected an integer"),
        ),
        (
            json!({"type": "integer"}),
            json!("1"),
            Some("expected an integer"),
        ),
        // A Lua number with `v == floor(v)`: JSON 10.0 is an integer.
        (json!({"type": "integer"}), json!(10.0), None),
        (
            json!({"type": "boolean"}),
            json!("yes"),
            Some("expected a boolean"),
        ),
        (
            json!({"type": "boolean"}),
            json!(0),
            Some("expected a boolean"),
        ),
        (json!({"type": "boolean"}), json!(false), None),
        (
            json!({"type": "array", "elements": strings}),
            json!("x"),
            Some("expected an array"),
        ),
        (
            json!({"type": "array", "elements": strings}),
            json!({"a": "b"}),
            Some("expected an array"),
        ),
        // An empty table is a sequence.
        (
            json!({"type": "array", "elements": strings}),
            json!({}),
            None,
        ),
        (
            json!({"type": "set", "elements": strings}),
            json!("x"),
            Some("expected a set"),
        ),
        (
            json!({"type": "set", "elements": strings}),
            json!({"a": 1}),
            Some("expected a set"),
        ),
        (
            json!({"type": "map", "keys": strings, "values": strings}),
            json!("x"),
            Some("expected a map"),
        ),
        (
            json!({"type": "map", "keys": strings, "values": strings}),
            json!(3),
            Some("expected a map"),
        ),
        (
            json!({"type": "map", "keys": strings, "values": strings}),
            json!([]),
            None,
        ),
        (
            json!({"type": "record", "fields": [{"a": strings}]}),
            json!("x"),
            Some("expected a record"),
        ),
        (
            json!({"type": "record", "fields": [{"a": strings}]}),
            json!(7),
            Some("expected a record"),
        ),
        // JSON [] passes as an empty record.
        (
            json!({"type": "record", "fields": [{"a": strings}]}),
            json!([]),
            None,
        ),
    ]);
}

#[test]
fn foreign_keys_are_checked_against_the_primary_key() {
    let s = one(json!({"type": "foreign", "reference": "consumers"}));
    let id = "3f9e2c4a-6b1d-4c8e-9a7f-0123456789ab";
    for (value, expected) in [
        (
            json!({"id": "not-a-uuid"}),
            vec!["f.id: expected a valid UUID"],
        ),
        (json!({"id": 5}), vec!["f.id: expected a string"]),
        (json!({"id": null}), vec!["f.id: required field missing"]),
        (json!({}), vec!["f.id: missing primary key"]),
        (json!("x"), vec!["f.id: missing primary key"]),
    ] {
        assert_eq!(errs(&s, json!({"f": value})), expected, "{value}");
    }
    let ok = run(&s, &json!({"f": {"id": id.to_uppercase()}})).unwrap();
    assert_eq!(ok["f"]["id"], json!(id.to_uppercase()));
    assert_eq!(run(&s, &json!({})).unwrap(), json!({"f": null}));
}

#[test]
fn required_and_unknown_fields() {
    let s = schema(json!({"fields": [
        {"a": {"type": "string", "required": true}},
        {"b": {"type": "integer"}},
    ]}));
    assert_eq!(errs(&s, json!({})), ["a: required field missing"]);
    assert_eq!(errs(&s, json!({"a": null})), ["a: required field missing"]);
    assert_eq!(
        errs(&s, json!({"zz": 1, "b": "x"})),
        [
            "a: required field missing",
            "b: expected an integer",
            "zz: unknown field"
        ]
    );
    // Absent and not required: null, and it stays null.
    assert_eq!(
        run(&s, &json!({"a": "x"})).unwrap(),
        json!({"a": "x", "b": null})
    );
}

#[test]
fn explicit_null_is_kept_and_absent_gets_the_default() {
    let s = schema(json!({"fields": [
        {"n": {"type": "integer", "default": 3}},
        {"l": {"type": "array", "elements": {"type": "string"}, "default": ["a"]}},
        {"s": {"type": "string"}},
    ]}));
    assert_eq!(
        run(&s, &json!({})).unwrap(),
        json!({"n": 3, "l": ["a"], "s": null})
    );
    assert_eq!(
        run(&s, &json!({"n": null, "l": null})).unwrap(),
        json!({"n": null, "l": null, "s": null})
    );
}

#[test]
fn updated_at_is_never_validated() {
    // Kong's `unvalidated_fields`: no `unknown field`, no type check.
    let s = schema(json!({"fields": [{"a": {"type": "string"}}]}));
    assert!(run(&s, &json!({"updated_at": "whenever"})).is_ok());
    let s = schema(json!({"fields": [{"updated_at": {"type": "integer"}}]}));
    assert!(run(&s, &json!({"updated_at": "x"})).is_ok());
}

#[test]
fn missing_records_are_expanded_with_their_defaults() {
    let s = schema(json!({"fields": [
        {"r": {"type": "record", "fields": [
            {"x": {"type": "integer", "default": 1}},
            {"y": {"type": "string"}},
            {"inner": {"type": "record", "fields": [{"z": {"type": "boolean", "default": true}}]}},
        ]}},
        {"opt": {"type": "record", "required": false, "fields": [{"q": {"type": "integer", "default": 2}}]}},
    ]}));
    assert_eq!(
        run(&s, &json!({})).unwrap(),
        json!({"r": {"x": 1, "y": null, "inner": {"z": true}}, "opt": null})
    );
    // Present records get their nested defaults too.
    assert_eq!(
        run(&s, &json!({"r": {"y": "a"}, "opt": {}})).unwrap(),
        json!({"r": {"x": 1, "y": "a", "inner": {"z": true}}, "opt": {"q": 2}})
    );
    // A record is required under `Schema::parse(.., true)`: explicit null fails.
    assert_eq!(errs(&s, json!({"r": null})), ["r: required field missing"]);
    assert_eq!(
        errs(&s, json!({"r": {"x": "1", "zz": 0}})),
        ["r.x: expected an integer", "r.zz: unknown field"]
    );
}

/// Kong's `adjust_field_for_context`: a missing record is `value or
/// handle_missing_field(..)`, so its own default comes first and its fields' defaults
/// fill the rest; without a default it is filled from nothing.
#[test]
fn a_missing_record_starts_from_its_own_default() {
    let s = schema(json!({"fields": [
        {"r": {"type": "record", "default": {"x": 5}, "fields": [
            {"x": {"type": "integer", "default": 1, "between": [0, 9]}},
            {"y": {"type": "integer", "default": 2}},
        ]}},
        {"plain": {"type": "record", "fields": [{"x": {"type": "integer", "default": 1}}]}},
    ]}));
    assert_eq!(
        run(&s, &json!({})).unwrap(),
        json!({"r": {"x": 5, "y": 2}, "plain": {"x": 1}})
    );
    // The default is validated like a given value.
    let s = schema(json!({"fields": [
        {"r": {"type": "record", "default": {"x": 50}, "fields": [
            {"x": {"type": "integer", "between": [0, 9]}},
        ]}},
    ]}));
    assert_eq!(
        errs(&s, json!({})),
        ["r.x: value should be between 0 and 9"]
    );
}

/// The write path's form (`check_filled`) of records met each way: given as a table, as
/// `[]`, missing, optional and missing, and with entity checks of their own (built as one
/// tree for the checks). Written out, it is the tree `check` returns.
#[test]
fn the_filled_form_writes_out_every_kind_of_record_as_its_tree() {
    let s = schema(json!({"fields": [
        {"given": {"type": "record", "fields": [
            {"a": {"type": "integer", "default": 1}},
            {"deep": {"type": "record", "fields": [{"d": {"type": "string", "default": "x"}}]}},
        ]}},
        {"empty": {"type": "record", "fields": [{"e": {"type": "integer", "default": 2}}]}},
        {"missing": {"type": "record", "fields": [{"m": {"type": "boolean", "default": true}}]}},
        {"optional": {"type": "record", "required": false, "fields": [{"o": {"type": "integer"}}]}},
        {"checked": {"type": "record",
            "fields": [{"c1": {"type": "integer"}}, {"c2": {"type": "integer", "default": 5}}],
            "entity_checks": [{"at_least_one_of": ["c1", "c2"]}]}},
        {"z": {"type": "string", "default": "last"}},
    ]}));
    let input = json!({"given": {"deep": {}}, "empty": [], "checked": {"c1": 1}, "zz": null});
    let mut functions = NoFunctions;
    let mut engine = Engine::new(&mut functions, 1_000_000, 1_700_000_000.0);
    assert_eq!(
        engine
            .check_filled(&s, input.clone(), Context::Insert)
            .err()
            .map(|e| render(&e)),
        Some(vec!["zz: unknown field".to_string()])
    );
    let input = json!({"given": {"deep": {}}, "empty": [], "checked": {"c1": 1}});
    let filled = engine
        .check_filled(&s, input.clone(), Context::Insert)
        .unwrap();
    let expected = json!({
        "given": {"a": 1, "deep": {"d": "x"}}, "empty": {"e": 2}, "missing": {"m": true},
        "optional": null, "checked": {"c1": 1, "c2": 5}, "z": "last",
    });
    assert_eq!(run(&s, &input).unwrap(), expected);
    assert_eq!(
        serde_json::to_string(&filled).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    assert_eq!(filled.get("z"), Some(&json!("last")));
    assert_eq!(filled.get("checked"), Some(&json!({"c1": 1, "c2": 5})));
    assert_eq!(filled.into_value(), expected);
}

#[test]
fn records_inside_arrays_get_defaults() {
    let s = schema(json!({"fields": [
        {"arr_rec": {"type": "array", "elements": {"type": "record", "fields": [
            {"k": {"type": "string"}},
            {"v": {"type": "integer", "default": 7}},
            // Not made required: Entity's rule stops at array elements.
            {"sub": {"type": "record", "fields": [{"w": {"type": "integer", "default": 1}}]}},
        ]}}},
    ]}));
    assert_eq!(
        run(&s, &json!({"arr_rec": [{"k": "a"}, {"v": 1, "sub": {}}]})).unwrap(),
        json!({"arr_rec": [{"k": "a", "v": 7, "sub": null}, {"k": null, "v": 1, "sub": {"w": 1}}]})
    );
    // Items are required; errors are keyed by index, 0-based in details.
    assert_eq!(
        errs(&s, json!({"arr_rec": [{"k": "a"}, null, {"v": "x"}]})),
        [
            "arr_rec[1]: required field missing",
            "arr_rec[2].v: expected an integer"
        ]
    );
}

#[test]
fn sets_are_deduplicated_but_not_their_defaults() {
    let s = schema(json!({"fields": [
        {"tags": {"type": "set", "elements": {"type": "string"}}},
        {"nums": {"type": "set", "elements": {"type": "integer"}}},
        {"dflt": {"type": "set", "elements": {"type": "string"}, "default": ["x", "x"]}},
        {"list": {"type": "array", "elements": {"type": "string"}}},
    ]}));
    assert_eq!(
        run(
            &s,
            &json!({"tags": ["a", "b", "a"], "nums": [1, 1.0, 2], "list": ["a", "a"]})
        )
        .unwrap(),
        json!({"tags": ["a", "b"], "nums": [1, 2], "dflt": ["x", "x"], "list": ["a", "a"]})
    );
    // A JSON `{}` is an empty sequence; Kong stores it as `[]` (make_array/make_set).
    assert_eq!(
        run(&s, &json!({"tags": {}, "list": {}})).unwrap(),
        json!({"tags": [], "nums": null, "dflt": ["x", "x"], "list": []})
    );
    assert_eq!(
        errs(&s, json!({"tags": ["a", 1]})),
        ["tags[1]: expected a string"]
    );
}

#[test]
fn maps_check_keys_and_values() {
    let s = one(json!({"type": "map",
        "keys": {"type": "string", "match": "^%l+$"},
        "values": {"type": "integer", "gt": 0}}));
    assert!(run(&s, &json!({"f": {"a": 1, "b": 2}})).is_ok());
    // The first failure is one message for the whole map.
    assert_eq!(
        errs(&s, json!({"f": {"a": 0}})),
        ["f: value must be greater than 0"]
    );
    assert_eq!(errs(&s, json!({"f": {"A": 1}})), ["f: invalid value: A"]);
    assert_eq!(
        errs(&s, json!({"f": {"a": null}})),
        ["f: required field missing"]
    );
}

#[test]
fn strings_reject_empty_unless_len_min_says_otherwise() {
    table(vec![
        (
            json!({"type": "string"}),
            json!(""),
            Some("length must be at least 1"),
        ),
        (json!({"type": "string", "len_min": 0}), json!(""), None),
        (
            json!({"type": "string", "len_min": 3}),
            json!("ab"),
            Some("length must be at least 3"),
        ),
    ]);
}

#[test]
fn referenceable_strings_take_vault_references_and_skip_validators() {
    let def = json!({"type": "string", "referenceable": true, "len_min": 50, "match": "^x", "one_of": ["x"]});
    table(vec![
        (def.clone(), json!("{vault://env/x}"), None),
        (def.clone(), json!("{vault://}"), None),
        (def.clone(), json!("abc"), Some("expected one of: x")),
        (def.clone(), json!(5), Some("expected a string")),
        (
            def.clone(),
            json!("{vault:/env/x}"),
            Some("expected one of: x"),
        ),
        // Without `referenceable` a reference is a plain string.
        (
            json!({"type": "string", "match": "^x"}),
            json!("{vault://env/x}"),
            Some("invalid value: {vault://env/x}"),
        ),
    ]);
}

// ---------------------------------------------------------------------------------
// Validators
// ---------------------------------------------------------------------------------

#[test]
fn every_validator_with_its_message() {
    let s = json!({"type": "string"});
    table(vec![
        // eq / ne
        (
            json!({"type": "string", "eq": "x"}),
            json!("y"),
            Some("value must be x"),
        ),
        (json!({"type": "string", "eq": "x"}), json!("x"), None),
        (
            json!({"type": "integer", "eq": 5}),
            json!(6),
            Some("value must be 5"),
        ),
        (
            json!({"type": "string", "eq": null}),
            json!("a"),
            Some("value must be null"),
        ),
        (
            json!({"type": "string", "eq": null, "err": "must be unset"}),
            json!("a"),
            Some("must be unset"),
        ),
        (json!({"type": "string", "eq": null}), json!(null), None),
        (
            json!({"type": "string", "ne": "x"}),
            json!("x"),
            Some("value must not be x"),
        ),
        (json!({"type": "string", "ne": "x"}), json!("y"), None),
        (
            json!({"type": "string", "ne": null}),
            json!(null),
            Some("value must not be null"),
        ),
        // not_one_of / one_of, numbers printed as LuaJIT's tostring (%.14g)
        (
            json!({"type": "string", "not_one_of": ["a", "b"]}),
            json!("a"),
            Some("must not be one of: a, b"),
        ),
        (
            json!({"type": "string", "not_one_of": ["a", "b"]}),
            json!("c"),
            None,
        ),
        (
            json!({"type": "string", "one_of": ["a", "b"]}),
            json!("c"),
            Some("expected one of: a, b"),
        ),
        (
            json!({"type": "number", "one_of": [1, 0.1, 1e15, 2.5, -3]}),
            json!(3),
            Some("expected one of: 1, 0.1, 1e+15, 2.5, -3"),
        ),
        (
            json!({"type": "number", "one_of": [1, 0.1]}),
            json!(1.0),
            None,
        ),
        (
            json!({"type": "integer", "one_of": [-1, 1]}),
            json!(0),
            Some("expected one of: -1, 1"),
        ),
        // gt
        (
            json!({"type": "number", "gt": 0.5}),
            json!(0.5),
            Some("value must be greater than 0.5"),
        ),
        (
            json!({"type": "integer", "gt": 0}),
            json!(0),
            Some("value must be greater than 0"),
        ),
        (json!({"type": "integer", "gt": 0}), json!(1), None),
        // timestamp
        (
            json!({"type": "number", "timestamp": true}),
            json!(0),
            Some("expected a valid timestamp"),
        ),
        (
            json!({"type": "integer", "timestamp": true}),
            json!(-1),
            Some("expected a valid timestamp"),
        ),
        (
            json!({"type": "integer", "timestamp": true}),
            json!(1_700_000_000),
            None,
        ),
        // uuid
        (
            json!({"type": "string", "uuid": true}),
            json!("x"),
            Some("expected a valid UUID"),
        ),
        (
            json!({"type": "string", "uuid": true}),
            json!("3f9e2c4a-6b1d-4c8e-9a7f-0123456789ag"),
            Some("expected a valid UUID"),
        ),
        (
            json!({"type": "string", "uuid": true}),
            json!("3F9E2C4A-6B1D-4C8E-9A7F-0123456789AB"),
            None,
        ),
        // is_regex
        (
            json!({"type": "string", "is_regex": true}),
            json!("("),
            Some("not a valid regex: ("),
        ),
        (
            json!({"type": "string", "is_regex": true}),
            json!("^a+[0-9]$"),
            None,
        ),
        // between: %d truncates
        (
            json!({"type": "number", "between": [0.001, 1e6]}),
            json!(0),
            Some("value should be between 0 and 1000000"),
        ),
        (
            json!({"type": "number", "between": [0.5, 9.5]}),
            json!(10),
            Some("value should be between 0 and 9"),
        ),
        (
            json!({"type": "integer", "between": [0, 65535]}),
            json!(65536),
            Some("value should be between 0 and 65535"),
        ),
        (
            json!({"type": "integer", "between": [0, 65535]}),
            json!(65535),
            None,
        ),
        (
            json!({"type": "number", "between": [0.001, 1e6]}),
            json!(0.001),
            None,
        ),
        // len_eq / len_min / len_max: bytes of strings, items of arrays, keys of maps
        (
            json!({"type": "string", "len_eq": 2}),
            json!("abc"),
            Some("length must be 2"),
        ),
        (json!({"type": "string", "len_eq": 2}), json!("é"), None),
        (
            json!({"type": "string", "len_max": 5}),
            json!("ééé"),
            Some("length must be at most 5"),
        ),
        (json!({"type": "string", "len_min": 2}), json!("é"), None),
        (
            json!({"type": "array", "elements": s, "len_eq": 2}),
            json!(["a"]),
            Some("length must be 2"),
        ),
        (
            json!({"type": "array", "elements": s, "len_min": 1}),
            json!([]),
            Some("length must be at least 1"),
        ),
        (
            json!({"type": "set", "elements": s, "len_max": 1}),
            json!(["a", "b"]),
            Some("length must be at most 1"),
        ),
        (
            json!({"type": "map", "keys": s, "values": s, "len_max": 1}),
            json!({"a": "1", "b": "2"}),
            Some("length must be at most 1"),
        ),
        (
            json!({"type": "map", "keys": s, "values": s, "len_min": 2}),
            json!({"a": "1"}),
            Some("length must be at least 2"),
        ),
        (
            json!({"type": "map", "keys": s, "values": s, "len_eq": 2}),
            json!({"a": "1", "b": "2"}),
            None,
        ),
        // starts_with
        (
            json!({"type": "string", "starts_with": "/"}),
            json!("abc"),
            Some("should start with: /"),
        ),
        (
            json!({"type": "string", "starts_with": "/"}),
            json!("/abc"),
            None,
        ),
        // match / not_match: Lua patterns
        (
            json!({"type": "string", "match": "^%d+$"}),
            json!("12a"),
            Some("invalid value: 12a"),
        ),
        (
            json!({"type": "string", "match": "^%d+$"}),
            json!("123"),
            None,
        ),
        (
            json!({"type": "string", "match": "^[%w-]+%.com$"}),
            json!("a-b.com"),
            None,
        ),
        (
            json!({"type": "string", "match": "^[%w-]+%.com$"}),
            json!("a_b.com"),
            Some("invalid value: a_b.com"),
        ),
        (
            json!({"type": "string", "not_match": "%s"}),
            json!("a b"),
            Some("invalid value: a b"),
        ),
        (
            json!({"type": "string", "not_match": "%s"}),
            json!("ab"),
            None,
        ),
        // match_all / match_none / match_any: the entry's err, else "invalid value"
        (
            json!({"type": "string", "match_all": [{"pattern": "^a", "err": "must start with a"}, {"pattern": "z$", "err": "must end with z"}]}),
            json!("ab"),
            Some("must end with z"),
        ),
        (
            json!({"type": "string", "match_all": [{"pattern": "^a", "err": "must start with a"}, {"pattern": "z$", "err": "must end with z"}]}),
            json!("b"),
            Some("must start with a"),
        ),
        (
            json!({"type": "string", "match_all": [{"pattern": "^a"}]}),
            json!("b"),
            Some("invalid value: b"),
        ),
        (
            json!({"type": "string", "match_all": [{"pattern": "^a", "err": "e"}]}),
            json!("az"),
            None,
        ),
        (
            json!({"type": "string", "match_none": [{"pattern": "//", "err": "must not have empty segments"}]}),
            json!("/a//b"),
            Some("must not have empty segments"),
        ),
        (
            json!({"type": "string", "match_none": [{"pattern": "//", "err": "must not have empty segments"}]}),
            json!("/a/b"),
            None,
        ),
        (
            json!({"type": "string", "match_any": {"patterns": ["^a", "^b"], "err": "must start with a or b"}}),
            json!("c"),
            Some("must start with a or b"),
        ),
        (
            json!({"type": "string", "match_any": {"patterns": ["^a", "^b"]}}),
            json!("c"),
            Some("invalid value: c"),
        ),
        (
            json!({"type": "string", "match_any": {"patterns": ["^a", "^b"], "err": "e"}}),
            json!("b"),
            None,
        ),
        // contains
        (
            json!({"type": "array", "elements": s, "contains": "x"}),
            json!(["a"]),
            Some("expected to contain: x"),
        ),
        (
            json!({"type": "array", "elements": s, "contains": "x"}),
            json!(["a", "x"]),
            None,
        ),
        (
            json!({"type": "array", "elements": {"type": "integer"}, "contains": 2}),
            json!([1]),
            Some("expected to contain: 2"),
        ),
        // mutually_exclusive_subsets
        (
            json!({"type": "set", "elements": s, "mutually_exclusive_subsets": [["a", "b"], ["c"]]}),
            json!(["a", "c"]),
            Some("these sets are mutually exclusive: ('a', 'b'), ('c')"),
        ),
        (
            json!({"type": "set", "elements": s, "mutually_exclusive_subsets": [["a", "b"], ["c"]]}),
            json!(["c", "z", "b"]),
            Some("these sets are mutually exclusive: ('c'), ('a', 'b')"),
        ),
        (
            json!({"type": "set", "elements": s, "mutually_exclusive_subsets": [["a", "b"], ["c"]]}),
            json!(["a", "b", "z"]),
            None,
        ),
    ]);
}

#[test]
fn eq_on_an_optional_field_fails_when_absent() {
    // Absent becomes null, and a null fails `eq = "x"` (without `err`).
    let s = one(json!({"type": "string", "eq": "x", "err": "not used for null"}));
    assert_eq!(errs(&s, json!({})), ["f: value must be x"]);
    // `ne = ngx.null` likewise.
    let s = one(json!({"type": "string", "ne": null}));
    assert_eq!(errs(&s, json!({})), ["f: value must not be null"]);
}

#[test]
fn err_overrides_every_validator_but_not_the_type_check() {
    let def = json!({"type": "string", "match": "^a", "len_max": 3, "err": "custom"});
    table(vec![
        (def.clone(), json!("b"), Some("custom")),
        (def.clone(), json!("abcd"), Some("custom")),
        (def.clone(), json!(""), Some("custom")),
        (def.clone(), json!(5), Some("expected a string")),
        (def, json!("ab"), None),
    ]);
}

#[test]
fn validators_run_in_kongs_order_and_the_first_failure_wins() {
    table(vec![
        // one_of before len_min before match
        (
            json!({"type": "string", "len_min": 5, "match": "^a", "one_of": ["bbb"]}),
            json!("b"),
            Some("expected one of: bbb"),
        ),
        (
            json!({"type": "string", "len_min": 5, "match": "^a"}),
            json!("b"),
            Some("length must be at least 5"),
        ),
        // the implicit len_min = 1 comes before match
        (
            json!({"type": "string", "match": "^a"}),
            json!(""),
            Some("length must be at least 1"),
        ),
        // gt before between
        (
            json!({"type": "integer", "gt": 10, "between": [20, 30]}),
            json!(5),
            Some("value must be greater than 10"),
        ),
        // eq before ne before not_one_of
        (
            json!({"type": "string", "eq": "x", "ne": "y", "not_one_of": ["y"]}),
            json!("y"),
            Some("value must be x"),
        ),
        (
            json!({"type": "string", "ne": "y", "not_one_of": ["y"]}),
            json!("y"),
            Some("value must not be y"),
        ),
        // uuid before len_max
        (
            json!({"type": "string", "uuid": true, "len_max": 2}),
            json!("abc"),
            Some("expected a valid UUID"),
        ),
        // len_max before starts_with before not_match before match_none before match
        (
            json!({"type": "string", "len_max": 2, "starts_with": "/"}),
            json!("abc"),
            Some("length must be at most 2"),
        ),
        (
            json!({"type": "string", "starts_with": "/", "not_match": "b"}),
            json!("abc"),
            Some("should start with: /"),
        ),
        (
            json!({"type": "string", "not_match": "b", "match_none": [{"pattern": "c", "err": "no c"}]}),
            json!("abc"),
            Some("invalid value: abc"),
        ),
        (
            json!({"type": "string", "match_none": [{"pattern": "c", "err": "no c"}], "match": "^z"}),
            json!("abc"),
            Some("no c"),
        ),
        (
            json!({"type": "string", "match": "^z", "match_all": [{"pattern": "q", "err": "needs q"}]}),
            json!("abc"),
            Some("invalid value: abc"),
        ),
        (
            json!({"type": "string", "match_all": [{"pattern": "q", "err": "needs q"}], "match_any": {"patterns": ["r"], "err": "needs r"}}),
            json!("abc"),
            Some("needs q"),
        ),
        // contains before mutually_exclusive_subsets
        (
            json!({"type": "set", "elements": {"type": "string"}, "contains": "z", "mutually_exclusive_subsets": [["a"], ["b"]]}),
            json!(["a", "b"]),
            Some("expected to contain: z"),
        ),
    ]);
}

// ---------------------------------------------------------------------------------
// Entity checks
// ---------------------------------------------------------------------------------

/// Fields a, b, c (strings), n (integer), policy (one_of local/redis, default local),
/// host, with the given entity checks.
fn with_checks(checks: Value) -> Schema {
    schema(json!({
        "fields": [
            {"a": {"type": "string"}},
            {"b": {"type": "string"}},
            {"c": {"type": "string"}},
            {"n": {"type": "integer"}},
            {"policy": {"type": "string", "default": "local", "one_of": ["local", "redis", "cluster"]}},
            {"host": {"type": "string", "match": "^[%w.]+$"}},
            {"secret": {"type": "string", "referenceable": true}},
            {"r": {"type": "record", "required": false, "fields": [{"x": {"type": "string"}}]}},
        ],
        "entity_checks": checks,
    }))
}

#[test]
fn every_entity_check_with_its_message() {
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        // at_least_one_of: runs with missing and invalid fields
        (
            json!([{"at_least_one_of": ["a", "b"]}]),
            json!({}),
            vec!["@: at least one of these fields must be non-empty: 'a', 'b'"],
        ),
        (
            json!([{"at_least_one_of": ["a", "b"]}]),
            json!({"b": "x"}),
            vec![],
        ),
        (
            json!([{"at_least_one_of": ["a", "b"]}]),
            json!({"a": ""}),
            vec![
                "@: at least one of these fields must be non-empty: 'a', 'b'",
                "a: length must be at least 1",
            ],
        ),
        // only_one_of: also fails when none is set (absent fields are null after defaults)
        (
            json!([{"only_one_of": ["a", "b"]}]),
            json!({"a": "x", "b": "y"}),
            vec!["@: exactly one of these fields must be non-empty: 'a', 'b'"],
        ),
        (
            json!([{"only_one_of": ["a", "b"]}]),
            json!({}),
            vec!["@: exactly one of these fields must be non-empty: 'a', 'b'"],
        ),
        (
            json!([{"only_one_of": ["a", "b"]}]),
            json!({"b": "y"}),
            vec![],
        ),
        // distinct
        (
            json!([{"distinct": ["a", "b"]}]),
            json!({"a": "x", "b": "x"}),
            vec!["@: values of these fields must be distinct: 'a', 'b'"],
        ),
        (
            json!([{"distinct": ["a", "b"]}]),
            json!({"a": "x", "b": "y"}),
            vec![],
        ),
        (json!([{"distinct": ["a", "b"]}]), json!({}), vec![]),
        // mutually_required
        (
            json!([{"mutually_required": ["a", "b"]}]),
            json!({"a": "x"}),
            vec!["@: all or none of these fields must be set: 'a', 'b'"],
        ),
        (
            json!([{"mutually_required": ["a", "b"]}]),
            json!({"a": "x", "b": "y"}),
            vec![],
        ),
        (
            json!([{"mutually_required": ["a", "b"]}]),
            json!({}),
            vec![],
        ),
        // mutually_exclusive
        (
            json!([{"mutually_exclusive": ["a", "b", "c"]}]),
            json!({"a": "x", "c": "y"}),
            vec!["@: only one or none of these fields must be set: 'a', 'b', 'c'"],
        ),
        (
            json!([{"mutually_exclusive": ["a", "b", "c"]}]),
            json!({"b": "x"}),
            vec![],
        ),
        // mutually_exclusive_sets: lists the non-empty ones
        (
            json!([{"mutually_exclusive_sets": {"set1": ["a"], "set2": ["b", "c"]}}]),
            json!({"a": "x", "c": "z"}),
            vec!["@: these sets are mutually exclusive: ('a'), ('c')"],
        ),
        (
            json!([{"mutually_exclusive_sets": {"set1": ["a", "n"], "set2": ["b", "c"]}}]),
            json!({"a": "x", "n": 1, "b": "y", "c": "z"}),
            vec!["@: these sets are mutually exclusive: ('a', 'n'), ('b', 'c')"],
        ),
        (
            json!([{"mutually_exclusive_sets": {"set1": ["a"], "set2": ["b", "c"]}}]),
            json!({"b": "y", "c": "z"}),
            vec![],
        ),
        // messages of several checks, in declaration order, in one entity entry
        (
            json!([{"at_least_one_of": ["a"]}, {"mutually_required": ["b", "c"]}]),
            json!({"b": "x"}),
            vec![
                "@: at least one of these fields must be non-empty: 'a' | all or none of these fields must be set: 'b', 'c'",
            ],
        ),
    ];
    for (i, (checks, input, expected)) in cases.into_iter().enumerate() {
        let s = with_checks(checks.clone());
        let got = run(&s, &input).err().unwrap_or_default();
        assert_eq!(got, expected, "case {i}: {checks} with {input}");
    }
}

#[test]
fn conditional_checks() {
    let required = json!([{"conditional": {
        "if_field": "policy", "if_match": {"eq": "redis"},
        "then_field": "host", "then_match": {"required": true},
        "then_err": "not used when required fails: %s",
    }}]);
    let too_short = json!([{"conditional": {
        "if_field": "policy", "if_match": {"one_of": ["redis", "cluster"]},
        "then_field": "host", "then_match": {"len_min": 5},
        "then_err": "host is too short when %s is set",
    }}]);
    let no_err = json!([{"conditional": {
        "if_field": "policy", "if_match": {"eq": "redis"},
        "then_field": "host", "then_match": {"match": "^r"},
    }}]);
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        (
            required.clone(),
            json!({"policy": "redis"}),
            vec![
                "@: failed conditional validation given value of field 'policy'",
                "host: required field missing",
            ],
        ),
        (
            required.clone(),
            json!({"policy": "redis", "host": null}),
            vec![
                "@: failed conditional validation given value of field 'policy'",
                "host: required field missing",
            ],
        ),
        (
            required.clone(),
            json!({"policy": "redis", "host": "h"}),
            vec![],
        ),
        (required.clone(), json!({}), vec![]),
        // then_err is formatted with the if_field's name, not its value
        (
            too_short.clone(),
            json!({"policy": "cluster", "host": "ab"}),
            vec![
                "@: host is too short when policy is set",
                "host: length must be at least 5",
            ],
        ),
        // then_match inherits the field's own validators
        (
            too_short.clone(),
            json!({"policy": "cluster", "host": "a b c d"}),
            vec![
                "@: host is too short when policy is set",
                "host: invalid value: a b c d",
            ],
        ),
        (
            too_short.clone(),
            json!({"policy": "local", "host": "ab"}),
            vec![],
        ),
        (
            no_err.clone(),
            json!({"policy": "redis", "host": "ab"}),
            vec![
                "@: failed conditional validation given value of field 'policy'",
                "host: invalid value: ab",
            ],
        ),
        // runs with invalid fields: the if_field's own error stays too
        (
            no_err,
            json!({"policy": "other", "host": "ab"}),
            vec!["policy: expected one of: local, redis, cluster"],
        ),
    ];
    for (i, (checks, input, expected)) in cases.into_iter().enumerate() {
        let s = with_checks(checks.clone());
        let got = run(&s, &input).err().unwrap_or_default();
        assert_eq!(got, expected, "case {i}: {checks} with {input}");
    }
}

#[test]
fn conditional_on_nested_fields_from_the_top_level() {
    // rate-limiting's shape, verified against Kong (schema-language.md §2.5).
    let s = schema(json!({
        "fields": [{"config": {"type": "record", "fields": [
            {"policy": {"type": "string", "default": "local", "one_of": ["local", "redis"]}},
            {"redis": {"type": "record", "fields": [
                {"host": {"type": "string"}},
                {"port": {"type": "integer", "default": 6379}},
            ]}},
            {"allow": {"type": "array", "elements": {"type": "string"}}},
            {"deny": {"type": "array", "elements": {"type": "string"}}},
        ]}}],
        "entity_checks": [
            {"conditional": {"if_field": "config.policy", "if_match": {"eq": "redis"},
                "then_field": "config.redis.host", "then_match": {"required": true}}},
            {"only_one_of": ["config.allow", "config.deny"]},
        ],
    }));
    assert_eq!(
        errs(&s, json!({"config": {"policy": "redis", "allow": ["a"]}})),
        [
            "@: failed conditional validation given value of field 'config.policy'",
            "config.redis.host: required field missing",
        ]
    );
    assert_eq!(
        errs(&s, json!({"config": {}})),
        ["@: exactly one of these fields must be non-empty: 'config.allow', 'config.deny'"]
    );
    let ok = run(
        &s,
        &json!({"config": {"policy": "redis", "redis": {"host": "h"}, "deny": ["x"]}}),
    );
    assert_eq!(
        ok.unwrap()["config"]["redis"],
        json!({"host": "h", "port": 6379})
    );
}

#[test]
fn conditional_at_least_one_of_checks() {
    let full = json!([{"conditional_at_least_one_of": {
        "if_field": "policy", "if_match": {"eq": "redis"},
        "then_at_least_one_of": ["a", "b"], "then_err": "redis needs one of %s",
        "else_match": {"eq": "cluster"},
        "else_then_at_least_one_of": ["c"], "else_then_err": "cluster needs %s",
    }}]);
    let plain = json!([{"conditional_at_least_one_of": {
        "if_field": "policy", "if_match": {"one_of": ["redis", "cluster"]},
        "then_at_least_one_of": ["a", "b"],
    }}]);
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        (
            full.clone(),
            json!({"policy": "redis"}),
            vec!["@: redis needs one of 'a', 'b'"],
        ),
        (full.clone(), json!({"policy": "redis", "b": "x"}), vec![]),
        (
            full.clone(),
            json!({"policy": "cluster", "a": "x"}),
            vec!["@: cluster needs 'c'"],
        ),
        (full.clone(), json!({"policy": "cluster", "c": "x"}), vec![]),
        // neither branch matches (the default "local")
        (full, json!({}), vec![]),
        (
            plain.clone(),
            json!({"policy": "cluster"}),
            vec!["@: at least one of these fields must be non-empty: 'a', 'b'"],
        ),
        (plain, json!({"policy": "local"}), vec![]),
    ];
    for (i, (checks, input, expected)) in cases.into_iter().enumerate() {
        let s = with_checks(checks.clone());
        let got = run(&s, &input).err().unwrap_or_default();
        assert_eq!(got, expected, "case {i}: {checks} with {input}");
    }
}

#[test]
fn checks_are_skipped_when_a_field_they_use_has_an_error() {
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        // mutually_required / mutually_exclusive / mutually_exclusive_sets do not run with invalid fields
        (
            json!([{"mutually_required": ["a", "b"]}]),
            json!({"a": 5}),
            vec!["a: expected a string"],
        ),
        (
            json!([{"mutually_exclusive": ["a", "b"]}]),
            json!({"a": "x", "b": 5}),
            vec!["b: expected a string"],
        ),
        (
            json!([{"mutually_exclusive_sets": {"set1": ["a"], "set2": ["b"]}}]),
            json!({"a": "x", "b": 5}),
            vec!["b: expected a string"],
        ),
        // only_one_of and distinct do
        (
            json!([{"only_one_of": ["a", "b"]}]),
            json!({"a": "x", "b": 5}),
            vec![
                "@: exactly one of these fields must be non-empty: 'a', 'b'",
                "b: expected a string",
            ],
        ),
        (
            json!([{"distinct": ["a", "n"]}]),
            json!({"a": "1", "n": "1"}),
            vec![
                "@: values of these fields must be distinct: 'a', 'n'",
                "n: expected an integer",
            ],
        ),
    ];
    for (i, (checks, input, expected)) in cases.into_iter().enumerate() {
        let s = with_checks(checks.clone());
        let got = run(&s, &input).err().unwrap_or_default();
        assert_eq!(got, expected, "case {i}: {checks} with {input}");
    }
}

#[test]
fn a_nil_source_is_required_for_the_check() {
    // `r` is null, so `r.x` is nil, not null: the check cannot run.
    let s = with_checks(json!([{"only_one_of": ["r.x", "b"]}]));
    assert_eq!(
        errs(&s, json!({})),
        ["r.x: field required for entity check"]
    );
    assert!(run(&s, &json!({"r": {"x": "y"}})).is_ok());
    let s = with_checks(
        json!([{"conditional": {"if_field": "r.x", "if_match": {"eq": "y"},
        "then_field": "a", "then_match": {"required": true}}}]),
    );
    assert_eq!(
        errs(&s, json!({"b": "z"})),
        ["r.x: field required for entity check"]
    );
    assert_eq!(
        errs(&s, json!({"r": {"x": "y"}})),
        [
            "@: failed conditional validation given value of field 'r.x'",
            "a: required field missing",
        ]
    );
    // Checkers that run with missing fields do not ask for them.
    let s = with_checks(json!([{"mutually_required": ["r.x", "b"]}]));
    assert_eq!(
        errs(&s, json!({"b": "z"})),
        ["@: all or none of these fields must be set: 'r.x', 'b'"]
    );
}

#[test]
fn a_vault_reference_in_a_referenceable_field_skips_its_checks() {
    let s = with_checks(
        json!([{"mutually_exclusive": ["secret", "a"]}, {"distinct": ["secret", "b"]}]),
    );
    assert!(
        run(
            &s,
            &json!({"secret": "{vault://env/x}", "a": "y", "b": "{vault://env/x}"})
        )
        .is_ok()
    );
    assert_eq!(
        errs(&s, json!({"secret": "plain", "a": "y", "b": "plain"})),
        [
            "@: only one or none of these fields must be set: 'secret', 'a' | values of these fields must be distinct: 'secret', 'b'"
        ]
    );
}

#[test]
fn updates_fill_nothing_and_reword_entity_check_messages() {
    let s = with_checks(json!([{"at_least_one_of": ["a", "b"]}, {"only_one_of": ["c", "n"]}]));
    let update = |input: Value| {
        Engine::new(&mut NoFunctions, 1_000_000, 1.0)
            .check(&s, &input, Context::Update)
            .map_err(|e| render(&e))
    };
    // Partial input: no defaults, no required fields, checks on absent fields skipped.
    assert_eq!(update(json!({"host": "h"})).unwrap(), json!({"host": "h"}));
    // Kong's `validate_update` texts.
    assert_eq!(
        update(json!({"a": null, "c": "x"})).unwrap_err(),
        [
            "@: when updating, at least one of these fields must be non-empty: 'a', 'b'",
            "n: field required for entity check when updating",
        ]
    );
    // An insert afterwards has the plain texts again.
    assert_eq!(
        errs(&s, json!({"c": "x", "n": 1})),
        [
            "@: at least one of these fields must be non-empty: 'a', 'b' | exactly one of these fields must be non-empty: 'c', 'n'"
        ]
    );
}

#[test]
fn an_update_validates_a_nested_record_with_its_defaults_filled() {
    // Kong's validate_field fills a record's copy ("insert") before validating it, so a
    // required field with a default passes an update that does not give it.
    let s = schema(json!({"fields": [{"r": {"type": "record", "fields": [
        {"x": {"type": "integer", "required": true, "default": 3}},
        {"y": {"type": "string"}}]}}]}));
    let updated = Engine::new(&mut NoFunctions, 1_000_000, 1.0)
        .check(&s, &json!({"r": {"y": "z"}}), Context::Update)
        .map_err(|e| render(&e));
    // The stored update is partial; only the validation saw the filled copy.
    assert_eq!(updated, Ok(json!({"r": {"y": "z"}})));
}

#[test]
fn checks_inside_a_record_land_at_the_record() {
    let s = schema(json!({"fields": [{"config": {"type": "record",
        "fields": [{"a": {"type": "string"}}, {"b": {"type": "string"}}, {"c": {"type": "integer"}}],
        "entity_checks": [{"at_least_one_of": ["a", "b"]}, {"mutually_required": ["b", "c"]}]}}]}));
    assert_eq!(
        errs(&s, json!({"config": {}})),
        ["@config: at least one of these fields must be non-empty: 'a', 'b'"]
    );
    assert_eq!(
        errs(&s, json!({"config": {"b": "x", "c": "no"}})),
        ["config.c: expected an integer"]
    );
    let e = Engine::new(&mut NoFunctions, 1000, 1.0)
        .check(&s, &json!({}), Context::Insert)
        .unwrap_err();
    let d = details(&e);
    assert_eq!(d[0].kind, DetailKind::Entity);
    assert_eq!(d[0].field.as_deref(), Some("config"));
}

// ---------------------------------------------------------------------------------
// Subschemas
// ---------------------------------------------------------------------------------

fn with_subschemas() -> Schema {
    schema(json!({
        "subschema_key": "kind",
        "fields": [
            {"kind": {"type": "set", "elements": {"type": "string"}, "default": ["b"]}},
            {"val": {"type": "string", "default": "parent"}},
            {"n": {"type": "integer"}},
            {"m": {"type": "integer"}},
            {"secret": {"type": "string", "referenceable": true}},
        ],
        "entity_checks": [{"at_least_one_of": ["n"]}],
        "subschemas": {
            "b": {
                "fields": [{"val": {"type": "string", "default": "from-b", "one_of": ["from-b", "other"]}}],
                "entity_checks": [{"at_least_one_of": ["m"]}, {"mutually_exclusive": ["secret", "m"]}],
            },
            "c": {"fields": [{"val": {"type": "string", "default": "from-c"}}]},
            // `kind` is the parent's: the check's if_match inherits its type (a set).
            "t": {"entity_checks": [{"conditional_at_least_one_of": {
                "if_field": "kind", "if_match": {"elements": {"type": "string", "one_of": ["t"]}},
                "then_at_least_one_of": ["m"], "then_err": "only-t kinds need %s"}}]},
        },
    }))
}

#[test]
fn the_first_key_with_an_entry_picks_the_subschema() {
    let s = with_subschemas();
    let ok = run(&s, &json!({"kind": ["a", "b"], "n": 1, "m": 2})).unwrap();
    assert_eq!(ok["val"], "from-b");
    let ok = run(&s, &json!({"kind": ["c", "b"], "n": 1})).unwrap();
    assert_eq!(ok["val"], "from-c");
    assert_eq!(
        errs(&s, json!({"kind": ["b"], "n": 1, "m": 2, "val": "parent"})),
        ["val: expected one of: from-b, other"]
    );
}

#[test]
fn subschema_checks_run_after_the_parents() {
    let s = with_subschemas();
    assert_eq!(
        errs(&s, json!({"kind": ["b"]})),
        [
            "@: at least one of these fields must be non-empty: 'n' | at least one of these fields must be non-empty: 'm'"
        ]
    );
    // The subschema's check sees the parent's `referenceable` definition of `secret`.
    assert!(
        run(
            &s,
            &json!({"kind": ["b"], "n": 1, "m": 2, "secret": "{vault://env/s}"})
        )
        .is_ok()
    );
    assert_eq!(
        errs(
            &s,
            json!({"kind": ["b"], "n": 1, "m": 2, "secret": "plain"})
        ),
        ["@: only one or none of these fields must be set: 'secret', 'm'"]
    );
}

#[test]
fn subschema_checks_inherit_the_parents_field_definitions() {
    let s = with_subschemas();
    assert_eq!(
        errs(&s, json!({"kind": ["t"], "n": 1})),
        ["@: only-t kinds need 'm'"]
    );
    // Every element must match, as for the parent's set: "z" does not.
    assert!(run(&s, &json!({"kind": ["t", "z"], "n": 1})).is_ok());
}

#[test]
fn the_subschema_is_picked_from_the_input_before_defaults() {
    // Kong's `each_field(data)` picks the subschema from the input: with no `kind`, the
    // parent's default fills `val`; validation then uses the defaulted `kind`'s subschema.
    let s = with_subschemas();
    assert_eq!(
        errs(&s, json!({"n": 1, "m": 2})),
        ["val: expected one of: from-b, other"]
    );
}

#[test]
fn without_a_subschema_validation_stops_at_the_key() {
    let s = with_subschemas();
    assert_eq!(
        errs(&s, json!({"kind": ["a"], "n": "x"})),
        ["kind: unknown type: a"]
    );
    assert_eq!(
        errs(&s, json!({"kind": null, "n": "x"})),
        ["kind: required field missing"]
    );
    let custom = schema(json!({
        "subschema_key": "name",
        "subschema_error": "plugin '%s' not enabled; add it to the 'plugins' configuration property",
        "fields": [{"name": {"type": "string"}}],
        "subschemas": {"known": {"fields": []}},
    }));
    assert_eq!(
        errs(&custom, json!({"name": "nope"})),
        ["name: plugin 'nope' not enabled; add it to the 'plugins' configuration property"]
    );
    assert!(run(&custom, &json!({"name": "known"})).is_ok());
}

// ---------------------------------------------------------------------------------
// Lua functions: shorthands, custom validators, custom entity checks
// ---------------------------------------------------------------------------------

fn plain(value: &SchemaValue) -> Result<Schema, String> {
    Schema::parse(value, true).map_err(|e| e.to_string())
}

fn compile(source: &str) -> CompiledSchema {
    CompiledSchema::compile(source, Limits::default(), plain).unwrap()
}

fn lua_run(compiled: &mut CompiledSchema, input: Value) -> Result<Value, Vec<String>> {
    let schema = compiled.schema.clone();
    Engine::new(compiled, 1_000_000, 1.0)
        .check(&schema, &input, Context::Insert)
        .map_err(|e| render(&e))
}

const SHORTHANDS: &str = r#"
local function to_redis(v) return { redis = { host = v } } end
return { name = "sh", fields = { { config = { type = "record",
  shorthand_fields = {
    { redis_host = { type = "string", func = to_redis } },
    { old_host = { type = "string", func = to_redis,
        deprecation = { message = "use config.redis.host", removal_in_version = "4.0" } } },
    { old_flag = { type = "boolean", func = function(v) return { flag = v } end,
        deprecation = { message = "use config.flag", removal_in_version = "4.0" } } },
  },
  fields = {
    { redis = { type = "record", fields = {
        { host = { type = "string" } },
        { port = { type = "integer", default = 6379 } } } } },
    { flag = { type = "boolean", default = false } },
  } } } } }
"#;

#[test]
fn shorthands_map_old_fields_onto_new_ones() {
    let mut c = compile(SHORTHANDS);
    assert_eq!(
        lua_run(&mut c, json!({"config": {"redis_host": "h"}})).unwrap(),
        json!({"config": {"redis": {"host": "h", "port": 6379}, "flag": false}})
    );
    // A shorthand's table merges into the current value, its keys winning.
    assert_eq!(
        lua_run(
            &mut c,
            json!({"config": {"redis_host": "h", "redis": {"host": "x", "port": 1}}})
        )
        .unwrap()["config"]["redis"],
        json!({"host": "h", "port": 1})
    );
    // A deprecated shorthand never overrides the new field...
    assert_eq!(
        lua_run(
            &mut c,
            json!({"config": {"old_host": "h", "redis": {"host": "new"}}})
        )
        .unwrap()["config"]["redis"],
        json!({"host": "new", "port": 6379})
    );
    // ...but a null there does not erase it (null_aware_table_merge).
    assert_eq!(
        lua_run(
            &mut c,
            json!({"config": {"old_host": "h", "redis": {"host": null, "port": 1}}})
        )
        .unwrap()["config"]["redis"],
        json!({"host": "h", "port": 1})
    );
    assert_eq!(
        lua_run(&mut c, json!({"config": {"old_flag": true, "flag": false}})).unwrap()["config"]["flag"],
        json!(false)
    );
    assert_eq!(
        lua_run(&mut c, json!({"config": {"old_flag": true}})).unwrap()["config"]["flag"],
        json!(true)
    );
    // The shorthand's value is validated against its own definition.
    assert_eq!(
        lua_run(&mut c, json!({"config": {"redis_host": 5}})).unwrap_err(),
        ["config.redis_host: expected a string"]
    );
}

const CUSTOM: &str = r#"
return { name = "cv", fields = { { config = { type = "record",
  fields = {
    { n = { type = "integer", custom_validator = function(v) if v > 10 then return nil end return true end } },
    { f = { type = "number", custom_validator = function(v) return nil end } },
    { s = { type = "string", custom_validator = function(v)
        if v == "bad" then return false, "s is bad: " .. v end
        return true end } },
    { t = { type = "string", err = "overridden", custom_validator = function(v) return nil, "own" end } },
    { u = { type = "integer", custom_validator = function(v) error("must not be called") end } },
    { o = { type = "string", match = "^a", custom_validator = function(v) error("not reached") end } },
    { a = { type = "string" } },
    { b = { type = "string" } },
  },
  entity_checks = {
    { custom_entity_check = { field_sources = { "a" }, fn = function(e)
        if e.b ~= nil then return nil, "saw b" end
        if e.a == "bad" then return nil, "a is bad" end
        return true end } },
  } } } } }
"#;

#[test]
fn custom_validators_and_their_fallback_message() {
    let mut c = compile(CUSTOM);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"n": 11}), vec!["config.n: failed validating: 11"]),
        (json!({"n": 3}), vec![]),
        (json!({"f": 1.5}), vec!["config.f: failed validating: 1.5"]),
        (json!({"s": "bad"}), vec!["config.s: s is bad: bad"]),
        (json!({"s": "good"}), vec![]),
        (json!({"t": "x"}), vec!["config.t: overridden"]),
        // not called when the type check fails, nor after an earlier validator fails
        (json!({"u": "x"}), vec!["config.u: expected an integer"]),
        (json!({"o": "b"}), vec!["config.o: invalid value: b"]),
    ];
    for (config, expected) in cases {
        let got = lua_run(&mut c, json!({"config": config}))
            .err()
            .unwrap_or_default();
        assert_eq!(got, expected, "{config}");
    }
}

#[test]
fn a_custom_entity_check_sees_only_its_field_sources() {
    let mut c = compile(CUSTOM);
    assert_eq!(
        lua_run(&mut c, json!({"config": {"a": "bad", "b": "x"}})).unwrap_err(),
        ["@config: a is bad"]
    );
    assert!(lua_run(&mut c, json!({"config": {"a": "ok", "b": "x"}})).is_ok());
    // Not run when its field has an error.
    assert_eq!(
        lua_run(&mut c, json!({"config": {"a": 5}})).unwrap_err(),
        ["config.a: expected a string"]
    );
}

// ---------------------------------------------------------------------------------
// ping-auth (schema-language.md §1.3)
// ---------------------------------------------------------------------------------

fn ping_auth() -> CompiledSchema {
    let source = std::fs::read_to_string(format!(
        "{}/tests/fixtures/ping-auth/schema.lua",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    compile(&source)
}

#[test]
fn ping_auth_cases_match_kong() {
    let mut c = ping_auth();
    let good = json!({"service_url": "https://example.com", "shared_secret": "s", "secret_header_name": "X-Secret"});
    let with = |changes: Value| {
        let mut config = good.clone();
        for (k, v) in changes.as_object().unwrap() {
            config[k] = v.clone();
        }
        json!({ "config": config })
    };
    let missing = vec![
        "config.secret_header_name: required field missing",
        "config.service_url: required field missing",
        "config.shared_secret: required field missing",
    ];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), missing.clone()),
        (json!({"config": {}}), missing),
        (
            with(json!({"service_url": "ftp://example.com"})),
            vec!["config: URL scheme must be either 'http' or 'https'"],
        ),
        (
            with(json!({"service_url": "example.com"})),
            vec!["config: URL scheme must be either 'http' or 'https'"],
        ),
        (
            with(json!({"service_url": "https://"})),
            vec!["config: URL host cannot be blank"],
        ),
        (with(json!({"service_url": "HTTPS://E.COM/Path"})), vec![]),
        (
            with(json!({"service_url": "", "shared_secret": ""})),
            vec![
                "config.service_url: length must be at least 1",
                "config.shared_secret: length must be at least 1",
            ],
        ),
        (
            with(json!({"shared_secret": "{vault://env/ping-secret}"})),
            vec![],
        ),
        (
            with(
                json!({"service_url": 5, "shared_secret": true, "connection_timeout_ms": 0,
            "connection_keepAlive_ms": 1.5, "verify_service_certificate": "yes", "foo": 1}),
            ),
            vec![
                "config.connection_keepAlive_ms: expected an integer",
                "config.connection_timeout_ms: value must be greater than 0",
                "config.foo: unknown field",
                "config.service_url: expected a string",
                "config.shared_secret: expected a string",
                "config.verify_service_certificate: expected a boolean",
            ],
        ),
        (
            json!({"config": null}),
            vec!["config: required field missing"],
        ),
        (json!({"config": "x"}), vec!["config: expected a record"]),
        (with(json!({"enable_debug_logging": null})), vec![]),
    ];
    for (input, expected) in cases {
        let got = lua_run(&mut c, input.clone()).err().unwrap_or_default();
        assert_eq!(got, expected, "{input}");
    }

    let stored = lua_run(&mut c, json!({"config": good})).unwrap();
    assert_eq!(
        stored,
        json!({"config": {
            "service_url": "https://example.com", "shared_secret": "s", "secret_header_name": "X-Secret",
            "connection_keepAlive_ms": 60000, "connection_timeout_ms": 10000,
            "enable_debug_logging": false, "verify_service_certificate": true,
        }})
    );
    let upper = lua_run(&mut c, with(json!({"service_url": "HTTPS://E.COM/Path"}))).unwrap();
    assert_eq!(upper["config"]["service_url"], "HTTPS://E.COM/Path");
    let null = lua_run(&mut c, with(json!({"enable_debug_logging": null}))).unwrap();
    assert_eq!(null["config"]["enable_debug_logging"], Value::Null);
}

// ---------------------------------------------------------------------------------
// Filling defaults is idempotent
// ---------------------------------------------------------------------------------

fn multi_type_schema() -> Schema {
    schema(json!({"fields": [
        {"s": {"type": "string", "default": "d", "len_max": 3}},
        {"i": {"type": "integer", "default": 3, "between": [0, 100]}},
        {"n": {"type": "number"}},
        {"b": {"type": "boolean", "default": true}},
        {"tags": {"type": "set", "elements": {"type": "string"}}},
        {"list": {"type": "array", "default": ["x", "x"], "elements": {"type": "string"}}},
        {"m": {"type": "map", "keys": {"type": "string"}, "values": {"type": "integer"}}},
        {"recs": {"type": "array", "elements": {"type": "record", "fields": [
            {"k": {"type": "string"}},
            {"v": {"type": "integer", "default": 7}},
            {"sub": {"type": "record", "fields": [{"w": {"type": "integer", "default": 1}}]}},
        ]}}},
        {"r": {"type": "record", "fields": [
            {"x": {"type": "integer", "default": 1}},
            {"inner": {"type": "record", "fields": [
                {"y": {"type": "string", "default": "z"}},
                {"ys": {"type": "set", "elements": {"type": "integer"}, "default": [1, 2]}},
            ]}},
        ]}},
        {"opt": {"type": "record", "required": false, "fields": [{"q": {"type": "boolean", "default": false}}]}},
    ]}))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..120).prop_map(Value::from),
        (-5.0f64..120.0).prop_map(Value::from),
        "[a-c]{0,4}".prop_map(Value::from),
    ]
}

fn anything() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn small_strings() -> impl Strategy<Value = Value> {
    prop::collection::vec("[a-c]{1,2}", 0..4).prop_map(|v| json!(v))
}

/// Mostly values of the right shape, sometimes anything.
fn field_value(shaped: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.7,
        prop_oneof![6 => shaped, 1 => Just(Value::Null), 1 => anything()],
    )
}

fn config() -> impl Strategy<Value = Value> {
    let rec = (
        prop::option::of("[a-c]{1,2}"),
        prop::option::of(0i64..9),
        prop::option::of(prop_oneof![
            Just(json!({})),
            (0i64..3).prop_map(|w| json!({"w": w}))
        ]),
    )
        .prop_map(|(k, v, sub)| {
            let mut m = serde_json::Map::new();
            if let Some(k) = k {
                m.insert("k".into(), json!(k));
            }
            if let Some(v) = v {
                m.insert("v".into(), json!(v));
            }
            if let Some(sub) = sub {
                m.insert("sub".into(), sub);
            }
            Value::Object(m)
        });
    let fields = vec![
        ("s", field_value("[a-c]{0,3}".prop_map(Value::from).boxed())),
        ("i", field_value((0i64..100).prop_map(Value::from).boxed())),
        (
            "n",
            field_value((-1e3f64..1e3).prop_map(Value::from).boxed()),
        ),
        (
            "b",
            field_value(any::<bool>().prop_map(Value::from).boxed()),
        ),
        (
            "tags",
            field_value(prop_oneof![small_strings(), Just(json!({}))].boxed()),
        ),
        (
            "list",
            field_value(prop_oneof![small_strings(), Just(json!({}))].boxed()),
        ),
        (
            "m",
            field_value(
                prop::collection::btree_map("[a-c]{1,2}", (0i64..5).prop_map(Value::from), 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect()))
                    .boxed(),
            ),
        ),
        (
            "recs",
            field_value(
                prop::collection::vec(rec, 0..3)
                    .prop_map(Value::from)
                    .boxed(),
            ),
        ),
        (
            "r",
            field_value(
                prop_oneof![
                    Just(json!({})),
                    Just(json!([])),
                    (0i64..5).prop_map(|x| json!({"x": x})),
                    prop::collection::vec(0i64..3, 0..4)
                        .prop_map(|ys| json!({"inner": {"ys": ys}})),
                    Just(json!({"inner": {"ys": [2, 2, 1]}})),
                ]
                .boxed(),
            ),
        ),
        (
            "opt",
            field_value(
                prop_oneof![Just(json!({})), any::<bool>().prop_map(|q| json!({"q": q}))].boxed(),
            ),
        ),
    ];
    let names: Vec<&'static str> = fields.iter().map(|(n, _)| *n).collect();
    let values: Vec<_> = fields.into_iter().map(|(_, s)| s).collect();
    values.prop_map(move |vals| {
        Value::Object(
            names
                .iter()
                .zip(vals)
                .filter_map(|(n, v)| v.map(|v| (n.to_string(), v)))
                .collect(),
        )
    })
}

proptest! {
    #[test]
    fn filling_defaults_twice_changes_nothing(input in config()) {
        let s = multi_type_schema();
        if let Ok(once) = run(&s, &input) {
            let twice = run(&s, &once);
            prop_assert_eq!(twice.as_ref(), Ok(&once), "input {}", input);
        }
    }
}

#[test]
fn the_idempotence_schema_accepts_generated_configs() {
    // Guards the proptest against testing nothing: typical configs pass.
    let s = multi_type_schema();
    let once = run(
        &s,
        &json!({"tags": ["a", "a"], "recs": [{"k": "a"}], "r": [], "list": {}}),
    )
    .unwrap();
    assert_eq!(once["tags"], json!(["a"]));
    assert_eq!(once["recs"], json!([{"k": "a", "v": 7, "sub": null}]));
    assert_eq!(
        once["r"],
        json!({"x": 1, "inner": {"y": "z", "ys": [1, 2]}})
    );
    assert_eq!(once["list"], json!([]));
    assert_eq!(run(&s, &once).unwrap(), once);
}

#[test]
fn json_objects_iterate_in_key_order_as_the_record_merge_needs() {
    // `process_owned` and `validate` walk a record's keys in one merge with the schema's
    // fields sorted by name. That needs serde_json's sorted map: a dependency turning on
    // its `preserve_order` feature would break it silently, so it fails here instead.
    let map: serde_json::Map<String, Value> = [("b", 1), ("a", 2), ("B", 3), ("aa", 4)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(keys, ["B", "a", "aa", "b"]);
    // And the merge itself: fields declared out of order, keys unknown in between.
    let s = schema(json!({"fields": [
        {"z": {"type": "string", "default": "last"}},
        {"a": {"type": "integer", "required": true}},
        {"m": {"type": "boolean", "default": true}},
    ]}));
    // A required field before the first key, an unknown key between two fields.
    assert_eq!(
        check(&s, json!({"b": 2})).unwrap_err(),
        vec![
            (
                Some("a".to_string()),
                vec!["required field missing".to_string()]
            ),
            (Some("b".to_string()), vec!["unknown field".to_string()]),
        ]
    );
    let ok = check(&s, json!({"a": 1})).unwrap();
    assert_eq!(ok, json!({"a": 1, "m": true, "z": "last"}));
}

#[test]
fn a_field_is_found_by_name_and_the_last_of_two_with_one_name_wins() {
    let s = schema(json!({"fields": [
        {"beta": {"type": "string"}},
        {"alpha": {"type": "integer"}},
        {"alphabet": {"type": "boolean"}},
        {"beta": {"type": "number"}},
    ]}));
    let kind = |name: &str| s.field(name).map(|f| f.kind);
    assert_eq!(kind("alpha"), Some(FieldType::Integer));
    assert_eq!(kind("alphabet"), Some(FieldType::Boolean));
    // Kong's `fields[name]` holds the later definition.
    assert_eq!(kind("beta"), Some(FieldType::Number));
    for absent in ["", "alph", "alphabets", "b", "gamma"] {
        assert_eq!(kind(absent), None, "{absent}");
    }
}

// ---------------------------------------------------------------------------------
// One walk (insert and upsert without functions) equals Kong's two
// ---------------------------------------------------------------------------------

/// `multi_type_schema` with what only shows when values are validated: entity checks at
/// two levels, an invalid default in an optional record, a required field in a required
/// nested record.
fn checked_schema() -> Schema {
    schema(json!({
        "fields": [
            {"s": {"type": "string", "default": "d", "len_max": 3}},
            {"i": {"type": "integer", "default": 3, "between": [0, 100]}},
            {"n": {"type": "number"}},
            {"b": {"type": "boolean", "default": true}},
            {"tags": {"type": "set", "elements": {"type": "string", "len_max": 1}}},
            {"list": {"type": "array", "default": ["x", "x"], "elements": {"type": "string"}}},
            {"m": {"type": "map", "keys": {"type": "string", "len_max": 1}, "values": {"type": "integer"}}},
            {"recs": {"type": "array", "elements": {
                "type": "record",
                "fields": [
                    {"k": {"type": "string"}},
                    {"v": {"type": "integer", "default": 7}},
                    {"sub": {"type": "record", "fields": [{"w": {"type": "integer", "default": 1}}]}},
                ],
                "entity_checks": [{"at_least_one_of": ["k", "sub"]}],
            }}},
            {"r": {"type": "record", "fields": [
                {"x": {"type": "integer", "default": 1, "one_of": [1, 2, 3]}},
                {"inner": {"type": "record", "fields": [
                    {"y": {"type": "string", "default": "z"}},
                    {"ys": {"type": "set", "elements": {"type": "integer"}, "default": [1, 2]}},
                ], "entity_checks": [{"at_least_one_of": ["y", "ys"]}]}},
            ]}},
            {"opt": {"type": "record", "required": false, "fields": [
                {"q": {"type": "boolean", "default": false}},
                {"d": {"type": "integer", "default": 50, "between": [0, 10]}},
            ]}},
            {"od": {"type": "record", "required": false, "default": {}, "fields": [
                {"z": {"type": "integer", "required": true, "default": 5}},
            ]}},
        ],
        "entity_checks": [{"at_least_one_of": ["n", "m"]}],
    }))
}

/// Kong's order, literally: process every field, then validate the processed record.
fn two_walks(schema: &Schema, input: &Value) -> Result<Value, Vec<String>> {
    let mut nothing = NoFunctions;
    let mut engine = Engine::new(&mut nothing, 1_000_000, 1_700_000_000.0);
    let processed = engine
        .process_auto_fields(schema, input, Context::Insert)
        .map_err(|e| render(&e))?;
    engine
        .validate(schema, &processed, true)
        .map_err(|e| render(&e))?;
    Ok(processed)
}

proptest! {
    #[test]
    fn one_walk_validates_as_the_two_walks_do(
        input in config(),
        extra in prop::option::of(("[a-z]{1,3}", leaf())),
    ) {
        let mut input = input;
        if let (Some((key, value)), Some(map)) = (extra, input.as_object_mut()) {
            map.insert(key, value);
        }
        for s in [multi_type_schema(), checked_schema()] {
            prop_assert_eq!(run(&s, &input), two_walks(&s, &input), "input {}", input);
            // What the write path stores and answers: the filled entity written out is
            // the tree it stands for, with or without its nulls, and reads the same.
            let Ok(filled) = Engine::new(&mut NoFunctions, 1_000_000, 1_700_000_000.0)
                .check_filled(&s, input.clone(), Context::Insert)
            else {
                continue;
            };
            let tree = filled.clone().into_value();
            prop_assert_eq!(
                serde_json::to_string(&filled).unwrap(),
                serde_json::to_string(&tree).unwrap()
            );
            for (key, value) in tree.as_object().into_iter().flatten() {
                match filled.get(key) {
                    Some(read) => prop_assert_eq!(read, value),
                    None => prop_assert!(value.is_object(), "{} unread", key),
                }
            }
            let mut present = filled;
            present.drop_nulls();
            let mut tree = tree;
            if let Some(map) = tree.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
            prop_assert_eq!(
                serde_json::to_string(&present).unwrap(),
                serde_json::to_string(&tree).unwrap()
            );
        }
    }
}

#[test]
fn the_one_walk_schema_meets_each_of_its_checks() {
    // Guards the proptest: the checks it compares do fire, one at a time.
    let s = checked_schema();
    assert!(!s.has_functions());
    let base = json!({"n": 1});
    assert_eq!(run(&s, &base).err(), None);
    let cases = [
        (
            json!({}),
            "@: at least one of these fields must be non-empty: 'n', 'm'",
        ),
        (
            json!({"n": 1, "opt": {}}),
            "opt.d: value should be between 0 and 10",
        ),
        (
            json!({"n": 1, "recs": [{}]}),
            "@recs[0]: at least one of these fields must be non-empty: 'k', 'sub'",
        ),
        (
            json!({"n": 1, "r": {"x": 5}}),
            "r.x: expected one of: 1, 2, 3",
        ),
        (
            json!({"n": 1, "r": {"inner": {"y": null, "ys": null}}}),
            "@r.inner: at least one of these fields must be non-empty: 'y', 'ys'",
        ),
        (json!({"n": 1, "zz": 1}), "zz: unknown field"),
        (
            json!({"n": 1, "tags": ["ab"]}),
            "tags[0]: length must be at most 1",
        ),
        (
            json!({"n": 1, "m": {"ab": 1}}),
            "m: length must be at most 1",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            errs(&s, input.clone()),
            vec![expected.to_string()],
            "{input}"
        );
        assert_eq!(
            two_walks(&s, &input).unwrap_err(),
            vec![expected.to_string()]
        );
    }
}

// ---------------------------------------------------------------------------------
// Table defaults
// ---------------------------------------------------------------------------------

/// Kong's `handle_missing_field` stores a table default as written, and `validate_field`
/// validates a record on a filled copy: `{}` for a record whose required field has a
/// default is valid and stored as `{}`; a default that is wrong once filled is not.
const TABLE_DEFAULTS: &str = r#"
local z = { type = "integer", required = true, default = 5 }
return { name = "td", fields = { { config = { type = "record", fields = {
  { o = { type = "record", required = false, default = {}, fields = { { z = z } } } },
  { rs = { type = "array", default = { {} }, elements = { type = "record", fields = { { z = z } } } } },
  { bad = { type = "record", required = false, default = { z = "x" }, fields = { { z = z } } } },
  { c = { type = "string", custom_validator = function(v) return true end } },
} } } } }
"#;

#[test]
fn table_defaults_are_stored_as_written_and_validated_filled() {
    let stored = json!({"o": {}, "rs": [{}], "c": null});
    let wrong = vec!["config.bad.z: expected an integer".to_string()];
    // With a Lua function in the schema (two walks) and without one (one walk).
    let mut with_lua = compile(TABLE_DEFAULTS);
    let without_lua = schema(json!({"fields": [{"config": {"type": "record", "fields": [
        {"o": {"type": "record", "required": false, "default": {}, "fields": [
            {"z": {"type": "integer", "required": true, "default": 5}}]}},
        {"rs": {"type": "array", "default": [{}], "elements": {"type": "record", "fields": [
            {"z": {"type": "integer", "required": true, "default": 5}}]}}},
        {"bad": {"type": "record", "required": false, "default": {"z": "x"}, "fields": [
            {"z": {"type": "integer", "required": true, "default": 5}}]}},
        {"c": {"type": "string"}},
    ]}}]}));
    assert!(with_lua.schema.has_functions() && !without_lua.has_functions());
    let fixed_bad = json!({"config": {"bad": {"z": 1}}});
    let mut expected = stored.clone();
    expected["bad"] = json!({"z": 1});
    assert_eq!(
        lua_run(&mut with_lua, fixed_bad.clone()).unwrap()["config"],
        expected
    );
    assert_eq!(run(&without_lua, &fixed_bad).unwrap()["config"], expected);
    assert_eq!(
        lua_run(&mut with_lua, json!({"config": {}})),
        Err(wrong.clone())
    );
    assert_eq!(errs(&without_lua, json!({"config": {}})), wrong);
}

/// A shorthand field's own validator is a function too: such a schema needs its VM.
#[test]
fn a_shorthand_validator_counts_as_a_function() {
    let source = r#"
return { name = "sv", fields = { { config = { type = "record",
  shorthand_fields = {
    { old = { type = "string", custom_validator = function(v)
        if v == "bad" then return nil, "old is bad" end return true end } },
  },
  fields = { { new = { type = "string" } } } } } } }
"#;
    let cache = crate::lua::compiled::SchemaCache::new(2, 1);
    let ready = cache.checkout(source, plain, Limits::default()).unwrap();
    assert!(matches!(ready, crate::lua::compiled::Ready::WithLua(_)));
    let mut compiled = compile(source);
    assert_eq!(
        lua_run(&mut compiled, json!({"config": {"old": "bad"}})),
        Err(vec!["config.old: old is bad".to_string()])
    );
    assert!(lua_run(&mut compiled, json!({"config": {"old": "fine"}})).is_ok());
}
