//! Generated configs: filling defaults is idempotent, and the one walk (insert and
//! upsert without functions, or with functions but no shorthands) answers as Kong's two
//! walks do, calling the same functions with the same arguments in the same order.

use proptest::prelude::*;

use super::*;
use crate::schema::definition::FieldType;
use crate::schema::value::SchemaValue;

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
// One walk with Lua functions but no shorthands: the same calls, in the same order
// ---------------------------------------------------------------------------------

/// Stands in for a schema's Lua functions: records each call, and answers from the
/// argument alone (`false, "refused <id>"` when its JSON text holds a `c` or a `9`), so
/// that some calls fail and a call made out of order or with another argument shows.
#[derive(Default)]
struct Recorded {
    calls: Vec<(FnId, Value)>,
}

impl Functions for Recorded {
    fn call(&mut self, id: FnId, argument: &Value) -> Result<[Option<Value>; 2], String> {
        self.calls.push((id, argument.clone()));
        let text = argument.to_string();
        Ok(if text.contains(['c', '9']) {
            [
                Some(Value::Bool(false)),
                Some(json!(format!("refused {id}"))),
            ]
        } else {
            [Some(Value::Bool(true)), None]
        })
    }
}

/// A definition whose string values `"@fn<N>"` are Lua functions.
fn with_functions(def: Value) -> Schema {
    fn functions(v: SchemaValue) -> SchemaValue {
        match v {
            SchemaValue::String(s) if s.starts_with("@fn") => {
                SchemaValue::Function(s[3..].parse().expect("function id"))
            }
            SchemaValue::Array(items) => {
                SchemaValue::Array(items.into_iter().map(functions).collect())
            }
            SchemaValue::Object(entries) => SchemaValue::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, functions(v)))
                    .collect(),
            ),
            other => other,
        }
    }
    Schema::parse(&functions(from_json(&def)), true).unwrap()
}

/// `checked_schema` with a Lua function at every place one can be: scalar, element, map
/// key and value, record (top and nested, required and optional, in arrays) validators
/// and custom entity checks at two levels.
fn lua_schema() -> Schema {
    with_functions(json!({
        "fields": [
            {"s": {"type": "string", "default": "d", "len_max": 3, "custom_validator": "@fn0"}},
            {"i": {"type": "integer", "default": 3, "between": [0, 100], "custom_validator": "@fn1"}},
            {"n": {"type": "number"}},
            {"b": {"type": "boolean", "default": true}},
            {"tags": {"type": "set", "elements": {"type": "string", "custom_validator": "@fn2"}}},
            {"list": {"type": "array", "default": ["x", "x"], "elements": {"type": "string", "custom_validator": "@fn2"}}},
            {"m": {"type": "map", "keys": {"type": "string", "custom_validator": "@fn3"}, "values": {"type": "integer", "custom_validator": "@fn4"}}},
            {"recs": {"type": "array", "elements": {
                "type": "record",
                "fields": [
                    {"k": {"type": "string"}},
                    {"v": {"type": "integer", "default": 7, "custom_validator": "@fn5"}},
                    {"sub": {"type": "record", "fields": [{"w": {"type": "integer", "default": 1}}]}},
                ],
                "custom_validator": "@fn6",
                "entity_checks": [{"custom_entity_check": {"field_sources": ["k", "v"], "fn": "@fn7"}}],
            }}},
            {"r": {"type": "record", "fields": [
                {"x": {"type": "integer", "default": 1, "one_of": [1, 2, 3], "custom_validator": "@fn8"}},
                {"inner": {"type": "record", "fields": [
                    {"y": {"type": "string", "default": "z"}},
                    {"ys": {"type": "set", "elements": {"type": "integer"}, "default": [1, 2]}},
                ], "custom_validator": "@fn9"}},
            ], "custom_validator": "@fn10"}},
            {"opt": {"type": "record", "required": false, "fields": [
                {"q": {"type": "boolean", "default": false}},
            ], "custom_validator": "@fn11"}},
            {"od": {"type": "record", "required": false, "default": {}, "fields": [
                {"z": {"type": "integer", "required": true, "default": 5}},
            ], "custom_validator": "@fn12"}},
        ],
        "entity_checks": [
            {"custom_entity_check": {"field_sources": ["s", "i"], "fn": "@fn13"}},
            {"at_least_one_of": ["n", "m"]},
        ],
    }))
}

type Walked = (Result<Value, Vec<String>>, Vec<(FnId, Value)>);

fn walk(schema: &Schema, input: &Value, one: bool) -> Walked {
    let mut recorded = Recorded::default();
    let mut engine = Engine::new(&mut recorded, 1_000_000, 1_700_000_000.0);
    let outcome = if one {
        engine.check_filled(schema, input.clone(), Context::Insert)
    } else {
        engine.check_two_walks(schema, input.clone(), Context::Insert)
    };
    let outcome = outcome.map(Filled::into_value).map_err(|e| render(&e));
    (outcome, recorded.calls)
}

proptest! {
    #[test]
    fn one_walk_calls_the_functions_as_the_two_walks_do(
        input in config(),
        extra in prop::option::of(("[a-z]{1,3}", leaf())),
    ) {
        let mut input = input;
        if let (Some((key, value)), Some(map)) = (extra, input.as_object_mut()) {
            map.insert(key, value);
        }
        let s = lua_schema();
        prop_assert_eq!(walk(&s, &input, true), walk(&s, &input, false), "input {}", input);
    }
}

#[test]
fn the_lua_schema_takes_one_walk_and_calls_every_function() {
    // Guards the proptest: the schema does take the one walk, its functions all run on
    // a full config, and some of their refusals show.
    let s = lua_schema();
    assert!(s.has_functions() && !s.has_shorthands());
    let input = json!({
        "s": "ab", "n": 1, "tags": ["a"], "m": {"a": 1},
        "recs": [{"k": "a"}], "opt": {}, "r": {"inner": {}},
    });
    let (outcome, calls) = walk(&s, &input, true);
    let mut ids: Vec<FnId> = calls.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (0..14).collect::<Vec<_>>(), "{calls:?}");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(walk(&s, &input, true), walk(&s, &input, false));
    let mut refused = input.clone();
    refused["r"] = json!({"x": 3, "inner": {"y": "c"}});
    let (outcome, _) = walk(&s, &refused, true);
    assert_eq!(
        outcome.unwrap_err(),
        ["r.inner: refused 9"],
        "a nested record's validator refuses, and its parent's is not called"
    );
    assert_eq!(walk(&s, &refused, true), walk(&s, &refused, false));
    // A shorthand anywhere keeps the two walks.
    let nested = with_functions(json!({"fields": [{"r": {"type": "record",
        "fields": [{"a": {"type": "string", "custom_validator": "@fn0"}}],
        "shorthand_fields": [{"b": {"type": "string"}}]}}]}));
    assert!(nested.has_functions() && nested.has_shorthands());
}
