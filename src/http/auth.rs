//! Bearer-token authentication for every route but `/status`.
//!
//! Missing, malformed, unknown, expired and revoked tokens all get the same 401, and a
//! malformed one is refused before any database lookup. Nothing is cached, so a
//! revocation (even by the CLI in another process) holds from the next request on.

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::token::{Principal, TokenSecret, TokenState};
use crate::error::ApiError;

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

async fn authenticate(state: &AppState, request: Request) -> Result<Request, ApiError> {
    let secret = bearer_token(&request).ok_or(ApiError::Unauthenticated)?;
    let token = state
        .store
        .token_by_digest(&secret.digest())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let now = Timestamp::now();
    if token.state(now) != TokenState::Active {
        return Err(ApiError::Unauthenticated);
    }
    if token.needs_touch(now) {
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
fn bearer_token(request: &Request) -> Option<TokenSecret> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    TokenSecret::parse(token.trim())
}
