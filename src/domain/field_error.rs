//! One invalid input field, in the shape of Konnect's `invalid_parameters` entries
//! (control-planes v2 OpenAPI, `InvalidParameters`).

use serde::Serialize;

/// Why one field of a request was refused. Serialises as a Konnect `invalid_parameters` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

impl FieldError {
    fn new(
        field: impl Into<String>,
        rule: Option<&'static str>,
        reason: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            rule,
            reason: reason.into(),
            minimum: None,
            maximum: None,
            choices: None,
            source: None,
        }
    }

    /// A free-form complaint with no Konnect rule name.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(field, None, reason)
    }

    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, Some("required"), "is a required field")
    }

    pub fn blank(field: impl Into<String>) -> Self {
        Self::new(field, None, "cannot be blank")
    }

    /// Konnect words it `property <name> should not exist` (400UnknownPropertyExample).
    pub fn unknown_property(field: impl Into<String>) -> Self {
        let field = field.into();
        let reason = format!("property {field} should not exist");
        Self::new(field, Some("unknown_property"), reason)
    }

    /// `rule` is one of Konnect's `is_string`, `is_integer`, `is_boolean`, `is_object`, `is_array`.
    pub fn wrong_type(field: impl Into<String>, rule: &'static str) -> Self {
        let expected = rule.trim_start_matches("is_");
        Self::new(field, Some(rule), format!("must be a {expected}"))
    }

    pub fn min_length(field: impl Into<String>, minimum: usize) -> Self {
        let mut e = Self::new(
            field,
            Some("min_length"),
            format!("must have at least {minimum} characters"),
        );
        e.minimum = Some(minimum as i64);
        e
    }

    pub fn max_length(field: impl Into<String>, maximum: usize) -> Self {
        let mut e = Self::new(
            field,
            Some("max_length"),
            format!("must not have more than {maximum} characters"),
        );
        e.maximum = Some(maximum as i64);
        e
    }

    pub fn max_items(field: impl Into<String>, maximum: usize) -> Self {
        let mut e = Self::new(
            field,
            Some("max_items"),
            format!("must not have more than {maximum} items"),
        );
        e.maximum = Some(maximum as i64);
        e
    }

    pub fn out_of_range(field: impl Into<String>, minimum: i64, maximum: i64) -> Self {
        let mut e = Self::new(
            field,
            None,
            format!("must be an integer between {minimum} and {maximum}"),
        );
        e.minimum = Some(minimum);
        e.maximum = Some(maximum);
        e
    }

    pub fn not_one_of(field: impl Into<String>, choices: &[&str]) -> Self {
        let mut e = Self::new(
            field,
            Some("enum"),
            format!("must be one of: {}", choices.join(", ")),
        );
        e.choices = Some(choices.iter().map(|c| c.to_string()).collect());
        e
    }

    pub fn not_uuid(field: impl Into<String>) -> Self {
        Self::new(field, Some("is_uuid"), "must be a valid UUID")
    }

    pub fn not_label(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(field, Some("is_label"), reason)
    }

    /// Marks where the value came from (`body`, `query`, `path`), as Konnect's `source`.
    pub fn from_source(mut self, source: &'static str) -> Self {
        self.source = Some(source);
        self
    }
}
