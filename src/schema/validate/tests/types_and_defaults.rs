//! Types, presence, defaults: the type errors, required and unknown fields, nulls,
//! defaults filled (records, arrays, sets, maps) and the filled form.

use super::*;

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

/// Kong's `adjust_field_for_context` fills a record with
/// `value = value or handle_missing_field(field, value)` (kong/db/schema/init.lua), and
/// `false` is falsy in Lua: a record given `false` is filled as a missing one, on insert
/// and on update alike; an optional one without a default becomes `null`. Any other
/// non-table is still `expected a record`, and `false` stays an error for other types.
#[test]
fn false_for_a_record_is_filled_as_a_missing_one() {
    let s = schema(json!({"fields": [
        {"config": {"type": "record", "fields": [
            {"a": {"type": "integer", "default": 1}},
            {"inner": {"type": "record", "fields": [{"b": {"type": "string", "default": "x"}}]}},
            {"opt": {"type": "record", "required": false, "fields": [{"c": {"type": "integer"}}]}},
            {"with_default": {"type": "record", "required": false, "default": {"d": 2},
                "fields": [{"d": {"type": "integer"}}, {"e": {"type": "integer", "default": 3}}]}},
        ]}},
        {"list": {"type": "array", "required": false, "elements": {"type": "string"}}},
    ]}));
    // A missing optional record gets its default as written; `false` gets it processed,
    // since Kong recurses into what `handle_missing_field` gave.
    let filled = |with_default: Value| {
        json!({"config": {"a": 1, "inner": {"b": "x"}, "opt": null,
            "with_default": with_default}, "list": null})
    };
    assert_eq!(
        run(&s, &json!({"config": false})).unwrap(),
        filled(json!({"d": 2}))
    );
    assert_eq!(
        run(
            &s,
            &json!({"config": {"inner": false, "opt": false, "with_default": false}})
        )
        .unwrap(),
        filled(json!({"d": 2, "e": 3}))
    );
    let updated = Engine::new(&mut NoFunctions, 1_000_000, 1.0)
        .check(&s, &json!({"config": false}), Context::Update)
        .unwrap();
    assert_eq!(updated["config"]["inner"], json!({"b": "x"}));
    assert_eq!(
        errs(&s, json!({"config": true})),
        vec!["config: expected a record"]
    );
    assert_eq!(
        errs(&s, json!({"list": false})),
        vec!["list: expected an array"]
    );
}

/// An input key named `@entity` is an unknown field like any other (Kong's `validate`
/// sets `errors["@entity"] = "unknown field"`); its detail names it, at any level, where
/// an entity-check list under that name is the level's entity entry.
#[test]
fn a_key_named_at_entity_is_reported_as_an_unknown_field() {
    let s = schema(json!({"fields": [
        {"config": {"type": "record", "fields": [{"a": {"type": "integer"}}]}},
    ]}));
    assert_eq!(
        errs(&s, json!({"config": {"@entity": 1}})),
        vec!["config.@entity: unknown field"]
    );
    assert_eq!(
        errs(&s, json!({"@entity": [], "config": {"a": 1}})),
        vec!["@entity: unknown field"]
    );
}

/// Kong 3.x `Schema:validate_field` on a foreign key: an invalid primary key sends the
/// value through the referenced schema's `validate(value, false)`, whose errors win;
/// when it passes, the key's own error stands. Without a known schema, the key's error.
#[test]
fn a_foreign_key_with_an_invalid_id_is_validated_against_its_entity() {
    let consumers = schema(json!({"fields": [
        {"id": {"type": "string", "uuid": true, "auto": true}},
        {"username": {"type": "string"}},
        {"custom_id": {"type": "string"}},
    ], "entity_checks": [{"at_least_one_of": ["custom_id", "username"]}]}));
    let mut s = schema(json!({"fields": [
        {"consumer": {"type": "foreign", "reference": "consumers"}},
        {"service": {"type": "foreign", "reference": "services"}},
    ]}));
    s.fields[0].1.foreign_schema = Some(std::sync::Arc::new(consumers));
    assert_eq!(
        errs(&s, json!({"consumer": {"name": "x"}})),
        vec!["consumer.name: unknown field"]
    );
    assert_eq!(
        errs(&s, json!({"consumer": {"username": "x"}})),
        vec!["consumer.id: missing primary key"]
    );
    assert_eq!(
        errs(&s, json!({"consumer": {"username": 5, "id": "nope"}})),
        vec![
            "consumer.id: expected a valid UUID",
            "consumer.username: expected a string"
        ]
    );
    assert_eq!(
        errs(&s, json!({"consumer": {"id": false}})),
        vec!["consumer.id: expected a string"]
    );
    assert_eq!(
        errs(&s, json!({"consumer": "x"})),
        vec!["consumer.id: missing primary key"]
    );
    assert_eq!(
        errs(&s, json!({"service": {"name": "x"}})),
        vec!["service.id: missing primary key"]
    );
    assert!(
        run(
            &s,
            &json!({"consumer": {"id": "8e4c8c8e-6e1a-4e1c-9a1e-1e1e1e1e1e1e", "name": "x"}})
        )
        .is_ok()
    );
}

/// A referenced schema's Lua functions live in another VM: while a reference is checked
/// against it, its `custom_validator`s and `custom_entity_check`s are not called (they
/// pass), so only its declarative rules speak.
#[test]
fn a_references_lua_functions_are_not_called() {
    use crate::schema::value::SchemaValue as V;
    let s = |text: &str| V::String(text.into());
    let field = |name: &str, def: Vec<(&str, V)>| {
        V::Object(vec![(
            name.into(),
            V::Object(def.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        )])
    };
    let services = V::Object(vec![
        (
            "fields".into(),
            V::Array(vec![
                field("id", vec![("type", s("string")), ("uuid", V::Bool(true))]),
                field(
                    "host",
                    vec![("type", s("string")), ("custom_validator", V::Function(0))],
                ),
                field("port", vec![("type", s("integer"))]),
            ]),
        ),
        (
            "entity_checks".into(),
            V::Array(vec![V::Object(vec![(
                "custom_entity_check".into(),
                V::Object(vec![
                    ("field_sources".into(), V::Array(vec![s("host")])),
                    ("fn".into(), V::Function(1)),
                ]),
            )])]),
        ),
    ]);
    let services = Schema::parse(&services, true).unwrap();
    assert!(services.has_functions());
    let mut plugin = schema(json!({"fields": [
        {"service": {"type": "foreign", "reference": "services"}},
    ]}));
    plugin.fields[0].1.foreign_schema = Some(std::sync::Arc::new(services));
    assert!(
        !plugin.has_functions(),
        "a reference keeps a schema declarative"
    );
    assert_eq!(
        errs(&plugin, json!({"service": {"host": "bad host"}})),
        vec!["service.id: missing primary key"]
    );
    assert_eq!(
        errs(&plugin, json!({"service": {"host": "h", "port": "80"}})),
        vec!["service.port: expected an integer"]
    );
}
