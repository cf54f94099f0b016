//! Kong's error tables (`errors[field] = msg | nested table`, `@entity` lists) and the
//! two ways konnektd words them: Kong's one-line `schema violation` message and the
//! flat Koko `details` list Konnect answers with (see "Error bodies" in `docs/api.md`).

use std::collections::BTreeMap;

/// A nested error table as Kong builds it: keys are field names or 1-based indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorTree {
    Message(String),
    Nested(BTreeMap<ErrorKey, ErrorTree>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKey {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for ErrorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorKey::Index(i) => write!(f, "{i}"),
            ErrorKey::Name(n) => f.write_str(n),
        }
    }
}

pub type Errors = BTreeMap<ErrorKey, ErrorTree>;

pub fn put(errors: &mut Errors, key: impl Into<ErrorKey>, message: impl Into<String>) {
    errors.insert(key.into(), ErrorTree::Message(message.into()));
}

pub fn put_nested(errors: &mut Errors, key: impl Into<ErrorKey>, nested: Errors) {
    if !nested.is_empty() {
        errors.insert(key.into(), ErrorTree::Nested(nested));
    }
}

impl From<&str> for ErrorKey {
    fn from(s: &str) -> Self {
        ErrorKey::Name(s.to_string())
    }
}

impl From<String> for ErrorKey {
    fn from(s: String) -> Self {
        ErrorKey::Name(s)
    }
}

impl From<usize> for ErrorKey {
    fn from(i: usize) -> Self {
        ErrorKey::Index(i)
    }
}

/// Kong's `errors:schema_violation` wording (`kong/db/errors.lua`): `schema violation (x)`
/// for one error, `N schema violations (x; y)` for more, each `path: message`.
///
/// Kong prints a table nested deeper than one level with penlight's `pretty.write`
/// (`fields.1: {\n  fields = {\n    [4] = {...`), which names no field; konnektd flattens
/// every leaf to its dotted path instead, as its Koko `details` do. A nested table under
/// `grouping` adds no segment of its own when it holds named entries: in the metaschema's
/// tree `fields` only groups field definitions by name, so a typo reads
/// `config.timeout.type: expected one of: ...`. Items keep their 1-based index, as Kong
/// prints them; an `@entity` list reports at its parent's path.
pub fn schema_violation(errors: &Errors, grouping: &str) -> String {
    let mut parts = Vec::new();
    leaf_paths(errors, "", false, grouping, &mut parts);
    parts.sort();
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(path, m)| match path.is_empty() {
            true => m,
            false => format!("{path}: {m}"),
        })
        .collect();
    match parts.len() {
        1 => format!("schema violation ({})", parts[0]),
        n => format!("{n} schema violations ({})", parts.join("; ")),
    }
}

/// `in_group`: `errors` is the table under `grouping`, keyed by the names it groups.
fn leaf_paths(
    errors: &Errors,
    prefix: &str,
    in_group: bool,
    grouping: &str,
    out: &mut Vec<(String, String)>,
) {
    let join = |segment: String| match prefix.is_empty() {
        true => segment,
        false => format!("{prefix}.{segment}"),
    };
    for (key, tree) in errors {
        let path = match key {
            ErrorKey::Name(n) if n == "@entity" => {
                let messages = match tree {
                    ErrorTree::Message(m) => vec![m],
                    ErrorTree::Nested(list) => list
                        .values()
                        .filter_map(|m| match m {
                            ErrorTree::Message(m) => Some(m),
                            ErrorTree::Nested(_) => None,
                        })
                        .collect(),
                };
                out.extend(
                    messages
                        .into_iter()
                        .map(|m| (prefix.to_string(), m.clone())),
                );
                continue;
            }
            ErrorKey::Name(n) if n == grouping && !in_group => {
                if let ErrorTree::Nested(inner) = tree {
                    leaf_paths(inner, prefix, true, grouping, out);
                    continue;
                }
                join(n.clone())
            }
            // An item with no name of its own (not a one-key table) keeps the group's key.
            ErrorKey::Index(i) if in_group => join(format!("{grouping}.{i}")),
            other => join(other.to_string()),
        };
        match tree {
            ErrorTree::Message(m) => out.push((path, m.clone())),
            ErrorTree::Nested(inner) => leaf_paths(inner, &path, false, grouping, out),
        }
    }
}

/// What one entry of Koko's `details` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailKind {
    Field,
    Entity,
    Reference,
}

impl DetailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DetailKind::Field => "ERROR_TYPE_FIELD",
            DetailKind::Entity => "ERROR_TYPE_ENTITY",
            DetailKind::Reference => "ERROR_TYPE_REFERENCE",
        }
    }
}

/// One entry of Koko's `details`: `{"type", "field", "messages"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub kind: DetailKind,
    pub field: Option<String>,
    pub messages: Vec<String>,
}

impl ErrorDetail {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorDetail {
            kind: DetailKind::Field,
            field: Some(field.into()),
            messages: vec![message.into()],
        }
    }
}

/// Flattens a Kong error table the way Koko did: dotted paths for records, `[i]`
/// (0-based, as the JSON array index) for array items, and one entity entry per level
/// holding that level's `@entity` messages.
pub fn details(errors: &Errors) -> Vec<ErrorDetail> {
    let mut out = Vec::new();
    flatten(errors, "", &mut out);
    out
}

fn flatten(errors: &Errors, prefix: &str, out: &mut Vec<ErrorDetail>) {
    if let Some(ErrorTree::Nested(list)) = errors.get(&ErrorKey::Name("@entity".into())) {
        let messages = list
            .values()
            .filter_map(|m| match m {
                ErrorTree::Message(m) => Some(m.clone()),
                ErrorTree::Nested(_) => None,
            })
            .collect();
        out.push(ErrorDetail {
            kind: DetailKind::Entity,
            field: (!prefix.is_empty()).then(|| prefix.to_string()),
            messages,
        });
    }
    for (key, tree) in errors {
        let path = match (key, tree) {
            // A level's entity-check list, flattened above.
            (ErrorKey::Name(n), ErrorTree::Nested(_)) if n == "@entity" => continue,
            // A field error of an input key named `@entity` (Kong's `unknown field`): it
            // names that key, as any field error does.
            (ErrorKey::Name(n), _) if prefix.is_empty() => n.clone(),
            (ErrorKey::Name(n), _) => format!("{prefix}.{n}"),
            (ErrorKey::Index(i), _) => format!("{prefix}[{}]", i - 1),
        };
        match tree {
            ErrorTree::Message(m) => out.push(ErrorDetail::field(path, m.clone())),
            ErrorTree::Nested(inner) => flatten(inner, &path, out),
        }
    }
}
