//! Input that used to slip through or answer 500 (issue 18, "Robustness found on the
//! way"): empty filter values, NUL characters, nulls inside nested records, integral
//! floats, and the one rule for empty paging parameters.

use reqwest::Method;
use serde_json::{Value, json};

use konnektd::domain::Timestamp;
use konnektd::domain::token::{NewToken, TokenKind, TokenSecret};
use sqlx::Connection;

use crate::both_backends;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    empty_filter_values_are_a_400_not_a_500,
    a_nul_anywhere_in_a_query_a_path_or_a_json_string_is_a_400_and_nothing_is_stored,
    unset_fields_of_nested_records_are_left_out_but_a_config_keeps_its_nulls,
    an_integral_float_is_stored_and_answered_as_an_integer,
    empty_paging_parameters_are_the_default_on_every_list_and_bad_ones_a_400,
    a_token_read_from_memory_still_ends_at_once_when_revoked_elsewhere_or_expired,
);

/// `GET /v2/control-planes?filter[id][eq]=` built `id IN ()`, which PostgreSQL refuses.
async fn empty_filter_values_are_a_400_not_a_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_control_plane(&json!({"name": "one"})).await;
    for (query, field) in [
        ("filter[id][eq]=", "filter[id][eq]"),
        ("filter[id][oeq]=", "filter[id][oeq]"),
        ("filter[id][oeq]=,", "filter[id][oeq]"),
        ("filter[id]=", "filter[id]"),
        ("filter[cluster_type][oeq]=", "filter[cluster_type][oeq]"),
        ("filter[cluster_type][eq]=", "filter[cluster_type][eq]"),
    ] {
        let (status, body) =
            status_and_json(app.get(&format!("/v2/control-planes?{query}")).await).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["detail"], "Invalid query parameters",
            "{query}: {body}"
        );
        assert_eq!(
            body["invalid_parameters"][0]["field"], field,
            "{query}: {body}"
        );
        assert_eq!(
            body["invalid_parameters"][0]["source"], "query",
            "{query}: {body}"
        );
    }
    // A value that names something still filters.
    let (status, body) = status_and_json(
        app.get("/v2/control-planes?filter[cluster_type][oeq]=CLUSTER_TYPE_CONTROL_PLANE")
            .await,
    )
    .await;
    assert_eq!(
        (status, body["meta"]["page"]["total"].clone()),
        (200, json!(1))
    );
    app.shutdown().await;
}

/// PostgreSQL refuses NUL in `text` (a 500 before), SQLite stored it.
async fn a_nul_anywhere_in_a_query_a_path_or_a_json_string_is_a_400_and_nothing_is_stored(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "nul"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v2/control-planes/{cp}/core-entities");

    // Query values, on a platform list (problem+json) and a core-entity list (Koko).
    let (status, body) =
        status_and_json(app.get("/v2/control-planes?filter[name][eq]=%00").await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["detail"],
        "Strings cannot contain the NUL character (\\u0000)"
    );
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "filter[name][eq]", "reason": "must not contain the NUL character (\\u0000)", "source": "query"}])
    );
    let (status, body) = status_and_json(
        app.get(&format!("{base}/consumers?filter[name][eq]=a%00b"))
            .await,
    )
    .await;
    assert_eq!((status, body["code"].clone()), (400, json!(3)), "{body}");
    assert_eq!(
        body["message"],
        "Strings cannot contain the NUL character (\\u0000)"
    );
    // A path segment (an entity's id or name).
    let (status, body) = status_and_json(app.get(&format!("{base}/services/a%00b")).await).await;
    assert_eq!(status, 400, "{body}");

    // JSON strings: values at any depth, and keys.
    let cases: [(&str, Value, &str); 6] = [
        ("/v2/control-planes", json!({"name": "a\u{0}b"}), "name"),
        (
            &format!("{base}/consumers"),
            json!({"username": "u", "custom_id": "c\u{0}"}),
            "custom_id",
        ),
        (
            &format!("{base}/consumers"),
            json!({"username": "u", "tags": ["ok", "t\u{0}"]}),
            "tags[1]",
        ),
        (
            &format!("{base}/plugins"),
            json!({"name": "key-auth\u{0}"}),
            "name",
        ),
        (
            &format!("{base}/plugins"),
            json!({"name": "key-auth", "config": {"key_names": ["k\u{0}"]}}),
            "config.key_names[0]",
        ),
        (
            &format!("{base}/services"),
            json!({"name": "s", "host": "h", "tags": {"\u{0}": 1}}),
            "tags.\\u0000",
        ),
    ];
    for (path, body, field) in cases {
        let response = app.post_json(path, &body).await;
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        // Koko's `details` on core entities, problem+json's `invalid_parameters` elsewhere.
        let fields = answer["details"]
            .as_array()
            .or(answer["invalid_parameters"].as_array());
        let named = fields
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(named, [field], "{path}: {answer}");
        assert!(
            answer.to_string().contains("NUL character"),
            "{path}: {answer}"
        );
    }
    // Nothing was stored.
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 1);
    for collection in ["consumers", "plugins", "services"] {
        let (_, list) = status_and_json(app.get(&format!("{base}/{collection}")).await).await;
        assert_eq!(list["data"], json!([]), "{collection}");
    }
    app.shutdown().await;
}

/// Konnect answers typed records without their unset fields; a plugin's `config` is a
/// `google.protobuf.Struct` and keeps them (Konnect's own `Plugin` example answers
/// `"anonymous": null`; Kong/developer.konghq.com
/// `api-specs/konnect/control-planes-config/v2/openapi.yaml`).
async fn unset_fields_of_nested_records_are_left_out_but_a_config_keeps_its_nulls(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "nested"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let (status, created) = status_and_json(
        app.post_json(
            &format!("{base}/plugins"),
            &json!({"name": "correlation-id", "ordering": {}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["ordering"], json!({}), "{created}");
    let (_, read) = status_and_json(
        app.get(&format!(
            "{base}/plugins/{}",
            created["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(read, created);
    let (_, key_auth) = status_and_json(
        app.post_json(
            &format!("{base}/plugins"),
            &json!({"name": "key-auth", "ordering": {"before": {"access": ["acl"]}}}),
        )
        .await,
    )
    .await;
    assert_eq!(key_auth["ordering"], json!({"before": {"access": ["acl"]}}));
    assert_eq!(key_auth["config"]["anonymous"], Value::Null);
    assert!(
        key_auth["config"]
            .as_object()
            .unwrap()
            .contains_key("anonymous"),
        "{key_auth}"
    );
    // A route's `sources` items are records too.
    let (status, route) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"protocols": ["tcp"], "sources": [{"ip": "10.0.0.1"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{route}");
    assert_eq!(route["sources"], json!([{"ip": "10.0.0.1"}]), "{route}");
    app.shutdown().await;
}

/// Kong's Lua has one number type and lua-cjson writes an integral one without its
/// fraction, so Kong stores and answers `8080` for `8080.0`.
async fn an_integral_float_is_stored_and_answered_as_an_integer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "floats"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v2/control-planes/{cp}/core-entities");
    let response = app
        .request(Method::POST, &format!("{base}/services"))
        .header("content-type", "application/json")
        .body(
            r#"{"name": "s", "host": "h", "port": 8080.0, "retries": 5.0, "connect_timeout": 6e4}"#,
        )
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#""port":8080"#) && !text.contains("8080.0"),
        "{text}"
    );
    assert!(
        text.contains(r#""retries":5,"#) && text.contains(r#""connect_timeout":60000"#),
        "{text}"
    );
    let read = app
        .get(&format!("{base}/services/s"))
        .await
        .text()
        .await
        .unwrap();
    assert!(read.contains(r#""port":8080,"#), "{read}");
    // A fraction is still refused where Kong wants an integer.
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/services"),
            &json!({"name": "t", "host": "h", "port": 80.5}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    app.shutdown().await;
}

/// `page[size]` and `page[number]` carry `allowEmptyValue: true` in Konnect's specs
/// (`PageSize`, `PageNumber`): empty is the default on every list that takes them.
async fn empty_paging_parameters_are_the_default_on_every_list_and_bad_ones_a_400(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "pages"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lists = [
        "/v2/control-planes".to_string(),
        format!("/v2/control-planes/{cp}/core-entities/plugin-schemas"),
        format!("/v2/control-planes/{cp}/nodes"),
        format!("/v2/control-planes/{cp}/dp-client-certificates"),
    ];
    for list in &lists {
        for query in [
            "page[size]=",
            "page[number]=",
            "page[size]=&page[number]=",
            "page[size]=%20",
        ] {
            let response = app.get(&format!("{list}?{query}")).await;
            assert_eq!(response.status(), 200, "{list}?{query}");
        }
        for query in ["page[size]=x", "page[number]=0", "page[size]=100000"] {
            let response = app.get(&format!("{list}?{query}")).await;
            assert_eq!(response.status(), 400, "{list}?{query}");
        }
    }
    let (_, body) = status_and_json(
        app.get("/v2/control-planes?page[size]=&page[number]=")
            .await,
    )
    .await;
    assert_eq!(
        body["meta"]["page"],
        json!({"number": 1, "size": 100, "total": 1})
    );
    app.shutdown().await;
}

/// Authentication reads tokens from memory (`store/token_cache.rs`). A revocation by
/// another process holds from the next request: on SQLite a write by another connection
/// moves the WAL index header the server reads; on PostgreSQL another node's
/// `revoke_token` notifies every node (heard within the notification's delivery, so the
/// check allows it a second). Expiry is judged from the cached row on every request.
async fn a_token_read_from_memory_still_ends_at_once_when_revoked_elsewhere_or_expired(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let add = |name: &'static str, created: i64| {
        let app = &app;
        async move {
            let secret = TokenSecret::generate(TokenKind::PersonalAccess);
            let token = NewToken::new(name, TokenKind::PersonalAccess, Some(1), vec![])
                .unwrap()
                .into_token(Timestamp::from_millis(created));
            app.store()
                .insert_token(&token, &secret.digest())
                .await
                .unwrap();
            secret
        }
    };
    let status = |secret: &TokenSecret| {
        let request = app
            .client
            .get(app.url("/v2/control-planes"))
            .bearer_auth(secret.expose());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let now = Timestamp::now().millis();
    let revoked = add("elsewhere", now).await;
    // Expires a day after its creation: 1.5 s from now.
    let expiring = add("expiring", now - 86_400_000 + 1_500).await;
    for _ in 0..3 {
        assert_eq!(status(&revoked).await, 200);
        assert_eq!(status(&expiring).await, 200);
    }
    match backend {
        // Another connection, as the CLI in another process would write.
        Backend::Sqlite => {
            let mut conn = sqlx::AnyConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE name = 'elsewhere'")
                .bind(now)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            assert_eq!(status(&revoked).await, 401);
        }
        // Another node on the same database.
        Backend::Postgres => {
            let node = konnektd::store::Store::open(&app.database_url)
                .await
                .unwrap();
            assert!(
                node.revoke_token("elsewhere", Timestamp::now())
                    .await
                    .unwrap()
            );
            node.close().await;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while status(&revoked).await != 401 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the revocation was not heard"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    assert_eq!(status(&expiring).await, 401);
    app.shutdown().await;
}
