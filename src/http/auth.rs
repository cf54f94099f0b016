//! Bearer-token authentication for every route but `/status`.
//!
//! Missing, malformed, unknown, expired and revoked tokens all get the same 401, and a
//! malformed one is refused before any database lookup. The client learns nothing more;
//! the operator gets the reason in a debug line (with the token's name when it has one,
//! never the token). Tokens are read from memory, and a revocation (even by the CLI in
//! another process, or on another node) still holds from the next request on
//! (`store/token_cache.rs`).

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::token::{Principal, TokenSecret, TokenState};
use crate::error::{ApiError, RequestId};

/// Where the authenticated token's name is left for the request log line, which is
/// written outside this middleware (`tag_request`). The name only, never the token.
#[derive(Debug, Clone, Default)]
pub struct TokenName(pub Arc<OnceLock<String>>);

impl TokenName {
    fn record(request: &Request, name: &str) {
        if let Some(slot) = request.extensions().get::<TokenName>() {
            let _ = slot.0.set(name.to_string());
        }
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Path parameters that name a control plane, in every URL family.
const CONTROL_PLANE_PARAMS: &[&str] = &["controlPlaneId"];

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Why a request got the 401, for the log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Unknown => "unknown",
            Refusal::Expired => "expired",
            Refusal::Revoked => "revoked",
        }
    }
}

/// Logs why at debug level and answers the one 401.
fn refuse(request: &Request, reason: Refusal, token_name: Option<&str>) -> ApiError {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.as_str());
    tracing::debug!(
        request.id = request_id.unwrap_or(""),
        reason = reason.as_str(),
        token.name = token_name,
        "token refused"
    );
    ApiError::Unauthenticated
}

async fn authenticate(state: &AppState, request: Request) -> Result<Request, ApiError> {
    let secret = bearer_token(&request).map_err(|reason| refuse(&request, reason, None))?;
    let Some(token) = state.store.token_by_digest(&secret.digest()).await? else {
        return Err(refuse(&request, Refusal::Unknown, None));
    };
    TokenName::record(&request, &token.name);
    let now = Timestamp::now();
    match token.state(now) {
        TokenState::Active => {}
        TokenState::Expired => return Err(refuse(&request, Refusal::Expired, Some(&token.name))),
        TokenState::Revoked => return Err(refuse(&request, Refusal::Revoked, Some(&token.name))),
    }
    if token.needs_touch(now) {
        state.store.token_used(&secret.digest(), now);
        let store = state.store.clone();
        // Bookkeeping only: the request does not wait for it, nor fail with it.
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(token.id, now).await {
                tracing::warn!(error = %e, "could not record token use");
            }
        });
    }
    let principal = token.principal();
    let (mut parts, body) = request.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, &()).await {
        for (key, value) in &params {
            if CONTROL_PLANE_PARAMS.contains(&key) {
                check_scope(&principal, value)?;
                // A control plane whose rows are still going is gone already.
                if Uuid::parse_str(value).is_ok_and(|id| state.store.is_being_deleted(id)) {
                    return Err(crate::entities::EntityError::ControlPlaneNotFound.into());
                }
            }
        }
    }
    parts.extensions.insert(principal);
    Ok(Request::from_parts(parts, body))
}

fn check_scope(principal: &Principal, raw_id: &str) -> Result<(), ApiError> {
    // A malformed id is left for the handler to report as a 400.
    match Uuid::parse_str(raw_id) {
        Ok(id) if !principal.may_access(id) => Err(ApiError::Forbidden(
            "This token does not grant access to this control plane.".into(),
        )),
        _ => Ok(()),
    }
}

/// `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn bearer_token(request: &Request) -> Result<TokenSecret, Refusal> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?
        .to_str()
        .map_err(|_| Refusal::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::Malformed);
    }
    TokenSecret::parse(token.trim()).ok_or(Refusal::Malformed)
}
