//! JSON values as Lua sees them, for the results of schema functions and the texts of
//! Kong's messages: truthiness, `==`, `tostring`, `%d` and `%s` formatting, and tables
//! that Lua cannot tell apart (`{}` is both an empty array and an empty object).

use serde_json::{Map, Value};

use crate::schema::value::lua_number;

pub(super) fn truthy(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Bool(false)))
}

/// A JSON array, or an empty object (Lua cannot tell `{}` from `[]`).
pub(super) fn as_sequence(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) if map.is_empty() => Some(&[]),
        _ => None,
    }
}

/// A JSON object, or an empty array.
pub(super) fn as_record(value: &Value) -> Option<&Map<String, Value>> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    match value {
        Value::Object(map) => Some(map),
        Value::Array(items) if items.is_empty() => Some(&EMPTY),
        _ => None,
    }
}

/// Lua's `==` on two values: tables are equal only to themselves, so never here.
pub(super) fn lua_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

/// Lua's `tostring` of a value, as Kong's messages print it.
pub fn lua_tostring(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => lua_number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => "table".into(),
    }
}

/// `%d` of a number: LuaJIT truncates toward zero.
pub(super) fn lua_int(n: f64) -> String {
    format!("{}", n.trunc() as i64)
}

pub(super) fn concat(options: &[Value]) -> String {
    options
        .iter()
        .map(lua_tostring)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn quoted(words: impl IntoIterator<Item = String>) -> String {
    words
        .into_iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `template:format(arg)` for the `%s` templates of entity checks.
pub(super) fn lua_format(template: &str, arg: &str) -> String {
    let mut out = String::with_capacity(template.len() + arg.len());
    let mut rest = template;
    let mut used = false;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.as_bytes().get(i + 1) {
            Some(b's') if !used => {
                out.push_str(arg);
                used = true;
            }
            Some(b'%') => out.push('%'),
            _ => out.push_str(&rest[i..(i + 2).min(rest.len())]),
        }
        rest = rest.get(i + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}
