//! The field validators (`Schema.validators`, run in Kong's `validators_order`), with
//! Kong's messages.

use serde_json::Value;

use super::Engine;
use super::lua_values::{concat, lua_eq, lua_int, lua_tostring, quoted, truthy};
use crate::lua_pattern::Pattern;
use crate::schema::definition::{Field, FieldType, Native, Validator};
use crate::schema::errors::ErrorTree;
use crate::schema::value::lua_number;

impl Engine<'_> {
    #[inline(always)]
    pub(super) fn run_validators(&mut self, field: &Field, value: &Value) -> Result<(), ErrorTree> {
        for validator in &field.validators {
            if let Err(message) = self.run_validator(validator, value, field) {
                return Err(ErrorTree::Message(field.err.clone().unwrap_or(message)));
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn run_validator(
        &mut self,
        validator: &Validator,
        value: &Value,
        field: &Field,
    ) -> Result<(), String> {
        let text = value.as_str();
        let number = value.as_f64();
        match validator {
            Validator::Eq(wanted) => check(lua_eq(value, wanted), || {
                format!("value must be {}", lua_tostring(wanted))
            }),
            Validator::Ne(wanted) => check(!lua_eq(value, wanted), || {
                format!("value must not be {}", lua_tostring(value))
            }),
            Validator::NotOneOf(options) => {
                check(!options.iter().any(|o| lua_eq(value, o)), || {
                    format!("must not be one of: {}", concat(options))
                })
            }
            Validator::OneOf(options) => check(options.iter().any(|o| lua_eq(value, o)), || {
                format!("expected one of: {}", concat(options))
            }),
            Validator::Gt(limit) => check(number.is_some_and(|n| n > *limit), || {
                format!("value must be greater than {}", lua_number(*limit))
            }),
            Validator::Timestamp => check(number.is_some_and(|n| n > 0.0), || {
                "expected a valid timestamp".into()
            }),
            Validator::Uuid => check(text.is_some_and(is_uuid), || "expected a valid UUID".into()),
            Validator::IsRegex => check(text.is_some_and(crate::schema::pcre::compiles), || {
                format!("not a valid regex: {}", lua_tostring(value))
            }),
            Validator::Between(min, max) => {
                check(number.is_some_and(|n| n >= *min && n <= *max), || {
                    format!(
                        "value should be between {} and {}",
                        lua_int(*min),
                        lua_int(*max)
                    )
                })
            }
            Validator::LenEq(n) => check(length(value, field) as f64 == *n, || {
                format!("length must be {}", lua_int(*n))
            }),
            Validator::LenMin(n) => check(length(value, field) as f64 >= *n, || {
                format!("length must be at least {}", lua_int(*n))
            }),
            Validator::LenMax(n) => check(length(value, field) as f64 <= *n, || {
                format!("length must be at most {}", lua_int(*n))
            }),
            Validator::StartsWith(prefix) => check(
                text.is_some_and(|t| t.as_bytes().starts_with(prefix.as_bytes())),
                || format!("should start with: {prefix}"),
            ),
            Validator::NotMatch(pattern) => {
                let matched = self.matches(value, pattern)?;
                check(!matched, || {
                    format!("invalid value: {}", lua_tostring(value))
                })
            }
            Validator::MatchNone(rules) => {
                for rule in rules {
                    if self.matches(value, &rule.pattern)? {
                        return Err(rule.err.clone().unwrap_or_else(|| invalid(value)));
                    }
                }
                Ok(())
            }
            Validator::Match(pattern) => {
                let matched = self.matches(value, pattern)?;
                check(matched, || invalid(value))
            }
            Validator::MatchAll(rules) => {
                for rule in rules {
                    if !self.matches(value, &rule.pattern)? {
                        return Err(rule.err.clone().unwrap_or_else(|| invalid(value)));
                    }
                }
                Ok(())
            }
            Validator::MatchAny { patterns, err } => {
                for pattern in patterns {
                    if self.matches(value, pattern)? {
                        return Ok(());
                    }
                }
                Err(err.clone().unwrap_or_else(|| invalid(value)))
            }
            Validator::Contains(wanted) => {
                let found = value
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| lua_eq(i, wanted)));
                check(found, || {
                    format!("expected to contain: {}", lua_tostring(wanted))
                })
            }
            Validator::Custom(_) if self.foreign => Ok(()),
            Validator::Custom(id) => {
                let [ok, err] = self.functions.call(*id, value)?;
                if truthy(ok.as_ref()) {
                    return Ok(());
                }
                Err(match err {
                    Some(Value::String(s)) => s,
                    Some(other) if truthy(Some(&other)) => lua_tostring(&other),
                    _ => format!("failed validating: {}", lua_tostring(value)),
                })
            }
            Validator::Native(native) => native_check(*native, text.unwrap_or_default()),
            Validator::MutuallyExclusiveSubsets(subsets) => {
                let mut member_of: Vec<usize> = Vec::new();
                for item in value.as_array().map(Vec::as_slice).unwrap_or_default() {
                    // Kong keys the union by element, so a later subset wins for shared ones.
                    let owner = subsets
                        .iter()
                        .rposition(|s| s.iter().any(|e| lua_eq(e, item)));
                    if let Some(owner) = owner
                        && !member_of.contains(&owner)
                    {
                        member_of.push(owner);
                    }
                }
                check(member_of.len() <= 1, || {
                    let groups: Vec<String> = member_of
                        .iter()
                        .map(|i| format!("({})", quoted(subsets[*i].iter().map(lua_tostring))))
                        .collect();
                    format!("these sets are mutually exclusive: {}", groups.join(", "))
                })
            }
        }
    }

    /// `value:match(pattern)` with Lua patterns, under the step budget.
    fn matches(&self, value: &Value, pattern: &Pattern) -> Result<bool, String> {
        let Some(subject) = value.as_str() else {
            return Err(format!("failed validating: {}", lua_tostring(value)));
        };
        pattern
            .is_match(subject.as_bytes(), self.pattern_steps)
            .map_err(|e| e.to_string())
    }
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { failed(message) }
}

/// Messages are built out of line (here and in `field_error`), so the validators'
/// common path stays small.
#[cold]
#[inline(never)]
fn failed(message: impl FnOnce() -> String) -> Result<(), String> {
    Err(message())
}

fn invalid(value: &Value) -> String {
    format!("invalid value: {}", lua_tostring(value))
}

/// `#value` as Kong's length validators count it: bytes, items, or keys of a map.
fn length(value: &Value, field: &Field) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        Value::Object(map) if field.kind == FieldType::Map => map.len(),
        _ => 0,
    }
}

/// A [`Native`] typedef validator. Kong first checks the bytes are UTF-8, which a JSON
/// string always is; its byte patterns then take every non-ASCII byte a UTF-8 string can
/// hold (`\128-\244`), so only ASCII characters are judged.
fn native_check(native: Native, text: &str) -> Result<(), String> {
    match native {
        // `^[ \033-\043\045\046\048-\126\128-\244]+$`: printable ASCII and the space,
        // but `,` and `/`.
        Native::Tag => check(
            text.chars()
                .all(|c| !c.is_ascii() || (matches!(c, ' '..='~') && c != ',' && c != '/')),
            || {
                format!(
                    "invalid tag '{text}': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
                )
            },
        ),
        // `^[%w%.%-%_~\128-\244]+$`.
        Native::Utf8Name => check(
            text.chars().all(|c| {
                !c.is_ascii() || c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~')
            }),
            || {
                format!(
                    "invalid value '{text}': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
                )
            },
        ),
    }
}

/// Kong's `uuid` validator: 36 characters, hex groups 8-4-4-4-12, any case.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A vault reference (`{vault://env/name}`), as Kong's `kong.vault.is_reference` tells.
pub fn is_reference(s: &str) -> bool {
    s.len() > 9 && s.starts_with("{vault://") && s.ends_with('}')
}
