//! Bearer tokens on the API: one 401 for every bad token, scoped system accounts,
//! immediate revocation (docs/threat-model.md, tokens; OWASP API Security Top 10 2023,
//! API2 Broken Authentication).

use konnektd::domain::Timestamp;
use konnektd::domain::token::{NewToken, TokenKind, TokenSecret};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    every_kind_of_bad_token_gets_the_same_401,
    a_revoked_token_stops_working_on_the_next_request,
    a_system_account_limited_to_one_control_plane_sees_only_it,
    tokens_are_stored_as_digests_and_their_use_is_recorded,
);

/// Adds a token directly to the server's store, as the CLI would.
async fn add_token(app: &TestApp, new: NewToken, now: i64) -> TokenSecret {
    let secret = TokenSecret::generate(new.kind);
    app.store()
        .insert_token(
            &new.into_token(Timestamp::from_millis(now)),
            &secret.digest(),
        )
        .await
        .unwrap();
    secret
}

/// Missing, wrong scheme, malformed, unknown, expired and revoked tokens are told
/// apart by nothing: same status, same body, same headers.
async fn every_kind_of_bad_token_gets_the_same_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let day = 86_400_000;
    let expired = add_token(
        &app,
        NewToken::new("old", TokenKind::PersonalAccess, Some(1), vec![]).unwrap(),
        Timestamp::now().millis() - 2 * day,
    )
    .await;
    let revoked = add_token(
        &app,
        NewToken::new("gone", TokenKind::PersonalAccess, None, vec![]).unwrap(),
        Timestamp::now().millis(),
    )
    .await;
    assert!(
        app.store()
            .revoke_token("gone", Timestamp::now())
            .await
            .unwrap()
    );
    let unknown = TokenSecret::generate(TokenKind::PersonalAccess);
    let unknown_spat = TokenSecret::generate(TokenKind::SystemAccount);
    let good_body = &app.token[5..];
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("basic scheme", Some(format!("Basic {}", app.token))),
        ("empty bearer", Some("Bearer ".into())),
        ("bearer alone", Some("Bearer".into())),
        ("wrong prefix", Some(format!("Bearer xpat_{good_body}"))),
        (
            "too short",
            Some(format!("Bearer {}", &app.token[..app.token.len() - 1])),
        ),
        (
            "bad character",
            Some(format!("Bearer {}!", &app.token[..app.token.len() - 1])),
        ),
        ("unknown kpat", Some(format!("Bearer {}", unknown.expose()))),
        (
            "unknown spat",
            Some(format!("Bearer {}", unknown_spat.expose())),
        ),
        ("expired", Some(format!("Bearer {}", expired.expose()))),
        ("revoked", Some(format!("Bearer {}", revoked.expose()))),
    ];
    for (case, header) in cases {
        let mut request = app.client.get(app.url("/v2/control-planes"));
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{case}");
        let (status, body) = problem(response).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(
            body,
            json!({"status": 401, "title": "Unauthenticated", "type": "https://httpstatuses.com/401",
                   "detail": "A valid token is required"}),
            "{case}"
        );
    }
    // A token in the query string is not a credential.
    let response = app
        .client
        .get(app.url(&format!("/v2/control-planes?token={}", app.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The scheme is case-insensitive (RFC 7235).
    let response = app
        .client
        .get(app.url("/v2/control-planes"))
        .header("authorization", format!("bearer {}", app.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.shutdown().await;
}

/// Nothing caches a token: a revocation in the store holds at once.
async fn a_revoked_token_stops_working_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = add_token(
        &app,
        NewToken::new("ci", TokenKind::PersonalAccess, Some(30), vec![]).unwrap(),
        Timestamp::now().millis(),
    )
    .await;
    let call = || {
        app.client
            .get(app.url("/v2/control-planes"))
            .bearer_auth(secret.expose())
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    assert!(
        app.store()
            .revoke_token("ci", Timestamp::now())
            .await
            .unwrap()
    );
    assert_eq!(call().await.unwrap().status(), 401);
    assert!(
        !app.store()
            .revoke_token("ci", Timestamp::now())
            .await
            .unwrap(),
        "already revoked"
    );
    app.shutdown().await;
}

/// A system-account token limited to control plane A: A works, B is 403 on every
/// route, the list shows only A, and creating control planes is refused.
async fn a_system_account_limited_to_one_control_plane_sees_only_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create_control_plane(&json!({"name": "cp-a"})).await;
    let b = app.create_control_plane(&json!({"name": "cp-b"})).await;
    let a_id = uuid::Uuid::parse_str(a["id"].as_str().unwrap()).unwrap();
    let spat = add_token(
        &app,
        NewToken::new("robot", TokenKind::SystemAccount, None, vec![a_id]).unwrap(),
        Timestamp::now().millis(),
    )
    .await;
    assert!(spat.expose().starts_with("spat_"));
    let call = |method: Method, path: String| {
        app.client
            .request(method, app.url(&path))
            .bearer_auth(spat.expose())
            .json(&json!({"description": "x"}))
            .send()
    };
    let a_path = format!("/v2/control-planes/{a_id}");
    let b_path = format!("/v2/control-planes/{}", b["id"].as_str().unwrap());
    assert_eq!(
        call(Method::GET, a_path.clone()).await.unwrap().status(),
        200
    );
    assert_eq!(call(Method::PATCH, a_path).await.unwrap().status(), 200);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let (status, body) = problem(call(method.clone(), b_path.clone()).await.unwrap()).await;
        assert_eq!(status, 403, "{method}");
        assert_eq!(body["title"], "Permission denied");
    }
    let (_, list) = status_and_json(
        call(Method::GET, "/v2/control-planes".into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["meta"]["page"]["total"], 1);
    assert_eq!(list["data"][0]["name"], "cp-a");
    let response = app
        .client
        .post(app.url("/v2/control-planes"))
        .bearer_auth(spat.expose())
        .json(&json!({"name": "cp-c"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["detail"].clone()),
        (
            403,
            json!("Insufficient role-set to create control planes.")
        )
    );
    // B still exists, unchanged, for the admin.
    let (status, _) = status_and_json(app.get(&b_path).await).await;
    assert_eq!(status, 200);
    app.shutdown().await;
}

/// The database holds SHA-256 digests only, and `last_used_at` is set on first use.
async fn tokens_are_stored_as_digests_and_their_use_is_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/v2/control-planes").await.status(), 200);
    // The use is recorded in the background; give it a moment.
    let mut used = None;
    for _ in 0..50 {
        let tokens = app.store().list_tokens().await.unwrap();
        used = tokens[0].last_used_at;
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used.is_some(), "last_used_at recorded");
    let dump = dump_tokens_table(&app).await;
    assert!(!dump.contains("kpat_"), "{dump}");
    assert!(!dump.contains(&app.token[5..]));
    let digest = TokenSecret::parse(&app.token).unwrap().digest();
    assert!(dump.contains(&digest.0));
    app.shutdown().await;
}

/// Every column of every token row, as text.
async fn dump_tokens_table(app: &TestApp) -> String {
    let query = "SELECT id || '|' || name || '|' || kind || '|' || digest || '|' || COALESCE(control_planes, '') FROM tokens";
    match app.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .unwrap();
            let rows: Vec<String> = sqlx::query_scalar(query)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            rows.join("\n")
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.database_url)
                .await
                .unwrap();
            let rows: Vec<String> = sqlx::query_scalar(query)
                .fetch_all(&mut conn)
                .await
                .unwrap();
            rows.join("\n")
        }
    }
}
