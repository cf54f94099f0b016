//! Extractors that own their rejections, so malformed input gets the route's error body
//! rather than axum's plain text.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
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
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let text = invalid_json(&e);
            ApiError::invalid(text.clone(), vec![FieldError::invalid("body", text)])
        })
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
    /// `page[size]` and `page[number]`, checked against the configured maximum.
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
