//! Entity checks: every checker with its message, when each runs or is skipped, and
//! the rewording on update.

use super::*;

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
    // rate-limiting's shape (`kong/plugins/rate-limiting/schema.lua`), verified against Kong.
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
