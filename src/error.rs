//! The one error type of the HTTP API, and the only place that picks a status code or
//! an error body.
//!
//! A handler returns an [`ApiError`] without knowing how it will be worded on the wire.
//! The route decides that: every router is wrapped in [`render_errors`] with its
//! [`ErrorFamily`], which turns the error into one of Konnect's three bodies
//! (docs/api.md, "Error bodies"). Errors that axum or tower-http raise themselves (no route,
//! wrong method, body too large) are caught there too, so no plain-text error escapes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::field_error::FieldError;
use crate::entities::EntityError;
use crate::schema::errors::ErrorDetail;
use crate::store::StoreError;

/// The message of a 401 outside the problem family (the config spec's `HTTP401Error`
/// and `KonnectCPLegacyUnauthorizedExample` examples).
const UNAUTHORIZED: &str = "Unauthorized";

/// The three error bodies Konnect uses, chosen per route (docs/api.md, "Error bodies").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// RFC 7807 `application/problem+json`: control planes, list parameters, nodes.
    Problem,
    /// `{"message", "request_id"}`: plugin schemas, dp-client-certificates.
    Legacy,
    /// Koko's `{"code", "message", "details"}`: core entities.
    Koko,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, unknown, expired and revoked tokens alike: no oracle.
    #[error("A valid token is required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Input that failed validation, with every offending field.
    #[error("{detail}")]
    InvalidParameters {
        detail: String,
        fields: Vec<FieldError>,
    },
    #[error("{0}")]
    BadRequest(String),
    /// A core-entity write Kong refuses: Koko's `validation error` or `data constraint
    /// error` with one detail per field or entity check (docs/api.md, "Core entities").
    #[error("{message}")]
    Rejected {
        message: String,
        details: Vec<ErrorDetail>,
    },
    #[error("{0}")]
    Conflict(String),
    /// Worded with the configured limit when rendered.
    #[error("Request body is too large")]
    PayloadTooLarge,
    #[error("This API only supports requests with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// The store is down or overloaded; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected: logged once, never shown.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn invalid(detail: impl Into<String>, fields: Vec<FieldError>) -> Self {
        ApiError::InvalidParameters {
            detail: detail.into(),
            fields,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidParameters { .. }
            | ApiError::BadRequest(_)
            | ApiError::Rejected { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client reads; internal details never leave the process.
    fn public_message(&self, rendering: &ErrorRendering) -> String {
        match self {
            ApiError::Internal(_) => "Internal server error".to_string(),
            ApiError::PayloadTooLarge => format!(
                "Request body is larger than the limit of {} bytes",
                rendering.max_body_size
            ),
            other => other.to_string(),
        }
    }

    /// Konnect's problem titles (control-planes v2 examples), else the status's reason.
    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "Unauthenticated",
            ApiError::Forbidden(_) => "Permission denied",
            other => other.status().canonical_reason().unwrap_or("Error"),
        }
    }

    /// gRPC code of Koko's body (grpc-gateway maps it back to the HTTP status).
    fn grpc_code(&self) -> u16 {
        match self {
            ApiError::Unauthenticated => 16,
            ApiError::Forbidden(_) => 7,
            ApiError::NotFound(_) => 5,
            ApiError::Conflict(_) => 6,
            ApiError::Unavailable(_) => 14,
            ApiError::Internal(_) => 13,
            ApiError::MethodNotAllowed => 12,
            _ => 3,
        }
    }

    /// The body in `family`'s shape.
    fn body(&self, rendering: &ErrorRendering, request_id: &str) -> (Value, &'static str) {
        let message = self.public_message(rendering);
        match (self, rendering.family) {
            // The config spec's 401s (docs/api.md, decision 3): core entities answer
            // `HTTP401Error` (`GatewayUnauthorizedError`, `{"message", "status"}`), plugin
            // schemas and dp-client-certificates `KonnectCPLegacyUnauthorized`
            // (`{"message"}`), both `application/json`, with the spec's
            // `InvalidAuthCred` text for every bad token alike.
            (ApiError::Unauthenticated, ErrorFamily::Koko) => {
                return (
                    json!({"message": UNAUTHORIZED, "status": 401}),
                    "application/json",
                );
            }
            (ApiError::Unauthenticated, ErrorFamily::Legacy) => {
                return (
                    json!({"message": UNAUTHORIZED, "request_id": request_id}),
                    "application/json",
                );
            }
            // A 403 is the platform's problem, except where the spec gives the legacy
            // families `KonnectCPLegacyForbidden`.
            (ApiError::Forbidden(_), ErrorFamily::Koko) => {
                return self.body(
                    &ErrorRendering {
                        family: ErrorFamily::Problem,
                        ..*rendering
                    },
                    request_id,
                );
            }
            _ => {}
        }
        match rendering.family {
            ErrorFamily::Problem => {
                let status = self.status().as_u16();
                let mut body = json!({
                    "status": status,
                    "title": self.title(),
                    "type": format!("https://httpstatuses.com/{status}"),
                    "instance": format!("konnektd:trace:{request_id}"),
                    "detail": message,
                });
                if let ApiError::InvalidParameters { fields, .. } = self {
                    body["invalid_parameters"] = json!(fields);
                }
                (body, "application/problem+json")
            }
            ErrorFamily::Legacy => {
                let mut body = json!({"message": message, "request_id": request_id});
                if let ApiError::Rejected { .. } = self {
                    body["code"] = json!(self.grpc_code());
                }
                (body, "application/json")
            }
            ErrorFamily::Koko => {
                let details: Vec<Value> = match self {
                    ApiError::InvalidParameters { fields, .. } => fields
                        .iter()
                        .map(|f| {
                            json!({
                                "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
                                "type": "ERROR_TYPE_FIELD",
                                "field": f.field,
                                "messages": [f.reason],
                            })
                        })
                        .collect(),
                    ApiError::Rejected { details, .. } => details
                        .iter()
                        .map(|d| {
                            let mut entry = json!({
                                "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
                                "type": d.kind.as_str(),
                                "messages": d.messages,
                            });
                            if let Some(field) = &d.field {
                                entry["field"] = json!(field);
                            }
                            entry
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (
                    json!({"code": self.grpc_code(), "message": message, "details": details}),
                    "application/json",
                )
            }
        }
    }

    /// The full response, in the shape `rendering` asks for.
    pub fn render(&self, rendering: &ErrorRendering, request_id: &str) -> Response {
        if let ApiError::Internal(e) = self {
            tracing::error!(
                request.id = request_id,
                error = format!("{e:#}"),
                "request failed"
            );
        }
        let (body, content_type) = self.body(rendering, request_id);
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if matches!(self, ApiError::Unauthenticated) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }

    /// Errors raised by the framework rather than a handler, recognised by status.
    fn from_framework_status(status: StatusCode) -> Option<Self> {
        Some(match status {
            StatusCode::NOT_FOUND => ApiError::NotFound("Not found".into()),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                ApiError::BadRequest("Invalid request".into())
            }
            _ => return None,
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(what.to_string()),
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable("The database is unavailable; retry shortly.".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<EntityError> for ApiError {
    fn from(e: EntityError) -> Self {
        // The envelope's message is the error's own text ("validation error", ...).
        let message = e.to_string();
        match e {
            // Koko's 404 of a core entity has an empty message.
            EntityError::NotFound => ApiError::NotFound(String::new()),
            EntityError::ControlPlaneNotFound | EntityError::Missing(_) => {
                ApiError::NotFound(message)
            }
            EntityError::Conflict(_) => ApiError::Conflict(message),
            EntityError::BadRequest(text) => ApiError::BadRequest(text),
            EntityError::Invalid(details) | EntityError::Constraint(details) => {
                ApiError::Rejected { message, details }
            }
            EntityError::LuaBusy(_) => ApiError::Unavailable(message),
            EntityError::LuaCrashed(e) => ApiError::Internal(e.into()),
            EntityError::Store(e) => e.into(),
        }
    }
}

/// An error on its way to [`render_errors`], carried in the response's extensions.
#[derive(Clone)]
struct PendingError(Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status();
        response
            .extensions_mut()
            .insert(PendingError(Arc::new(self)));
        response
    }
}

/// The id of one request, shown in the `x-request-id` header and in error bodies.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// How an error is rendered: its route's family, and the body limit to quote.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRendering {
    pub family: ErrorFamily,
    pub max_body_size: usize,
}

/// The configured body limit, carried on each request for error messages to quote.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Middleware that renders every error of the routes it wraps in one family.
pub async fn render_errors(
    State(family): State<ErrorFamily>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let rendering = ErrorRendering {
        family,
        max_body_size: request.extensions().get::<BodyLimit>().map_or(0, |l| l.0),
    };
    let response = next.run(request).await;
    if let Some(PendingError(error)) = response.extensions().get::<PendingError>().cloned() {
        return error.render(&rendering, &request_id);
    }
    let is_framework_error = response.status().is_client_error()
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().ends_with(b"json"));
    if is_framework_error && let Some(error) = ApiError::from_framework_status(response.status()) {
        return error.render(&rendering, &request_id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendering(family: ErrorFamily) -> ErrorRendering {
        ErrorRendering {
            family,
            max_body_size: 1024,
        }
    }

    #[test]
    fn too_large_bodies_quote_the_configured_limit() {
        let (body, _) = ApiError::PayloadTooLarge.body(&rendering(ErrorFamily::Legacy), "r");
        assert_eq!(
            body["message"],
            "Request body is larger than the limit of 1024 bytes"
        );
    }

    fn all_variants() -> Vec<(ApiError, u16)> {
        vec![
            (ApiError::Unauthenticated, 401),
            (ApiError::Forbidden("f".into()), 403),
            (ApiError::NotFound("n".into()), 404),
            (
                ApiError::invalid("d", vec![FieldError::required("name")]),
                400,
            ),
            (ApiError::BadRequest("b".into()), 400),
            (
                ApiError::Rejected {
                    message: "validation error".into(),
                    details: vec![ErrorDetail::field("name", "required field missing")],
                },
                400,
            ),
            (ApiError::Conflict("c".into()), 409),
            (ApiError::PayloadTooLarge, 413),
            (ApiError::UnsupportedMediaType, 415),
            (ApiError::MethodNotAllowed, 405),
            (ApiError::Unavailable("u".into()), 503),
            (ApiError::Internal(anyhow::anyhow!("secret sql")), 500),
        ]
    }

    #[test]
    fn every_variant_has_its_status() {
        for (e, status) in all_variants() {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
        }
    }

    #[test]
    fn problem_bodies_follow_rfc_7807_and_carry_invalid_parameters() {
        let e = ApiError::invalid("Invalid request format", vec![FieldError::required("name")]);
        let (body, ct) = e.body(&rendering(ErrorFamily::Problem), "abc");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(
            body,
            json!({
                "status": 400, "title": "Bad Request", "type": "https://httpstatuses.com/400",
                "instance": "konnektd:trace:abc", "detail": "Invalid request format",
                "invalid_parameters": [{"field": "name", "rule": "required", "reason": "is a required field"}]
            })
        );
    }

    #[test]
    fn legacy_and_koko_shapes() {
        let (body, _) =
            ApiError::Conflict("dup".into()).body(&rendering(ErrorFamily::Legacy), "r1");
        assert_eq!(body, json!({"message": "dup", "request_id": "r1"}));
        let e = ApiError::invalid(
            "validation error",
            vec![FieldError::invalid("config.x", "unknown field")],
        );
        let (body, _) = e.body(&rendering(ErrorFamily::Koko), "r1");
        assert_eq!(body["code"], 3);
        assert_eq!(body["details"][0]["field"], "config.x");
        assert_eq!(body["details"][0]["messages"], json!(["unknown field"]));
    }

    /// The config spec's 401 per operation: `HTTP401Error` on core entities,
    /// `KonnectCPLegacyUnauthorized` on plugin schemas and dp-client-certificates, the
    /// problem `Unauthorized` on control planes and plugin-schema lists.
    #[test]
    fn auth_errors_take_the_spec_body_of_their_family() {
        let (body, ct) = ApiError::Unauthenticated.body(&rendering(ErrorFamily::Koko), "r");
        assert_eq!(ct, "application/json");
        assert_eq!(body, json!({"message": "Unauthorized", "status": 401}));
        let (body, ct) = ApiError::Unauthenticated.body(&rendering(ErrorFamily::Legacy), "r");
        assert_eq!(ct, "application/json");
        assert_eq!(body, json!({"message": "Unauthorized", "request_id": "r"}));
        let (body, ct) = ApiError::Unauthenticated.body(&rendering(ErrorFamily::Problem), "r");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["title"], "Unauthenticated");
        let forbidden = ApiError::Forbidden("no".into());
        let (body, ct) = forbidden.body(&rendering(ErrorFamily::Koko), "r");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["title"], "Permission denied");
        let (body, ct) = forbidden.body(&rendering(ErrorFamily::Legacy), "r");
        assert_eq!(ct, "application/json");
        assert_eq!(body, json!({"message": "no", "request_id": "r"}));
    }

    #[test]
    fn entity_errors_keep_their_statuses_and_envelopes() {
        use crate::lua::runner::RunnerError;
        let cases = [
            (EntityError::NotFound, 404, ""),
            (
                EntityError::ControlPlaneNotFound,
                404,
                "control plane not found",
            ),
            (EntityError::BadRequest("b".into()), 400, "b"),
            (EntityError::field("name", "x"), 400, "validation error"),
            (
                EntityError::constraint(ErrorDetail::field("id", "x")),
                400,
                "data constraint error",
            ),
            (
                EntityError::from(RunnerError::Busy),
                503,
                "all Lua workers are busy; retry shortly",
            ),
            (
                EntityError::from(RunnerError::Crashed),
                500,
                "Internal server error",
            ),
        ];
        for (e, status, message) in cases {
            let e = ApiError::from(e);
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            let (body, _) = e.body(&rendering(ErrorFamily::Koko), "r");
            assert_eq!(body["message"], message, "{e:?}");
        }
        let e = ApiError::from(EntityError::field("name", "required field missing"));
        let (body, _) = e.body(&rendering(ErrorFamily::Koko), "r");
        assert_eq!(body["details"][0]["field"], "name");
        assert_eq!(
            body["details"][0]["messages"],
            json!(["required field missing"])
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        for family in [ErrorFamily::Problem, ErrorFamily::Legacy, ErrorFamily::Koko] {
            let (body, _) =
                ApiError::Internal(anyhow::anyhow!("secret sql")).body(&rendering(family), "r");
            assert!(!body.to_string().contains("secret"), "{body}");
        }
    }
}
