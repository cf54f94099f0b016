//! Entity writes under concurrency (issue 18): SQLite commits the writes queued together
//! in one transaction, each in a savepoint. A write a rule refuses gets its own 4xx and
//! leaves the others of its group stored, and every 2xx survives a crash right behind it.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    concurrent_writes_with_some_refused_answer_each_its_own,
    concurrent_writes_that_answered_201_survive_kill_9,
);

/// 30 writes at once, 6 of them refused (a taken username, a plugin on a consumer that
/// does not exist): each answers as it would alone, and exactly the 24 others are stored.
async fn concurrent_writes_with_some_refused_answer_each_its_own(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let cp = app.create_control_plane(&json!({"name": "busy"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let family = format!("/v2/control-planes/{cp}/core-entities");
    let (status, _) = status_and_json(
        app.post_json(
            &format!("{family}/consumers"),
            &json!({"username": "taken"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let missing = uuid::Uuid::new_v4().to_string();
    let writes: Vec<(String, Value)> = (0..30)
        .map(|i| match i % 10 {
            3 => (format!("{family}/consumers"), json!({"username": "taken"})),
            7 => (
                format!("{family}/plugins"),
                json!({"name": "correlation-id", "consumer": {"id": missing}}),
            ),
            _ => (
                format!("{family}/consumers"),
                json!({"username": format!("c{i}")}),
            ),
        })
        .collect();
    let answers = futures_util::future::join_all(writes.iter().map(|(path, body)| {
        let app = app.clone();
        async move { status_and_json(app.post_json(path, body).await).await }
    }))
    .await;
    for ((_, body), (status, answer)) in writes.iter().zip(&answers) {
        if body["username"] == "taken" {
            // Koko answers a taken unique field 400 (ERROR_TYPE_REFERENCE), as alone.
            assert_eq!(*status, 400, "{answer}");
            assert!(
                answer
                    .to_string()
                    .contains("constraint failed for value 'taken'"),
                "{answer}"
            );
        } else if body["name"] == "correlation-id" {
            assert_eq!(*status / 100, 4, "{answer}");
            assert!(
                answer
                    .to_string()
                    .contains("does not reference an existing 'consumers' entity"),
                "{answer}"
            );
        } else {
            assert_eq!(*status, 201, "{body}: {answer}");
        }
    }
    let (_, list) = status_and_json(app.get(&format!("{family}/consumers?size=1000")).await).await;
    let stored: BTreeSet<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["username"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = writes
        .iter()
        .filter_map(|(_, body)| body["username"].as_str())
        .map(str::to_string)
        .collect();
    assert_eq!(stored, expected);
    let (_, plugins) = status_and_json(app.get(&format!("{family}/plugins")).await).await;
    assert_eq!(plugins["data"], json!([]), "no refused plugin was stored");
    Arc::into_inner(app).unwrap().shutdown().await;
}

/// Eight clients writing at once (so SQLite commits them in groups), `kill -9` right
/// behind the last answer: every write that answered 201 is there after the restart.
async fn concurrent_writes_that_answered_201_survive_kill_9(backend: Backend) {
    use crate::harness::fresh_database;
    use crate::harness::process::{ServerProcess, konnektd};
    use konnektd::domain::token::{TokenKind, TokenSecret};

    let (url, dir) = fresh_database(backend).await;
    let token = TokenSecret::generate(TokenKind::PersonalAccess);
    let start = || async {
        let mut command = konnektd(&url, dir.path());
        command.env("KONNEKTD_BOOTSTRAP_TOKEN", token.expose());
        ServerProcess::start(command)
            .await
            .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"))
    };
    let client = reqwest::Client::new();
    let server = start().await;
    let cp: Value = client
        .post(server.url("/v2/control-planes"))
        .bearer_auth(token.expose())
        .json(&json!({"name": "durable"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!(
        "/v2/control-planes/{}/core-entities/consumers",
        cp["id"].as_str().unwrap()
    );
    let consumers = server.url(&path);
    let acknowledged = futures_util::future::join_all((0..8).map(|client_no| {
        let (client, consumers, token) = (client.clone(), consumers.clone(), token.expose());
        async move {
            let mut mine = Vec::new();
            for i in 0..15 {
                let username = format!("u{client_no}-{i:02}");
                let response = client
                    .post(&consumers)
                    .bearer_auth(token)
                    .json(&json!({"username": username}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                mine.push(username);
            }
            mine
        }
    }))
    .await;
    server.signal(9);
    let (code, _) = server.wait().await;
    assert_eq!(code, None, "killed by a signal");
    let acknowledged: BTreeSet<String> = acknowledged.into_iter().flatten().collect();

    let server = start().await;
    let list: Value = client
        .get(server.url(&format!("{path}?size=1000")))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: BTreeSet<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, acknowledged);
    server.signal(15);
    server.wait().await;
}
