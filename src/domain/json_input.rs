//! Reading a JSON request object field by field, collecting every problem at once so a
//! client learns all that is wrong with a body from one answer.

use serde_json::{Map, Value};

use super::field_error::FieldError;

/// Walks one JSON object. Each getter records a [`FieldError`] instead of failing, and
/// [`ObjectReader::finish`] reports them all, together with any property not in `known`.
pub struct ObjectReader<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    known: &'static [&'static str],
    errors: Vec<FieldError>,
}

impl<'a> ObjectReader<'a> {
    /// `prefix` is the dotted path of this object inside the body ("" at the top).
    pub fn new(
        value: &'a Value,
        prefix: &str,
        known: &'static [&'static str],
    ) -> Result<Self, Box<FieldError>> {
        match value {
            Value::Object(object) => Ok(ObjectReader {
                object,
                prefix: prefix.to_string(),
                known,
                errors: Vec::new(),
            }),
            _ if prefix.is_empty() => Err(Box::new(FieldError::invalid(
                "body",
                "request format is invalid",
            ))),
            _ => Err(Box::new(FieldError::wrong_type(prefix, "is_object"))),
        }
    }

    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// The raw value, `None` when absent.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key)
    }

    pub fn string(&mut self, key: &str) -> Option<&'a str> {
        match self.object.get(key)? {
            Value::String(s) => Some(s),
            _ => {
                self.errors
                    .push(FieldError::wrong_type(self.path(key), "is_string"));
                None
            }
        }
    }

    pub fn bool(&mut self, key: &str) -> Option<bool> {
        match self.object.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.errors
                    .push(FieldError::wrong_type(self.path(key), "is_boolean"));
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        match self.object.get(key)? {
            Value::Number(n) if n.is_i64() => n.as_i64(),
            _ => {
                self.errors
                    .push(FieldError::wrong_type(self.path(key), "is_integer"));
                None
            }
        }
    }

    pub fn array(&mut self, key: &str) -> Option<&'a Vec<Value>> {
        match self.object.get(key)? {
            Value::Array(a) => Some(a),
            _ => {
                self.errors
                    .push(FieldError::wrong_type(self.path(key), "is_array"));
                None
            }
        }
    }

    pub fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.object.get(key)? {
            Value::Object(o) => Some(o),
            _ => {
                self.errors
                    .push(FieldError::wrong_type(self.path(key), "is_object"));
                None
            }
        }
    }

    /// A string whose length in characters lies in `min..=max`.
    pub fn bounded_string(&mut self, key: &str, min: usize, max: usize) -> Option<&'a str> {
        let s = self.string(key)?;
        let len = s.chars().count();
        if len < min {
            self.errors
                .push(FieldError::min_length(self.path(key), min));
            None
        } else if len > max {
            self.errors
                .push(FieldError::max_length(self.path(key), max));
            None
        } else {
            Some(s)
        }
    }

    /// A string that must be one of `choices`.
    pub fn choice(&mut self, key: &str, choices: &[&'static str]) -> Option<&'static str> {
        let s = self.string(key)?;
        match choices.iter().find(|c| **c == s) {
            Some(c) => Some(c),
            None => {
                self.errors
                    .push(FieldError::not_one_of(self.path(key), choices));
                None
            }
        }
    }

    /// Every error found, unknown properties included; `Ok` when there were none.
    pub fn finish(mut self) -> Result<(), Vec<FieldError>> {
        for key in self.object.keys() {
            if !self.known.contains(&key.as_str()) {
                let path = self.path(key);
                self.errors.push(FieldError::unknown_property(path));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    /// Moves the errors of a nested reader into this one.
    pub fn absorb(&mut self, nested: Result<(), Vec<FieldError>>) {
        if let Err(errors) = nested {
            self.errors.extend(errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem_of_an_object_at_once() {
        let body = json!({"name": 5, "flag": "yes", "extra": 1});
        let mut r = ObjectReader::new(&body, "", &["name", "flag"]).unwrap();
        assert_eq!(r.string("name"), None);
        assert_eq!(r.bool("flag"), None);
        let errors = r.finish().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            fields,
            vec![
                ("name", Some("is_string")),
                ("flag", Some("is_boolean")),
                ("extra", Some("unknown_property"))
            ]
        );
        assert_eq!(errors[2].reason, "property extra should not exist");
    }

    #[test]
    fn nested_paths_are_dotted() {
        let body = json!({"host": ""});
        let mut r = ObjectReader::new(&body, "proxy_urls.0", &["host"]).unwrap();
        assert_eq!(r.bounded_string("host", 1, 120), None);
        let errors = r.finish().unwrap_err();
        assert_eq!(errors[0].field, "proxy_urls.0.host");
        assert_eq!(errors[0].rule, Some("min_length"));
        assert_eq!(errors[0].minimum, Some(1));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_format_error() {
        let e = ObjectReader::new(&json!([1]), "", &[]).err().unwrap();
        assert_eq!(e.field, "body");
        assert_eq!(e.reason, "request format is invalid");
    }
}
