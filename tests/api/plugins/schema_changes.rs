//! A plugin schema replaced or deleted holds for the next plugin write, on this node and
//! on another one sharing its PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Details, detail, koko};
use crate::both_backends;
use crate::harness::{Backend, TestApp};

both_backends!(each_schema_change_holds_for_the_next_plugin_write);

/// A schema whose `config.n` must lie between 1 and `max`.
fn bounded_schema(max: u32) -> Value {
    json!({"lua_schema": format!(
        "return {{ name = 'bounded', fields = {{ {{ config = {{ type = 'record', fields = {{ \
         {{ n = {{ type = 'integer', between = {{ 1, {max} }} }} }} }} }} }} }} }}"
    )})
}

/// What a dry run of `{"name": "bounded", "config": {"n": 7}}` answers at `validate`:
/// the status and the messages of each field.
async fn bounded_verdict(app: &TestApp, validate: &str) -> (u16, Details) {
    let response = app
        .client
        .post(validate)
        .bearer_auth(&app.token)
        .json(&json!({"name": "bounded", "config": {"n": 7}}))
        .send()
        .await
        .unwrap();
    if response.status() == 200 {
        return (200, Vec::new());
    }
    (400, koko(response, "validation error").await)
}

/// Plugin writes look their schema up in a cache (store/plugin_schemas.rs): a schema
/// created, replaced or deleted holds for the very next plugin write, including a name
/// that was unknown a moment before.
async fn each_schema_change_holds_for_the_next_plugin_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "cached"})).await;
    let cp = cp["id"].as_str().unwrap();
    let schema = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas/bounded");
    let validate = app.url(&format!(
        "/v2/control-planes/{cp}/core-entities/schemas/plugins/validate"
    ));
    let unknown = (400, vec![detail("name", "plugin(bounded) does not exist")]);
    let too_big = (
        400,
        vec![detail("config.n", "value should be between 1 and 5")],
    );
    let put = |max| {
        app.request(Method::PUT, &schema)
            .json(&bounded_schema(max))
            .send()
    };

    for _ in 0..2 {
        assert_eq!(bounded_verdict(&app, &validate).await, unknown);
        assert_eq!(put(10).await.unwrap().status(), 200);
        assert_eq!(bounded_verdict(&app, &validate).await, (200, vec![]));
        assert_eq!(put(5).await.unwrap().status(), 200);
        assert_eq!(bounded_verdict(&app, &validate).await, too_big);
        assert_eq!(app.delete(&schema).await.status(), 204);
    }
    assert_eq!(bounded_verdict(&app, &validate).await, unknown);
    app.shutdown().await;
}

/// Two konnektd nodes on one PostgreSQL: a schema replaced or deleted on node A holds for
/// node B's plugin writes within a second, well inside the cache's 5 s lifetime, so it is
/// node A's notification that B acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
async fn a_schema_change_on_one_node_holds_for_plugin_writes_on_another() {
    use std::time::{Duration, Instant};

    if !crate::harness::postgres::available() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let secret = konnektd::domain::token::TokenSecret::parse(&app.token).unwrap();
    let other = konnektd::startup::start(&crate::harness::serve_args(
        &app.database_url,
        &app.dir,
        &secret,
    ))
    .await
    .expect("node B starts");
    let cp = app
        .create_control_plane(&json!({"name": "two-nodes"}))
        .await;
    let cp = cp["id"].as_str().unwrap();
    let schema = format!("/v2/control-planes/{cp}/core-entities/plugin-schemas/bounded");
    let on_b = format!(
        "http://{}/v2/control-planes/{cp}/core-entities/schemas/plugins/validate",
        other.addr
    );
    let put = |max| {
        app.request(Method::PUT, &schema)
            .json(&bounded_schema(max))
            .send()
    };
    // Node B answers within `limit` after the change, polled.
    let holds_on_b = async |wanted: (u16, Details), limit: Duration| {
        let started = Instant::now();
        loop {
            let verdict = bounded_verdict(&app, &on_b).await;
            if verdict == wanted {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "node B still answers {verdict:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    assert_eq!(put(10).await.unwrap().status(), 200);
    // Node B caches the source now; its LISTEN may still be connecting at start-up.
    holds_on_b((200, vec![]), Duration::from_secs(7)).await;
    assert_eq!(put(5).await.unwrap().status(), 200);
    let too_big = (
        400,
        vec![detail("config.n", "value should be between 1 and 5")],
    );
    let took = holds_on_b(too_big, Duration::from_secs(1)).await;
    eprintln!("a replaced schema held on node B after {took:?}");
    assert_eq!(app.delete(&schema).await.status(), 204);
    let unknown = (400, vec![detail("name", "plugin(bounded) does not exist")]);
    holds_on_b(unknown, Duration::from_secs(1)).await;
    other.shutdown().await;
    app.shutdown().await;
}
