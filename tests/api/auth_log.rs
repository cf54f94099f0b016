//! Why a token was refused, for the operator only: the 401 is the same for every bad
//! token (tests/api/auth.rs), and the server's log says why at debug level, never with
//! the token itself (issue 16; OWASP Logging Cheat Sheet, "data to exclude": access
//! tokens).

use konnektd::domain::Timestamp;
use konnektd::domain::token::{NewToken, TokenKind, TokenSecret};
use konnektd::store::Store;

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, fresh_database};

both_backends!(the_log_says_why_a_token_was_refused_and_never_shows_it,);

/// One bad request: the reason the log gives, the `Authorization` header sent, the token
/// name the log gives, and the secret that must never show.
struct Case<'a> {
    reason: &'a str,
    header: Option<String>,
    name: Option<&'a str>,
    secret: Option<&'a str>,
}

/// A token written straight to the store, as `konnektd token create` would.
async fn add_token(store: &Store, new: NewToken, created: i64) -> TokenSecret {
    let secret = TokenSecret::generate(new.kind);
    store
        .insert_token(
            &new.into_token(Timestamp::from_millis(created)),
            &secret.digest(),
        )
        .await
        .unwrap();
    secret
}

async fn the_log_says_why_a_token_was_refused_and_never_shows_it(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let admin = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut command = konnektd(&url, dir.path());
    command
        .env("KONNEKTD_BOOTSTRAP_TOKEN", admin.expose())
        .env("RUST_LOG", "konnektd=debug");
    let server = ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"));

    let store = Store::open(&url).await.unwrap();
    let day = 86_400_000;
    let expired = add_token(
        &store,
        NewToken::new("old-ci", TokenKind::PersonalAccess, Some(1), vec![]).unwrap(),
        Timestamp::now().millis() - 2 * day,
    )
    .await;
    let revoked = add_token(
        &store,
        NewToken::new("gone-ci", TokenKind::PersonalAccess, None, vec![]).unwrap(),
        Timestamp::now().millis(),
    )
    .await;
    assert!(
        store
            .revoke_token("gone-ci", Timestamp::now())
            .await
            .unwrap()
    );
    let unknown = TokenSecret::generate(TokenKind::SystemAccount);
    let malformed = "kpat_not-a-token-MARKER-51c2";

    let case = |reason, header: Option<String>, name, secret| Case {
        reason,
        header,
        name,
        secret,
    };
    let cases = [
        case("missing", None, None, None),
        case(
            "malformed",
            Some(format!("Bearer {malformed}")),
            None,
            Some(malformed),
        ),
        case(
            "malformed",
            Some(format!("Basic {}", admin.expose())),
            None,
            Some(admin.expose()),
        ),
        case(
            "unknown",
            Some(format!("Bearer {}", unknown.expose())),
            None,
            Some(unknown.expose()),
        ),
        case(
            "expired",
            Some(format!("Bearer {}", expired.expose())),
            Some("old-ci"),
            Some(expired.expose()),
        ),
        case(
            "revoked",
            Some(format!("Bearer {}", revoked.expose())),
            Some("gone-ci"),
            Some(revoked.expose()),
        ),
    ];
    let client = reqwest::Client::new();
    let mut expected = Vec::new();
    for Case {
        reason,
        header,
        name,
        ..
    } in &cases
    {
        let mut request = client.get(server.url("/v2/control-planes"));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{reason}");
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        expected.push((id, *reason, *name));
    }
    server.signal(15);
    let (_, log) = server.wait().await;

    for (id, reason, name) in expected {
        let line = log
            .iter()
            .find(|l| l.contains("token refused") && l.contains(&id))
            .unwrap_or_else(|| panic!("no refusal logged for {reason} ({id}): {log:#?}"));
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
        if let Some(name) = name {
            assert!(line.contains(name), "the token's name helps: {line}");
        }
    }
    for Case { reason, secret, .. } in &cases {
        if let Some(secret) = secret {
            assert!(
                !log.iter().any(|l| l.contains(secret)),
                "{reason}: the token reached the log: {log:#?}"
            );
        }
    }
}
