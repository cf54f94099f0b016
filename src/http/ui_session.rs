//! Web UI sessions (docs/ui.md): a personal access token is exchanged once for an
//! HttpOnly, SameSite=Strict cookie holding a short-lived JWT (HS256, `jsonwebtoken`),
//! signed with a key every node sharing the database reads from `server_keys`.
//!
//! The JWT names its token by id, and every request re-reads that token: revoking or
//! expiring it ends the session at the next request. A mutating request signed in by the
//! cookie must carry `X-CSRF-Token` with its session's value, which a cross-site form
//! cannot send (and a cross-site script cannot read). The token itself is only ever in
//! the sign-in request's body: never in a URL, a cookie, a log line or the browser's
//! storage.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::Api;
use super::auth::TokenName;
use super::extract::JsonBody;
use crate::app::AppState;
use crate::domain::Timestamp;
use crate::domain::token::{Token, TokenSecret, TokenState};
use crate::error::{ApiError, ErrorFamily};

pub const COOKIE: &str = "konnektd_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts without use; any request in its second half renews it.
pub const SESSION_SECONDS: i64 = 3600;
const ISSUER: &str = "konnektd";
/// The `server_keys` row holding the signing key.
const KEY_NAME: &str = "ui-session-hs256";

/// The signing key, read from the database on first use and kept.
#[derive(Default)]
pub struct SessionKeys(OnceCell<(EncodingKey, DecodingKey)>);

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    async fn get(&self, state: &AppState) -> Result<&(EncodingKey, DecodingKey), ApiError> {
        self.0
            .get_or_try_init(|| async {
                let secret = state.store.server_key(KEY_NAME).await?;
                let internal = |e: jsonwebtoken::errors::Error| ApiError::Internal(e.into());
                Ok::<_, ApiError>((
                    EncodingKey::from_secret(&secret).map_err(internal)?,
                    DecodingKey::from_secret(&secret).map_err(internal)?,
                ))
            })
            .await
    }
}

/// What the cookie's JWT says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The token's id.
    pub sub: Uuid,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// What `X-CSRF-Token` must say on this session's mutating requests.
    pub csrf: String,
}

impl Session {
    fn new(token: &Token, now: Timestamp, csrf: String) -> Self {
        let mut exp = now.seconds() + SESSION_SECONDS;
        if let Some(expires) = token.expires_at {
            exp = exp.min(expires.seconds());
        }
        Session {
            sub: token.id,
            iss: ISSUER.into(),
            iat: now.seconds(),
            exp,
            csrf,
        }
    }

    /// Past half its life: the response carries a renewed cookie.
    pub fn wants_renewal(&self, now: Timestamp) -> bool {
        now.seconds() >= self.iat + SESSION_SECONDS / 2
    }
}

/// Why a cookie did not make a session (for the debug log; the client gets the one 401).
#[derive(Debug)]
pub enum CookieRefusal {
    Invalid,
    Store(ApiError),
}

/// The session cookie's value, if the request has one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// The session in `jwt`, if its signature, issuer and expiry hold.
pub async fn verify(state: &AppState, jwt: &str) -> Result<Session, CookieRefusal> {
    let (_, decoding) = state
        .ui_sessions
        .get(state)
        .await
        .map_err(CookieRefusal::Store)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Session>(jwt, decoding, &validation)
        .map(|data| data.claims)
        .map_err(|_| CookieRefusal::Invalid)
}

/// A mutating request on a cookie session: its `X-CSRF-Token` must be the session's.
/// A browser's `Sec-Fetch-Site: cross-site` is refused whatever the header says.
pub fn check_csrf(request: &Request, session: &Session) -> Result<(), ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let headers = request.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let matches = headers
        .get(CSRF_HEADER)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), session.csrf.as_bytes()));
    if cross_site || !matches {
        return Err(ApiError::Forbidden(
            "A change made with the web UI's session cookie needs its X-CSRF-Token header; \
             API clients send Authorization: Bearer <token> instead."
                .into(),
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the browser reached us over TLS, directly or through a proxy that says so.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age.max(0)))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a JWT is a valid header value")
}

/// The `Set-Cookie` carrying `session`.
pub async fn issue(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let (encoding, _) = state.ui_sessions.get(state).await?;
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), session, encoding)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let max_age = session.exp - Timestamp::now().seconds();
    Ok(set_cookie(&jwt, max_age, over_tls(headers)))
}

/// The same session, renewed for another [`SESSION_SECONDS`] (bounded by its token's
/// expiry), keeping its CSRF value so the open page goes on working.
pub fn renewed(session: &Session, token: &Token, now: Timestamp) -> Session {
    Session::new(token, now, session.csrf.clone())
}

pub fn routes(api: Api) -> Api {
    api.at(Method::POST, "/ui/session", sign_in)
}

pub fn session_routes(api: Api) -> Api {
    api.at(Method::GET, "/ui/session", current)
        .at(Method::DELETE, "/ui/session", sign_out)
        .at_in_family(
            Method::POST,
            "/ui/plugin-schemas/preview",
            ErrorFamily::Legacy,
            super::plugin_schemas::preview_plugin_schema,
        )
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// `POST /ui/session {"token": "kpat_..."}`: 201 and the cookie, or the API's one 401.
async fn sign_in(
    state: AppState,
    axum::Extension(token_name): axum::Extension<TokenName>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(ApiError::Forbidden(
            "Sign in from konnektd's own web UI.".into(),
        ));
    }
    let Ok(SignIn { token }) = serde_json::from_value::<SignIn>(body) else {
        return Err(ApiError::Unauthenticated);
    };
    let secret = TokenSecret::parse(token.trim()).ok_or(ApiError::Unauthenticated)?;
    let token = state
        .store
        .token_by_digest(&secret.digest())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let _ = token_name.0.set(token.name.clone());
    let now = Timestamp::now();
    if token.state(now) != TokenState::Active {
        return Err(ApiError::Unauthenticated);
    }
    let mut csrf = [0u8; 32];
    rand::rng().fill_bytes(&mut csrf);
    let session = Session::new(&token, now, hex::encode(csrf));
    let cookie = issue(&state, &session, &headers).await?;
    tracing::info!(token.name = token.name, "web UI session opened");
    let mut response = (StatusCode::CREATED, Json(session_json(&session, &token))).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

fn session_json(session: &Session, token: &Token) -> serde_json::Value {
    json!({
        "token_name": token.name,
        "csrf_token": session.csrf,
        "expires_at": session.exp,
    })
}

/// `GET /ui/session`: who is signed in, and the CSRF value (a page reload needs it
/// again; only a same-origin script can read it).
async fn current(
    state: AppState,
    axum::Extension(session): axum::Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = state
        .store
        .token_by_id(session.sub)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Json(session_json(&session, &token)))
}

/// `DELETE /ui/session`: clears the cookie. With a bearer token it only answers 204.
async fn sign_out(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", 0, over_tls(&headers)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; konnektd_session=abc.def.ghi; b=2"),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("abc.def.ghi"));
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1"));
        assert_eq!(cookie_value(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_only_over_tls() {
        let plain = set_cookie("v", 60, false);
        let text = plain.to_str().unwrap();
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
        let tls = set_cookie("v", 60, true);
        assert!(tls.to_str().unwrap().contains("Secure"));
    }

    fn token(expires_at: Option<Timestamp>) -> Token {
        Token {
            id: Uuid::new_v4(),
            name: "t".into(),
            kind: crate::domain::token::TokenKind::PersonalAccess,
            created_at: Timestamp::from_seconds(0),
            expires_at,
            last_used_at: None,
            revoked_at: None,
            control_planes: None,
        }
    }

    #[test]
    fn a_session_lasts_an_hour_never_past_its_token_and_renews_in_its_second_half() {
        let now = Timestamp::from_seconds(1_000_000);
        let session = Session::new(&token(None), now, "c".into());
        assert_eq!(session.exp, 1_000_000 + SESSION_SECONDS);
        assert!(!session.wants_renewal(now));
        assert!(!session.wants_renewal(Timestamp::from_seconds(1_000_000 + 1799)));
        assert!(session.wants_renewal(Timestamp::from_seconds(1_000_000 + 1800)));
        let later = Timestamp::from_seconds(1_000_000 + 2000);
        let renewed = renewed(&session, &token(None), later);
        assert_eq!(renewed.exp, 1_000_000 + 2000 + SESSION_SECONDS);
        assert_eq!(renewed.csrf, "c", "the open page keeps its CSRF value");
        let short = token(Some(Timestamp::from_seconds(1_000_060)));
        assert_eq!(Session::new(&short, now, "c".into()).exp, 1_000_060);
    }

    #[test]
    fn csrf_values_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
