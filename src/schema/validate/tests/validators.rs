//! Every field validator with its message, `err`, and Kong's order of validators.

use super::*;

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
