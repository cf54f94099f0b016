//! Deleting a control plane with many entities (issue 18): linear in its rows, other
//! control planes' writes answer meanwhile, nothing of it is visible or left afterwards,
//! and a delete a crash interrupted is finished at the next start.

#[path = "../support/bulk_entities.rs"]
mod bulk_entities;

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

use crate::both_backends;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    other_control_planes_writes_answer_within_a_second_while_a_large_one_is_deleted,
    a_delete_interrupted_by_a_crash_is_finished_and_was_invisible_meanwhile,
    a_delete_killed_mid_way_stays_invisible_and_the_next_start_finishes_it,
);

const ENTITIES: usize = 20_000;

async fn rows_of(url: &str, cp: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut total = 0;
    for table in [
        "core_entities",
        "core_entity_keys",
        "core_entity_refs",
        "core_entity_tags",
        "control_planes",
    ] {
        let column = if table == "control_planes" {
            "id"
        } else {
            "control_plane_id"
        };
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} = $1"
        )))
        .bind(cp)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        total += n;
    }
    total
}

async fn other_control_planes_writes_answer_within_a_second_while_a_large_one_is_deleted(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let doomed = app.create_control_plane(&json!({"name": "big"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.create_control_plane(&json!({"name": "busy"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    bulk_entities::fill(&app.database_url, &doomed, ENTITIES).await;
    let (_, consumers) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{doomed}/core-entities/consumers?size=1"
        ))
        .await,
    )
    .await;
    assert_eq!(consumers["data"].as_array().unwrap().len(), 1);

    let deleting = {
        let request = app.request(
            reqwest::Method::DELETE,
            &format!("/v2/control-planes/{doomed}"),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let status = request.send().await.unwrap().status().as_u16();
            (status, started.elapsed())
        })
    };
    let mut writes = 0;
    let mut slowest = Duration::ZERO;
    // PostgreSQL answers once the control plane is hidden and removes its rows in the
    // background: the writes go on until they are gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !deleting.is_finished() || writes < 3 || rows_of(&app.database_url, &doomed).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the delete did not finish within 60 s"
        );
        let started = Instant::now();
        let response = app
            .post_json(
                &format!("/v2/control-planes/{other}/core-entities/consumers"),
                &json!({"username": format!("w{writes}")}),
            )
            .await;
        assert_eq!(response.status(), 201);
        slowest = slowest.max(started.elapsed());
        writes += 1;
    }
    let (status, took) = deleting.await.unwrap();
    assert_eq!(status, 204);
    if backend == Backend::Postgres {
        assert!(
            took < Duration::from_secs(5),
            "PostgreSQL answers once the control plane is hidden; it took {took:?}"
        );
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a write to another control plane waited {slowest:?} while the delete took {took:?}"
    );
    assert_eq!(
        rows_of(&app.database_url, &doomed).await,
        0,
        "nothing is left"
    );
    let response = app.get(&format!("/v2/control-planes/{doomed}")).await;
    assert_eq!(response.status(), 404);
    // Its name is free again.
    app.create_control_plane(&json!({"name": "big"})).await;
    app.shutdown().await;
}

/// Both backends delete in chunks after hiding the control plane; this is the state a
/// crash between two chunks leaves, and what the next start does with it.
async fn a_delete_interrupted_by_a_crash_is_finished_and_was_invisible_meanwhile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doomed = app
        .create_control_plane(&json!({"name": "half", "labels": {"a": "b"}}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    bulk_entities::fill(&app.database_url, &doomed, 4_000).await;
    let service = app
        .post_json(
            &format!("/v2/control-planes/{doomed}/core-entities/services"),
            &json!({"host": "kept.example"}),
        )
        .await;
    let service = status_and_json(service).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What the first transaction of a chunked delete leaves: hidden, entities still there.
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE control_planes SET deleting = 1, name = 'gone' WHERE id = $1")
        .bind(&doomed)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "DELETE FROM core_entity_refs WHERE control_plane_id = $1 AND entity_type = 'routes'",
    )
    .bind(&doomed)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    // Hidden from every read.
    assert_eq!(
        app.get(&format!("/v2/control-planes/{doomed}"))
            .await
            .status(),
        404
    );
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 0, "{list}");
    // Its entities too, by id (one read that also finds the control plane hidden).
    let (status, body) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{doomed}/core-entities/services/{service}"
        ))
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("control plane not found"))
    );
    // The next start finishes it.
    app.store().resume_deletions().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows_of(&app.database_url, &doomed).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the interrupted delete was not finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.shutdown().await;
}

/// A `kill -9` while a delete is under way (SQLite: before it answers; PostgreSQL: right
/// after its 204, while it finishes in the background): after the restart the control
/// plane and its entities are gone from every read, and the start finishes the delete.
async fn a_delete_killed_mid_way_stays_invisible_and_the_next_start_finishes_it(backend: Backend) {
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
    let created: serde_json::Value = client
        .post(server.url("/v2/control-planes"))
        .bearer_auth(token.expose())
        .json(&json!({"name": "killed"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doomed = created["id"].as_str().unwrap().to_string();
    bulk_entities::fill(&url, &doomed, ENTITIES).await;
    let before = rows_of(&url, &doomed).await;

    let delete = client
        .delete(server.url(&format!("/v2/control-planes/{doomed}")))
        .bearer_auth(token.expose())
        .send();
    let answered = tokio::spawn(async move { delete.await.map(|r| r.status().as_u16()) });
    // Killed as soon as the control plane is hidden.
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let hidden: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM control_planes WHERE id = $1 AND deleting IS NOT NULL",
        )
        .bind(&doomed)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if hidden == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the delete never hid the control plane"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.signal(9);
    server.wait().await;
    let _ = answered.await;
    let left = rows_of(&url, &doomed).await;
    assert!(
        left > 0,
        "the delete finished before the kill ({before} rows gone): nothing was tested"
    );

    let server = start().await;
    let status = |path: String| {
        let request = client
            .get(server.url(&path))
            .bearer_auth(token.expose())
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("/v2/control-planes/{doomed}")).await, 404);
    assert_eq!(
        status(format!(
            "/v2/control-planes/{doomed}/core-entities/consumers"
        ))
        .await,
        404
    );
    let list: serde_json::Value = client
        .get(server.url("/v2/control-planes"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["meta"]["page"]["total"], 0, "{list}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while rows_of(&url, &doomed).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the next start did not finish the delete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.signal(15);
    server.wait().await;
}
