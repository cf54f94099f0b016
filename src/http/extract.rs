//! Extractors that own their rejections, so malformed input gets the route's error body
//! rather than axum's plain text.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

use crate::app::DEFAULT_PAGE_SIZE;
use crate::domain::field_error::FieldError;
use crate::domain::paging::PageRequest;
use crate::domain::token::Principal;
use crate::error::ApiError;

/// A JSON request body, parsed but not yet validated.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("Could not read the request body".into())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid(
                "Request cannot be empty",
                vec![FieldError::invalid("body", "cannot be blank")],
            ));
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let text = invalid_json(&e);
            ApiError::invalid(text.clone(), vec![FieldError::invalid("body", text)])
        })?;
        if let Some(path) = nul_in(&body, &mut String::new()) {
            return Err(ApiError::invalid(
                NUL_REFUSED,
                vec![FieldError::invalid(path, NUL_REASON)],
            ));
        }
        Ok(JsonBody(body))
    }
}

/// NUL (U+0000) is refused wherever a client can send text: PostgreSQL cannot store it
/// in `text` (its insert would fail as a 500), SQLite would store it and hand data planes
/// a string their C code cuts short. JSON bodies are checked here, URIs by
/// [`refuse_nul_in_uri`]: every request body and query of the API passes one of the two.
const NUL_REFUSED: &str = "Strings cannot contain the NUL character (\\u0000)";
const NUL_REASON: &str = "must not contain the NUL character (\\u0000)";

/// The path (`name`, `tags[1]`, `config.x`) of the first string or key holding a NUL.
fn nul_in(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| path_or_body(path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_in(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key.replace('\0', "\\u0000"));
            let found = if key.contains('\0') {
                Some(path.clone())
            } else {
                nul_in(item, path)
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn path_or_body(path: &str) -> String {
    if path.is_empty() {
        "body".into()
    } else {
        path.to_string()
    }
}

/// Refuses a request whose path or query holds an encoded NUL (`%00`; a URI cannot
/// carry a raw one), before any handler sees the decoded text.
pub async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let in_query = uri.query().filter(|q| q.contains("%00")).map(|q| {
        // The parameter that holds it, as the client named it.
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map_or_else(|| "query".to_string(), |(k, _)| k.replace('\0', "\\u0000"))
    });
    let field = match in_query {
        Some(parameter) => Some(FieldError::invalid(parameter, NUL_REASON).from_source("query")),
        None => uri
            .path()
            .contains("%00")
            .then(|| FieldError::invalid("path", NUL_REASON).from_source("path")),
    };
    match field {
        Some(field) => ApiError::invalid(NUL_REFUSED, vec![field]).into_response(),
        None => next.run(request).await,
    }
}

/// "Invalid JSON at line 3, column 14: expected `,` or `}`": where the parser stopped, so
/// a client can find the typo in a long body.
fn invalid_json(e: &serde_json::Error) -> String {
    // serde_json's text is "<what> at line L column C"; keep <what>, word the position.
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(&suffix).unwrap_or(&text);
    format!(
        "Invalid JSON at line {}, column {}: {what}",
        e.line(),
        e.column()
    )
}

/// The `{controlPlaneId}` of a path, as a UUID.
pub struct ControlPlaneId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ControlPlaneId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("Not found".into()))?;
        let raw = params
            .get("controlPlaneId")
            .map(String::as_str)
            .unwrap_or("");
        Uuid::parse_str(raw).map(ControlPlaneId).map_err(|_| {
            ApiError::invalid(
                "Request contains invalid ID format",
                vec![FieldError::invalid("id", "invalid ID format").from_source("path")],
            )
        })
    }
}

/// The query string as a map; repeated keys keep their last value.
pub struct QueryMap(pub HashMap<String, String>);

impl QueryMap {
    /// `page[size]` and `page[number]`, checked against the configured maximum. The one
    /// rule of every list that takes them: an empty value is the default, as the spec's
    /// `allowEmptyValue: true` on both says; anything else must be a number in bounds.
    /// (A core-entity list's `size` has no `allowEmptyValue`, and Kong answers `size=`
    /// with "size must be a number": there it is refused.)
    pub fn page(&self, max_size: u32) -> Result<PageRequest, Vec<FieldError>> {
        PageRequest::parse(
            self.0.get("page[size]").map(String::as_str),
            self.0.get("page[number]").map(String::as_str),
            DEFAULT_PAGE_SIZE,
            max_size,
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let map = url_pairs(query);
        Ok(QueryMap(map))
    }
}

fn url_pairs(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The caller, as the auth middleware identified it.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> String {
        invalid_json(&serde_json::from_str::<Value>(text).unwrap_err())
    }

    #[test]
    fn a_nul_is_found_in_values_and_keys_with_its_path() {
        let find = |v: Value| nul_in(&v, &mut String::new());
        assert_eq!(
            find(serde_json::json!({"name": "ok", "tags": ["a", "b\0"]})),
            Some("tags[1]".into())
        );
        assert_eq!(
            find(serde_json::json!({"config": {"x\0": 1}})),
            Some("config.x\\u0000".into())
        );
        assert_eq!(find(serde_json::json!("\0")), Some("body".into()));
        assert_eq!(
            find(serde_json::json!({"name": "ok", "n": [1, null, {"a": "b"}]})),
            None
        );
    }

    #[test]
    fn invalid_json_names_line_and_column_once() {
        assert_eq!(
            parse_error("{\n  \"name\": \"a\",\n  \"host\": \"b\" \"port\": 1\n}"),
            "Invalid JSON at line 3, column 15: expected `,` or `}`"
        );
        assert_eq!(
            parse_error("{\"name\": "),
            "Invalid JSON at line 1, column 9: EOF while parsing a value"
        );
    }
}
