//! Bearer-token authentication for every route but `/status`; the web UI's session
//! cookie stands for its token when no bearer token is sent (`ui_session`).
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

use super::ui_session::{self, CookieRefusal, Session};
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

/// A control plane whose rows are still going is gone already: 404 from memory, before
/// a handler reads any of its rows (the store's delete hides it at once, then removes
/// its rows in the background).
pub async fn hide_deleting_control_planes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, &()).await {
        let deleting = params.iter().any(|(key, value)| {
            CONTROL_PLANE_PARAMS.contains(&key)
                && Uuid::parse_str(value).is_ok_and(|id| state.store.is_being_deleted(id))
        });
        if deleting {
            return ApiError::from(crate::entities::EntityError::ControlPlaneNotFound)
                .into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request).await {
        Ok((request, renewal)) => {
            // Only a renewal needs the request's headers after the handler has it.
            let headers = renewal.as_ref().map(|_| request.headers().clone());
            let mut response = next.run(request).await;
            // A web UI session past half its life gets a fresh cookie (docs/ui.md).
            if let Some((session, headers)) = renewal.zip(headers)
                && !response.headers().contains_key(header::SET_COOKIE)
            {
                match ui_session::issue(&state, &session, &headers).await {
                    Ok(cookie) => {
                        response.headers_mut().insert(header::SET_COOKIE, cookie);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew a web UI session"),
                }
            }
            response
        }
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
    /// A web UI session cookie that is forged, expired or unreadable.
    BadSession,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Unknown => "unknown",
            Refusal::Expired => "expired",
            Refusal::Revoked => "revoked",
            Refusal::BadSession => "bad session cookie",
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

/// The request with its [`Principal`], and a web UI session to renew on the way out.
async fn authenticate(
    state: &AppState,
    request: Request,
) -> Result<(Request, Option<Session>), ApiError> {
    // A bearer token wins; the web UI's session cookie counts only without one.
    let (token, session, digest) = match bearer_token(&request) {
        Ok(secret) => {
            let digest = secret.digest();
            (
                state.store.token_by_digest(&digest).await?,
                None,
                Some(digest),
            )
        }
        Err(Refusal::Missing) => match ui_session::cookie_value(request.headers()) {
            Some(jwt) => {
                let session = match ui_session::verify(state, &jwt).await {
                    Ok(session) => session,
                    Err(CookieRefusal::Store(e)) => return Err(e),
                    Err(CookieRefusal::Invalid) => {
                        return Err(refuse(&request, Refusal::BadSession, None));
                    }
                };
                (
                    state.store.token_by_id(session.sub).await?,
                    Some(session),
                    None,
                )
            }
            None => return Err(refuse(&request, Refusal::Missing, None)),
        },
        Err(reason) => return Err(refuse(&request, reason, None)),
    };
    let Some(token) = token else {
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
        // The cached row learns of the use too, so the next requests do not touch again.
        if let Some(digest) = &digest {
            state.store.token_used(digest, now);
        }
        let store = state.store.clone();
        // Bookkeeping only: the request does not wait for it, nor fail with it.
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(token.id, now).await {
                tracing::warn!(error = %e, "could not record token use");
            }
        });
    }
    if let Some(session) = &session {
        ui_session::check_csrf(&request, session)?;
    }
    let renewal = session
        .as_ref()
        .filter(|s| s.wants_renewal(now))
        .map(|s| ui_session::renewed(s, &token, now));
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
    if let Some(session) = session {
        parts.extensions.insert(session);
    }
    Ok((Request::from_parts(parts, body), renewal))
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
