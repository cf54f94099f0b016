//! Kong's config hash, written for the tests from Kong's `calculate_config_hash` and
//! `to_sorted_string` (kong/clustering/config_helper.lua), independently of konnektd's
//! own (docs/clustering.md, "Hash"). Its test checks it against Kong's published vectors.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

/// The hash of no config: what a data plane pings before its first one.
pub const ZEROS: &str = "00000000000000000000000000000000";

/// LuaJIT's `tostring` of a number: `%.14g`.
fn lua_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    let sci = format!("{n:.13e}");
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..14).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (13 - exp).max(0) as usize;
        trim(&format!("{n:.decimals$}"))
    }
}

fn kong_serialize(value: &Value, buf: &mut Vec<u8>) {
    if buf.len() > 1_000_000 {
        let digest = Md5::digest(&buf[..]);
        buf.clear();
        buf.extend_from_slice(&digest);
    }
    match value {
        Value::Null => buf.extend_from_slice(b"/null/"),
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let text = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) if i.unsigned_abs() < 100_000_000_000_000 => i.to_string(),
                (_, Some(u)) if u < 100_000_000_000_000 => u.to_string(),
                _ => lua_number(n.as_f64().unwrap()),
            };
            buf.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Array(items) if items.is_empty() => buf.extend_from_slice(b"{}"),
        Value::Array(items) if items.len() == 1 => kong_serialize(&items[0], buf),
        Value::Array(items) if items.len() <= 5 => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b';');
                }
                kong_serialize(item, buf);
            }
        }
        Value::Array(items) => {
            for item in items {
                kong_serialize(item, buf);
                buf.push(b';');
            }
        }
        Value::Object(map) if map.is_empty() => buf.extend_from_slice(b"{}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for key in keys {
                buf.extend_from_slice(key.as_bytes());
                buf.push(b':');
                kong_serialize(&map[key], buf);
                buf.push(b';');
            }
        }
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

pub fn kong_hash(value: Option<&Value>) -> String {
    match value {
        None => ZEROS.into(),
        Some(v) => {
            let mut buf = Vec::new();
            kong_serialize(v, &mut buf);
            md5_hex(&buf)
        }
    }
}

const GROUPS: [&str; 5] = ["routes", "services", "plugins", "upstreams", "targets"];

/// `calculate_config_hash`: `{config, routes, services, plugins, upstreams, targets}`.
pub fn kong_config_hashes(table: &Value) -> Value {
    let Value::Object(map) = table else {
        return json!({"config": kong_hash(Some(table))});
    };
    let mut rest = map.clone();
    let mut hashes = Map::new();
    let mut joined = String::new();
    for group in GROUPS {
        let h = kong_hash(map.get(group));
        rest.remove(group);
        joined.push_str(&h);
        hashes.insert(group.into(), json!(h));
    }
    joined.push_str(&kong_hash(Some(&Value::Object(rest))));
    hashes.insert("config".into(), json!(md5_hex(joined.as_bytes())));
    Value::Object(hashes)
}

/// The hash implementation passes Kong's published vectors before anything relies on it.
#[test]
fn the_test_kong_hash_reproduces_kongs_vectors() {
    assert_eq!(kong_hash(None), ZEROS);
    assert_eq!(
        kong_hash(Some(&Value::Null)),
        "5bf07a8b7343015026657d1108d8206e"
    );
    assert_eq!(
        kong_hash(Some(&json!(10))),
        "d3d9446802a44259755d38e6d163e820"
    );
    assert_eq!(
        kong_hash(Some(&json!(0.9))),
        "a894124cc6d5c5c71afe060d5dde0762"
    );
    for (value, text) in [
        (json!(""), ""),
        (json!("hello"), "hello"),
        (json!(false), "false"),
        (json!(true), "true"),
    ] {
        assert_eq!(kong_hash(Some(&value)), md5_hex(text.as_bytes()));
    }
    assert_eq!(
        kong_config_hashes(&json!({}))["config"],
        "2da3c26e4dbd6dd6ea3ab60a3dd7fb3e"
    );
    let empty_arrays = "99914b932bd37a50b983c5e7c90ae93b";
    assert_eq!(
        kong_config_hashes(&json!({"routes": [], "services": [], "plugins": []})),
        json!({
            "config": "81aac97a81ad03c0cf0b36663806488e",
            "routes": empty_arrays, "services": empty_arrays, "plugins": empty_arrays,
            "upstreams": ZEROS, "targets": ZEROS,
        })
    );
    assert_eq!(
        kong_config_hashes(&json!({"upstreams": [], "targets": []}))["config"],
        "4d60dd9998ea4314039da5ca2f1db96f"
    );
    // %.14g and the array rules, by their definition.
    assert_eq!(lua_number(1.0), "1");
    assert_eq!(lua_number(1e15), "1e+15");
    assert_eq!(lua_number(0.1 + 0.2), "0.3");
    assert_eq!(lua_number(-2.5e-7), "-2.5e-07");
    let mut buf = Vec::new();
    kong_serialize(&json!([1, 2]), &mut buf);
    assert_eq!(buf, b"1;2");
    buf.clear();
    kong_serialize(&json!([1, 2, 3, 4, 5, 6]), &mut buf);
    assert_eq!(buf, b"1;2;3;4;5;6;");
    buf.clear();
    kong_serialize(&json!({"b": [true], "a": {}, "B": null}), &mut buf);
    assert_eq!(buf, b"B:/null/;a:{};b:true;");
}
