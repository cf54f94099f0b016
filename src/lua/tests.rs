//! Validation of schemas whose functions run in the VM: shorthands, custom validators,
//! custom entity checks, ping-auth against Kong's answers, and table defaults with and
//! without a function in the schema.

use serde_json::{Value, json};

use crate::lua::sandbox::Limits;
use crate::lua::schema_cache::CompiledSchema;
use crate::schema::definition::Schema;
use crate::schema::validate::tests::{errs, render, run, schema};
use crate::schema::validate::{Context, Engine};
use crate::schema::value::SchemaValue;

fn plain(value: &SchemaValue) -> Result<Schema, String> {
    Schema::parse(value, true).map_err(|e| e.to_string())
}

fn compile(source: &str) -> CompiledSchema {
    CompiledSchema::compile(
        source,
        crate::lua::modules::ModuleSet::Uploaded,
        Limits::default(),
        plain,
    )
    .unwrap()
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
    let cache = crate::lua::schema_cache::SchemaCache::new(2, 1);
    let ready = cache.checkout(source, plain, Limits::default()).unwrap();
    assert!(matches!(ready, crate::lua::schema_cache::Ready::WithLua(_)));
    let mut compiled = compile(source);
    assert_eq!(
        lua_run(&mut compiled, json!({"config": {"old": "bad"}})),
        Err(vec!["config.old: old is bad".to_string()])
    );
    assert!(lua_run(&mut compiled, json!({"config": {"old": "fine"}})).is_ok());
}
