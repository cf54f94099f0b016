//! Subschemas: which one the input picks, their checks after the parent's, and
//! validation stopping at an unknown key.

use super::*;

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
