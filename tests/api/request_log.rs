//! The request log line, read from a real server's log: who asked (the token's name,
//! never the token) and from where (the client address), next to the request id.

use konnektd::domain::Timestamp;
use konnektd::domain::token::{NewToken, TokenKind, TokenSecret};
use konnektd::store::Store;

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, fresh_database};

both_backends!(the_request_line_names_the_token_and_the_client_address);

/// `KONNEKTD_LOG_FORMAT=json` (`--log-format json`): every line on stderr is one JSON
/// object, the event's fields at its top level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_json_writes_one_json_object_per_line() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let mut command = konnektd(&url, dir.path());
    command.env("KONNEKTD_LOG_FORMAT", "json");
    let server = ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"));
    let response = reqwest::Client::new()
        .get(server.url("/status"))
        .header("x-request-id", "json-line-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.signal(15);
    let (code, log) = server.wait().await;
    assert_eq!(code, Some(0));
    let lines: Vec<serde_json::Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let listening = lines
        .iter()
        .find(|l| l["listen"].is_string())
        .unwrap_or_else(|| panic!("no listening line: {log:#?}"));
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string(), "{listening}");
    let request = lines
        .iter()
        .find(|l| l["request.id"] == "json-line-1")
        .unwrap_or_else(|| panic!("no request line: {log:#?}"));
    assert_eq!(request["message"], "request");
    assert_eq!(request["http.status"], 200);
    assert_eq!(request["http.path"], "/status");
}

async fn the_request_line_names_the_token_and_the_client_address(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let admin = TokenSecret::generate(TokenKind::PersonalAccess);
    let mut command = konnektd(&url, dir.path());
    command.env("KONNEKTD_BOOTSTRAP_TOKEN", admin.expose());
    let server = ServerProcess::start(command)
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"));
    let store = Store::open(&url).await.unwrap();
    let secret = TokenSecret::generate(TokenKind::PersonalAccess);
    let token = NewToken::new("ci-deploy", TokenKind::PersonalAccess, None, vec![])
        .unwrap()
        .into_token(Timestamp::now());
    store.insert_token(&token, &secret.digest()).await.unwrap();
    store.close().await;

    let client = reqwest::Client::new();
    let response = client
        .get(server.url("/v2/control-planes"))
        .bearer_auth(secret.expose())
        .header("x-request-id", "log-line-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .get(server.url("/status"))
        .header("x-request-id", "log-line-check-2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.signal(15);
    let (_, log) = server.wait().await;

    let line = |id: &str| {
        log.iter()
            .find(|l| {
                l.contains(&format!("request.id=\"{id}\""))
                    || l.contains(&format!("request.id={id}"))
            })
            .unwrap_or_else(|| panic!("no request line for {id}: {log:#?}"))
            .clone()
    };
    let authenticated = line("log-line-check-1");
    assert!(
        authenticated.contains("token.name=\"ci-deploy\""),
        "{authenticated}"
    );
    assert!(
        authenticated.contains("client.address=127.0.0.1:"),
        "{authenticated}"
    );
    let public = line("log-line-check-2");
    assert!(!public.contains("token.name"), "{public}");
    assert!(public.contains("client.address=127.0.0.1:"), "{public}");
    assert!(
        !log.iter()
            .any(|l| l.contains(secret.expose()) || l.contains(admin.expose())),
        "a token in the log: {log:#?}"
    );
}
