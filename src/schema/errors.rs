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

/// Kong's `errors:schema_violation` message: sorted keys, `name: msg` for strings,
/// `name.sub: msg` one level down, deeper tables in penlight's pretty form.
pub fn schema_violation(errors: &Errors) -> String {
    let mut parts = Vec::new();
    for (key, tree) in errors {
        match tree {
            ErrorTree::Message(m) => parts.push(format!("{key}: {m}")),
            ErrorTree::Nested(inner) => {
                for (sub, subtree) in inner {
                    match subtree {
                        ErrorTree::Message(m) => parts.push(format!("{key}.{sub}: {m}")),
                        ErrorTree::Nested(deeper) => {
                            parts.push(format!("{key}.{sub}: {}", pretty(deeper, 0)))
                        }
                    }
                }
            }
        }
    }
    match parts.len() {
        1 => format!("schema violation ({})", parts[0]),
        n => format!("{n} schema violations ({})", parts.join("; ")),
    }
}

/// penlight `pretty.write` of an error table, two-space indents.
fn pretty(errors: &Errors, depth: usize) -> String {
    let pad = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    let mut next_index = 1;
    let items: Vec<String> = errors
        .iter()
        .map(|(key, tree)| {
            let value = match tree {
                ErrorTree::Message(m) => format!("{m:?}"),
                ErrorTree::Nested(inner) => pretty(inner, depth + 1),
            };
            match key {
                ErrorKey::Index(i) if *i == next_index => {
                    next_index += 1;
                    format!("{pad}{value}")
                }
                ErrorKey::Index(i) => format!("{pad}[{i}] = {value}"),
                ErrorKey::Name(n) if is_identifier(n) => format!("{pad}{n} = {value}"),
                ErrorKey::Name(n) => format!("{pad}[{n:?}] = {value}"),
            }
        })
        .collect();
    format!("{{\n{}\n{close}}}", items.join(",\n"))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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
        let path = match key {
            ErrorKey::Name(n) if n == "@entity" => continue,
            ErrorKey::Name(n) if prefix.is_empty() => n.clone(),
            ErrorKey::Name(n) => format!("{prefix}.{n}"),
            ErrorKey::Index(i) => format!("{prefix}[{}]", i - 1),
        };
        match tree {
            ErrorTree::Message(m) => out.push(ErrorDetail::field(path, m.clone())),
            ErrorTree::Nested(inner) => flatten(inner, &path, out),
        }
    }
}
