//! The web UI's server side over plain HTTP (docs/ui.md): its files and their
//! Content-Security-Policy, sign-in to a cookie session, the session standing for its
//! token on the public API, CSRF refusals, revocation and sign-out, on both backends.
//! `browser` walks the guide's "Konnect UI" steps in headless Chromium.

mod browser;

use konnektd::domain::Timestamp;
use konnektd::domain::token::{NewToken, TokenKind, TokenSecret};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, TestApp, fresh_database, problem, serve_args};

both_backends!(
    signing_in_gives_a_strict_http_only_cookie_that_the_api_accepts,
    bad_tokens_and_bad_cookies_get_the_one_401,
    a_revoked_tokens_session_is_refused_at_the_next_request,
    changes_need_the_sessions_csrf_header,
    signing_out_clears_the_cookie,
    a_session_opened_on_one_node_is_accepted_by_another,
    the_ui_is_served_with_a_strict_csp_and_revalidated,
);

/// The cookie's `name=value` from a sign-in response, and the CSRF value from its body.
pub async fn sign_in(app: &TestApp, token: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/ui/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    let body: Value = response.json().await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    (pair, body["csrf_token"].as_str().unwrap().to_string())
}

fn set_cookie(response: &Response) -> String {
    response
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie")
        .to_str()
        .unwrap()
        .to_string()
}

/// A request carrying only the session cookie.
fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header(COOKIE, cookie)
}

async fn add_token(app: &TestApp, name: &str) -> TokenSecret {
    let secret = TokenSecret::generate(TokenKind::PersonalAccess);
    let token = NewToken::new(name, TokenKind::PersonalAccess, None, vec![])
        .unwrap()
        .into_token(Timestamp::now());
    app.store()
        .insert_token(&token, &secret.digest())
        .await
        .unwrap();
    secret
}

async fn signing_in_gives_a_strict_http_only_cookie_that_the_api_accepts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .post(app.url("/ui/session"))
        .json(&json!({ "token": app.token }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(
        !cookie.contains(&app.token),
        "the token is not in the cookie"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["token_name"]
            .as_str()
            .unwrap()
            .starts_with("bootstrap")
    );
    assert_eq!(body["csrf_token"].as_str().unwrap().len(), 64);
    assert!(!body.to_string().contains(&app.token));
    let pair = cookie.split(';').next().unwrap();

    // The cookie stands for the token on the public API, reads and (with the header) writes.
    let listed = with_cookie(&app, Method::GET, "/v2/control-planes", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let csrf = body["csrf_token"].as_str().unwrap();
    let created = with_cookie(&app, Method::POST, "/v2/control-planes", pair)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "from-the-ui"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let session = with_cookie(&app, Method::GET, "/ui/session", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let session: Value = session.json().await.unwrap();
    assert_eq!(session["csrf_token"], csrf);

    // Behind a TLS-terminating proxy the cookie is Secure.
    let over_tls = app
        .client
        .post(app.url("/ui/session"))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "token": app.token }))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&over_tls).contains("Secure"));
    app.shutdown().await;
}

async fn bad_tokens_and_bad_cookies_get_the_one_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = TokenSecret::generate(TokenKind::PersonalAccess);
    for body in [
        json!({"token": unknown.expose()}),
        json!({"token": "kpat_short"}),
        json!({"token": 7}),
        json!({}),
    ] {
        let response = app
            .client
            .post(app.url("/ui/session"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.headers().get(SET_COOKIE).is_none());
        let (status, problem) = problem(response).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(problem["detail"], "A valid token is required");
    }
    // A cookie signed with another key, or not a JWT at all.
    let (pair, _) = sign_in(&app, &app.token).await;
    let other = TestApp::spawn(backend).await;
    for cookie in [pair.as_str(), "konnektd_session=not.a.jwt"] {
        let response = with_cookie(&other, Method::GET, "/v2/control-planes", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{cookie}");
    }
    app.shutdown().await;
    other.shutdown().await;
}

async fn a_revoked_tokens_session_is_refused_at_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = add_token(&app, "browser").await;
    let (pair, _) = sign_in(&app, secret.expose()).await;
    let path = "/v2/control-planes";
    let before = with_cookie(&app, Method::GET, path, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    assert!(
        app.store()
            .revoke_token("browser", Timestamp::now())
            .await
            .unwrap()
    );
    let after = with_cookie(&app, Method::GET, path, &pair)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(after).await;
    assert_eq!(status, 401);
    assert_eq!(body["title"], "Unauthenticated");
    // Nor can a revoked token open a new session.
    let again = app
        .client
        .post(app.url("/ui/session"))
        .json(&json!({"token": secret.expose()}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    app.shutdown().await;
}

/// What a cross-site form posting to konnektd sends: the cookie (were SameSite not to
/// hold it back), a form body, the attacker's Origin, and no X-CSRF-Token. Refused
/// before anything is read or written; so is a wrong value, and a browser's
/// `Sec-Fetch-Site: cross-site` whatever the header says.
async fn changes_need_the_sessions_csrf_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (pair, csrf) = sign_in(&app, &app.token).await;
    let form = with_cookie(&app, Method::POST, "/v2/control-planes", &pair)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://attacker.example")
        .header("sec-fetch-site", "cross-site")
        .body("name=forged");
    let (status, body) = problem(form.send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert!(
        body["detail"].as_str().unwrap().contains("X-CSRF-Token"),
        "{body}"
    );
    let no_header = with_cookie(&app, Method::POST, "/v2/control-planes", &pair)
        .json(&json!({"name": "forged"}));
    assert_eq!(no_header.send().await.unwrap().status(), 403);
    let wrong = with_cookie(&app, Method::POST, "/v2/control-planes", &pair)
        .header("x-csrf-token", "0".repeat(64))
        .json(&json!({"name": "forged"}));
    assert_eq!(wrong.send().await.unwrap().status(), 403);
    let cross_site = with_cookie(&app, Method::POST, "/v2/control-planes", &pair)
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "forged"}));
    assert_eq!(cross_site.send().await.unwrap().status(), 403);
    // DELETE is a change too.
    let cp = app.create_control_plane(&json!({"name": "kept"})).await;
    let path = format!("/v2/control-planes/{}", cp["id"].as_str().unwrap());
    let delete = with_cookie(&app, Method::DELETE, &path, &pair);
    assert_eq!(delete.send().await.unwrap().status(), 403);

    let listed: Value = app.get("/v2/control-planes").await.json().await.unwrap();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cp| cp["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept"], "nothing forged was written");
    // Bearer clients are unaffected: no header needed.
    assert_eq!(app.delete(&path).await.status(), 204);
    app.shutdown().await;
}

async fn signing_out_clears_the_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (pair, csrf) = sign_in(&app, &app.token).await;
    let forged = with_cookie(&app, Method::DELETE, "/ui/session", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "a cross-site sign-out is refused too");
    let out = with_cookie(&app, Method::DELETE, "/ui/session", &pair)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = set_cookie(&out);
    assert!(cleared.starts_with("konnektd_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    app.shutdown().await;
}

/// Several nodes on one database share the signing key (`server_keys`), so a browser
/// balanced onto another node stays signed in.
async fn a_session_opened_on_one_node_is_accepted_by_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second_dir = tempfile::tempdir().unwrap();
    let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut args = serve_args(&app.database_url, &second_dir, &bootstrap);
    args.bootstrap_token = None;
    let second = konnektd::startup::start(&args)
        .await
        .expect("a second node");
    let (pair, _) = sign_in(&app, &app.token).await;
    let response = app
        .client
        .get(format!("http://{}/v2/control-planes", second.addr))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    second.shutdown().await;
    app.shutdown().await;
}

async fn the_ui_is_served_with_a_strict_csp_and_revalidated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let index = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(!csp.contains("http"), "no external origin: {csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let etag = index.headers()["etag"].clone();
    let html = index.text().await.unwrap();
    assert!(html.contains("/assets/app.js"), "{html}");
    let again = app
        .client
        .get(app.url("/"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let script = app
        .client
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(script.headers().contains_key(CONTENT_SECURITY_POLICY));
    let missing = app
        .client
        .get(app.url("/assets/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The API keeps its paths, and its 404s.
    let (status, _) = problem(app.client.get(app.url("/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    app.shutdown().await;
}

/// The UI's files stay small, have no inline script or style and load nothing from
/// another origin (the CSP would block it anyway; this says so before a browser does).
#[test]
fn the_ui_is_small_and_self_contained() {
    let files = konnektd::http::ui_files();
    let total: usize = files.iter().map(|(_, size)| size).sum();
    assert!(total < 300 * 1024, "the UI is {total} bytes");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui");
    for (name, _) in &files {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        for external in [
            "from \"http",
            "from \"//",
            "import(\"http",
            "src=\"http",
            "src=\"//",
            "href=\"http",
            "fetch(\"http",
            "url(",
            "@import",
        ] {
            assert!(!text.contains(external), "{name} loads {external}...");
        }
        if name.ends_with(".html") {
            assert!(!text.contains("<script>"), "{name}: inline script");
            assert!(!text.contains("<style"), "{name}: inline style");
            assert!(!text.contains(" style="), "{name}: inline style");
            assert!(!text.contains(" on"), "{name}: an inline handler");
        }
    }
}

/// The token is never written to the log: not at sign-in, not with the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_and_the_session_never_reach_the_log() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let admin = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut command = konnektd(&url, dir.path());
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", admin.expose())
        .env("RUST_LOG", "debug");
    let server = ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"));
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/ui/session"))
        .json(&json!({"token": admin.expose()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response);
    let pair = cookie.split(';').next().unwrap().to_string();
    let jwt = pair.trim_start_matches("konnektd_session=").to_string();
    let listed = client
        .get(server.url("/v2/control-planes"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    server.signal(15);
    let (_, log) = server.wait().await;
    assert!(
        log.iter().any(|l| l.contains("web UI session opened")),
        "{log:#?}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains(admin.expose()) || l.contains(&jwt)),
        "a secret in the log: {log:#?}"
    );
}
