//! The value a `schema.lua` returns, copied out of the Lua VM by raw traversal.

use std::fmt;

/// One Lua value of a schema definition. Tables become [`SchemaValue::Array`] (keys
/// 1..n without holes), [`SchemaValue::Object`] (string keys, sorted) or
/// [`SchemaValue::EmptyTable`], which Lua cannot tell apart from either.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaValue {
    /// `ngx.null`: an explicit JSON null, distinct from an absent key.
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<SchemaValue>),
    Object(Vec<(String, SchemaValue)>),
    EmptyTable,
    /// A Lua function (`custom_validator`, `fn`, `func`): not renderable, re-run from source.
    Function(u32),
}

impl SchemaValue {
    pub fn get(&self, key: &str) -> Option<&SchemaValue> {
        match self {
            SchemaValue::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SchemaValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Entries of an object; an empty table has none.
    pub fn entries(&self) -> Option<&[(String, SchemaValue)]> {
        match self {
            SchemaValue::Object(entries) => Some(entries),
            SchemaValue::EmptyTable => Some(&[]),
            _ => None,
        }
    }

    /// Items of an array; an empty table has none.
    pub fn items(&self) -> Option<&[SchemaValue]> {
        match self {
            SchemaValue::Array(items) => Some(items),
            SchemaValue::EmptyTable => Some(&[]),
            _ => None,
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(
            self,
            SchemaValue::Array(_) | SchemaValue::Object(_) | SchemaValue::EmptyTable
        )
    }

    /// Lua's `type()` of the value, for messages.
    pub fn lua_type(&self) -> &'static str {
        match self {
            SchemaValue::Null => "userdata",
            SchemaValue::Bool(_) => "boolean",
            SchemaValue::Number(_) => "number",
            SchemaValue::String(_) => "string",
            SchemaValue::Array(_) | SchemaValue::Object(_) | SchemaValue::EmptyTable => "table",
            SchemaValue::Function(_) => "function",
        }
    }
}

/// Formats a number as LuaJIT's `tostring` does (`%.14g`), as Kong's messages show them.
pub fn lua_number(n: f64) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let formatted = format!("{:.13e}", n);
    let (mantissa, exponent) = formatted.split_once('e').expect("exponent form");
    let exponent: i32 = exponent.parse().expect("exponent");
    if (-5..14).contains(&exponent) {
        let decimals = (13 - exponent).max(0) as usize;
        let fixed = format!("{n:.decimals$}");
        let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
        trimmed.to_string()
    } else {
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

impl fmt::Display for SchemaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaValue::Null => f.write_str("null"),
            SchemaValue::Bool(b) => write!(f, "{b}"),
            SchemaValue::Number(n) => f.write_str(&lua_number(*n)),
            SchemaValue::String(s) => f.write_str(s),
            SchemaValue::Function(_) => f.write_str("function"),
            _ => f.write_str("table"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_luajit_tostring() {
        for (n, s) in [
            (10.0, "10"),
            (0.1, "0.1"),
            (1e15, "1e+15"),
            (2147483646.0, "2147483646"),
            (0.001, "0.001"),
            (1.5, "1.5"),
            (-3.0, "-3"),
            (1e-7, "1e-07"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(lua_number(n), s, "{n}");
        }
    }
}
