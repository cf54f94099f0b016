//! `/v2/control-planes`, against Konnect's Control Planes v2 spec
//! (Kong/developer.konghq.com `api-specs/konnect/control-planes/v2/openapi.yaml`).

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    creating_returns_the_control_plane_with_defaults_and_endpoints,
    every_invalid_field_is_reported_and_nothing_is_stored,
    a_duplicate_name_is_a_409_conflict,
    patch_changes_only_the_given_fields,
    a_rejected_patch_leaves_the_control_plane_unchanged,
    delete_removes_the_control_plane,
    delete_takes_the_entities_their_keys_references_and_tags_along,
    lists_are_paged_by_number_and_size,
    lists_filter_by_name_id_cluster_type_and_labels,
    bad_ids_and_bad_bodies_get_400_and_415,
);

fn strip_times(mut cp: Value) -> Value {
    let o = cp.as_object_mut().unwrap();
    for key in ["created_at", "updated_at"] {
        let t = o.remove(key).unwrap();
        let t = t.as_str().unwrap();
        // ISO-8601 with milliseconds and Z, as `2022-11-04T20:10:06.927Z`.
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    }
    o.remove("id");
    cp
}

/// POST answers 201 with the bare object, Konnect's defaults and konnektd's endpoints.
async fn creating_returns_the_control_plane_with_defaults_and_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .create_control_plane(&json!({"name": "Test Control Plane", "labels": {"env": "test"}}))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        strip_times(created.clone()),
        json!({
            "name": "Test Control Plane",
            "description": "",
            "labels": {"env": "test"},
            "config": {
                // The cluster listener's port (the harness binds 127.0.0.1:0).
                "control_plane_endpoint": format!("https://localhost:{}", app.cluster_addr().port()),
                "telemetry_endpoint": format!("https://localhost:{}", app.cluster_addr().port()),
                "cluster_type": "CLUSTER_TYPE_CONTROL_PLANE",
                "auth_type": "pinned_client_certs",
                "cloud_gateway": false,
                "proxy_urls": []
            }
        })
    );
    let (status, fetched) =
        status_and_json(app.get(&format!("/v2/control-planes/{id}")).await).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);

    let full = app
        .create_control_plane(&json!({
            "name": "kic",
            "description": "A test control plane for exploration.",
            "cluster_type": "CLUSTER_TYPE_K8S_INGRESS_CONTROLLER",
            "auth_type": "pki_client_certs",
            "cloud_gateway": true,
            "proxy_urls": [{"host": "example.com", "port": 443, "protocol": "https"}],
        }))
        .await;
    assert_eq!(
        full["config"]["cluster_type"],
        "CLUSTER_TYPE_K8S_INGRESS_CONTROLLER"
    );
    assert_eq!(full["config"]["auth_type"], "pki_client_certs");
    assert_eq!(full["config"]["cloud_gateway"], true);
    assert_eq!(
        full["config"]["proxy_urls"],
        json!([{"host": "example.com", "port": 443, "protocol": "https"}])
    );
    assert_eq!(full["description"], "A test control plane for exploration.");
    app.shutdown().await;
}

/// One 400 names every bad field, with Konnect's rules, and stores nothing.
async fn every_invalid_field_is_reported_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_json(
            "/v2/control-planes",
            &json!({
                "name": "x",
                "auth_type": "password",
                "labels": {"kong-team": "a"},
                "id": "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"
            }),
        )
        .await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "status": 400,
            "title": "Bad Request",
            "type": "https://httpstatuses.com/400",
            "detail": "Request contains unknown property",
            "invalid_parameters": [
                {"field": "name", "rule": "min_length", "minimum": 2, "reason": "must have at least 2 characters"},
                {"field": "auth_type", "rule": "enum", "choices": ["pinned_client_certs", "pki_client_certs"],
                 "reason": "must be one of: pinned_client_certs, pki_client_certs"},
                {"field": "labels.kong-team", "rule": "is_label", "reason": "key must not start with 'kong'"},
                {"field": "id", "rule": "unknown_property", "reason": "property id should not exist"}
            ]
        })
    );
    let (status, body) = problem(app.post_json("/v2/control-planes", &json!({})).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "name", "rule": "required", "reason": "is a required field"}])
    );
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 0);
    assert_eq!(list["data"], json!([]));
    app.shutdown().await;
}

/// Konnect's 409ConflictExample, word for word.
async fn a_duplicate_name_is_a_409_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_control_plane(&json!({"name": "prod"})).await;
    let (status, body) = problem(
        app.post_json("/v2/control-planes", &json!({"name": "prod"}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({
            "status": 409, "title": "Conflict", "type": "https://httpstatuses.com/409",
            "detail": "Control Plane with provided name already exists."
        })
    );
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 1);
    app.shutdown().await;
}

/// PATCH changes what it names, keeps the rest, moves `updated_at` and replaces labels.
async fn patch_changes_only_the_given_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app
        .create_control_plane(
            &json!({"name": "before", "description": "d", "labels": {"env": "a", "team": "x"}}),
        )
        .await;
    let id = cp["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("/v2/control-planes/{id}"),
            &json!({"name": "after", "labels": {"env": "b"}, "auth_type": "pki_client_certs"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["name"], "after");
    assert_eq!(patched["description"], "d");
    assert_eq!(patched["labels"], json!({"env": "b"}));
    assert_eq!(patched["config"]["auth_type"], "pki_client_certs");
    assert_eq!(patched["created_at"], cp["created_at"]);
    assert_ne!(patched["updated_at"], cp["updated_at"]);
    let (_, fetched) = status_and_json(app.get(&format!("/v2/control-planes/{id}")).await).await;
    assert_eq!(fetched, patched);
    let (_, by_label) = status_and_json(app.get("/v2/control-planes?labels=team").await).await;
    assert_eq!(
        by_label["meta"]["page"]["total"], 0,
        "the old label is gone"
    );
    app.shutdown().await;
}

/// A PATCH refused for bad input or a taken name changes nothing.
async fn a_rejected_patch_leaves_the_control_plane_unchanged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_control_plane(&json!({"name": "taken"})).await;
    let cp = app
        .create_control_plane(&json!({"name": "mine", "labels": {"env": "a"}}))
        .await;
    let path = format!("/v2/control-planes/{}", cp["id"].as_str().unwrap());
    let (status, body) = problem(app.patch_json(&path, &json!({"name": "taken"})).await).await;
    assert_eq!(
        (status, body["detail"].clone()),
        (
            409,
            json!("Control Plane with provided name already exists.")
        )
    );
    let (status, body) = problem(
        app.patch_json(
            &path,
            &json!({"description": "new", "cluster_type": "CLUSTER_TYPE_SERVERLESS"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["invalid_parameters"][0]["field"], "cluster_type");
    let (status, _) = problem(
        app.patch_json(&path, &json!({"labels": {"env": "-"}}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let (_, after) = status_and_json(app.get(&path).await).await;
    assert_eq!(after, cp);
    let missing = format!("/v2/control-planes/{}", uuid::Uuid::new_v4());
    let (status, body) =
        problem(app.patch_json(&missing, &json!({"description": "x"})).await).await;
    assert_eq!(
        (status, body["detail"].clone()),
        (404, json!("The requested control plane was not found."))
    );
    app.shutdown().await;
}

/// DELETE answers 204, after which the control plane is gone (404 on get and delete).
async fn delete_removes_the_control_plane(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cp = app
        .create_control_plane(&json!({"name": "doomed", "labels": {"env": "x"}}))
        .await;
    let path = format!("/v2/control-planes/{}", cp["id"].as_str().unwrap());
    let response = app.delete(&path).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.unwrap(), "");
    let (status, body) = problem(app.get(&path).await).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"status": 404, "title": "Not Found", "type": "https://httpstatuses.com/404",
                   "detail": "The requested control plane was not found."})
        )
    );
    assert_eq!(app.delete(&path).await.status(), 404);
    // The name is free again.
    app.create_control_plane(&json!({"name": "doomed"})).await;
    app.shutdown().await;
}

/// Deleting a control plane that holds services, routes (referencing them), consumers,
/// tags, labels, a plugin schema and a pinned certificate leaves no row of it in any of
/// their tables, on both backends, and another control plane's equal entities stay whole.
/// (Data-plane node rows need a live data plane; their table cascades the same way.)
async fn delete_takes_the_entities_their_keys_references_and_tags_along(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for name in ["doomed", "kept"] {
        let cp = app
            .create_control_plane(&json!({ "name": name, "labels": {"env": "x"} }))
            .await;
        let id = cp["id"].as_str().unwrap().to_string();
        let base = format!("/v2/control-planes/{id}/core-entities");
        let create = |path: &'static str, body: Value| {
            let url = format!("{base}/{path}");
            let app = &app;
            async move {
                let (status, created) = status_and_json(app.post_json(&url, &body).await).await;
                assert_eq!(status, 201, "{path}: {created}");
                created
            }
        };
        let service = create(
            "services",
            json!({"name": "svc", "url": "http://example.com", "tags": ["t", "u"]}),
        )
        .await;
        create(
            "routes",
            json!({"name": "r", "paths": ["/a"], "service": {"id": service["id"]}, "tags": ["t"]}),
        )
        .await;
        create("consumers", json!({"username": "u", "tags": ["t"]})).await;
        let schema = json!({"lua_schema": std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ping-auth/schema.lua"
        ))
        .unwrap()});
        let uploaded = app
            .post_json(
                &format!("/v2/control-planes/{id}/core-entities/plugin-schemas"),
                &schema,
            )
            .await;
        assert_eq!(uploaded.status(), 201);
        let pinned = app
            .post_json(
                &format!("/v2/control-planes/{id}/dp-client-certificates/generate"),
                &json!({}),
            )
            .await;
        assert_eq!(pinned.status(), 201);
        ids.push(id);
    }
    let [doomed, kept] = [&ids[0], &ids[1]];
    let before = rows_of(&app, kept).await;
    assert_eq!(rows_of(&app, doomed).await, before, "both hold the same");
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let response = app.delete(&format!("/v2/control-planes/{doomed}")).await;
    assert_eq!(response.status(), 204);
    // PostgreSQL answers once the control plane is hidden and removes its rows in the
    // background (SQLite before it answers): allow that a few seconds.
    let mut gone = rows_of(&app, doomed).await;
    for _ in 0..100 {
        if gone.iter().all(|(_, n)| *n == 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gone = rows_of(&app, doomed).await;
    }
    assert!(gone.iter().all(|(_, n)| *n == 0), "{gone:?}");
    assert_eq!(rows_of(&app, kept).await, before);
    // And the API still finds the kept entities by tag and by reference.
    let base = format!("/v2/control-planes/{kept}/core-entities");
    let (_, tagged) = status_and_json(app.get(&format!("{base}/services?tags=t")).await).await;
    assert_eq!(tagged["data"].as_array().unwrap().len(), 1, "{tagged}");
    let (_, routes) = status_and_json(app.get(&format!("{base}/services/svc/routes")).await).await;
    assert_eq!(routes["data"][0]["name"], "r", "{routes}");
    app.shutdown().await;
}

/// Rows per table that belong to control plane `id`.
async fn rows_of(app: &TestApp, id: &str) -> Vec<(&'static str, i64)> {
    let tables = [
        "control_planes",
        "control_plane_labels",
        "core_entities",
        "core_entity_keys",
        "core_entity_refs",
        "core_entity_tags",
        "plugin_schemas",
        "dp_client_certificates",
    ];
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut counts = Vec::new();
    for table in tables {
        let column = if table == "control_planes" {
            "id"
        } else {
            "control_plane_id"
        };
        let query = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        counts.push((table, count));
    }
    counts
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cp| cp["name"].as_str().unwrap().to_string())
        .collect()
}

/// `page[size]` and `page[number]` walk the list in creation order; sizes outside
/// 1..=1000 are a 400 naming the parameter.
async fn lists_are_paged_by_number_and_size(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..5 {
        app.create_control_plane(&json!({ "name": format!("cp-{i}") }))
            .await;
    }
    let (status, page) = status_and_json(
        app.get("/v2/control-planes?page[size]=2&page[number]=2")
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(names(&page), ["cp-2", "cp-3"]);
    assert_eq!(
        page["meta"],
        json!({"page": {"number": 2, "size": 2, "total": 5}})
    );
    let (_, last) = status_and_json(
        app.get("/v2/control-planes?page[size]=2&page[number]=3")
            .await,
    )
    .await;
    assert_eq!(names(&last), ["cp-4"]);
    let (_, beyond) = status_and_json(
        app.get("/v2/control-planes?page[size]=2&page[number]=9")
            .await,
    )
    .await;
    assert_eq!(names(&beyond), Vec::<String>::new());
    let (_, all) = status_and_json(app.get("/v2/control-planes?page[size]=1000").await).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
    let (_, desc) = status_and_json(
        app.get("/v2/control-planes?sort=created_at%20desc&page[size]=1")
            .await,
    )
    .await;
    assert_eq!(names(&desc), ["cp-4"]);
    for bad in ["0", "1001", "x"] {
        let (status, body) = problem(
            app.get(&format!("/v2/control-planes?page[size]={bad}"))
                .await,
        )
        .await;
        assert_eq!(status, 400, "page[size]={bad}");
        assert_eq!(
            body["invalid_parameters"],
            json!([{"field": "page[size]", "minimum": 1, "maximum": 1000, "source": "query",
                    "reason": "must be an integer between 1 and 1000"}])
        );
    }
    app.shutdown().await;
}

/// Konnect's filters, each alone and combined.
async fn lists_filter_by_name_id_cluster_type_and_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app
        .create_control_plane(
            &json!({"name": "Payments EU", "labels": {"env": "prod", "team": "pay"}}),
        )
        .await;
    app.create_control_plane(&json!({"name": "payments-us", "labels": {"env": "dev"}}))
        .await;
    app.create_control_plane(&json!({"name": "kic", "cluster_type": "CLUSTER_TYPE_K8S_INGRESS_CONTROLLER", "cloud_gateway": true}))
        .await;
    let query = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            let (status, body) =
                status_and_json(app.get(&format!("/v2/control-planes?{q}")).await).await;
            assert_eq!(status, 200, "{q}: {body}");
            names(&body)
        }
    };
    assert_eq!(query("filter[name][eq]=kic").await, ["kic"]);
    assert_eq!(
        query("filter[name][contains]=PAYMENTS").await,
        ["Payments EU", "payments-us"]
    );
    assert_eq!(
        query("filter[name][neq]=kic").await,
        ["Payments EU", "payments-us"]
    );
    assert_eq!(
        query("filter[name][contains]=%25").await,
        Vec::<String>::new(),
        "% is literal"
    );
    assert_eq!(
        query(&format!("filter[id][eq]={}", a["id"].as_str().unwrap())).await,
        ["Payments EU"]
    );
    assert_eq!(
        query("filter[cluster_type][eq]=CLUSTER_TYPE_K8S_INGRESS_CONTROLLER").await,
        ["kic"]
    );
    assert_eq!(
        query("filter[cloud_gateway][eq]=false").await,
        ["Payments EU", "payments-us"]
    );
    assert_eq!(query("labels=env:prod").await, ["Payments EU"]);
    assert_eq!(query("labels=env").await, ["Payments EU", "payments-us"]);
    assert_eq!(query("labels=env:prod,team:pay").await, ["Payments EU"]);
    assert_eq!(
        query("labels=env:prod,team:other").await,
        Vec::<String>::new()
    );
    assert_eq!(
        query("labels=env&filter[name][contains]=us").await,
        ["payments-us"]
    );
    let (status, body) = problem(
        app.get("/v2/control-planes?filter[id][eq]=nope&filter[colour][eq]=red")
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let fields: Vec<_> = body["invalid_parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [json!("filter[colour][eq]"), json!("filter[id][eq]")]
    );
    app.shutdown().await;
}

/// A malformed id, a body that is not JSON, and a non-JSON content type each get
/// their own clear 4xx.
async fn bad_ids_and_bad_bodies_get_400_and_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = problem(app.get("/v2/control-planes/not-a-uuid").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Request contains invalid ID format");
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "id", "reason": "invalid ID format", "source": "path"}])
    );

    let response = app
        .request(Method::POST, "/v2/control-planes")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["detail"],
        "Invalid JSON at line 1, column 9: EOF while parsing a value"
    );
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "body", "reason": "Invalid JSON at line 1, column 9: EOF while parsing a value"}])
    );

    let response = app
        .request(Method::POST, "/v2/control-planes")
        .header("content-type", "application/json")
        .body("")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["detail"].clone()),
        (400, json!("Request cannot be empty"))
    );

    let response = app
        .request(Method::POST, "/v2/control-planes")
        .header("content-type", "text/plain")
        .body("{\"name\": \"prod\"}")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 415);
    assert_eq!(
        body["detail"],
        "This API only supports requests with `Content-Type: application/json`"
    );

    let (status, body) = problem(
        app.request(Method::PUT, "/v2/control-planes")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["title"].clone()),
        (405, json!("Method Not Allowed"))
    );
    let (status, _) = problem(app.get("/v2/nothing-here").await).await;
    assert_eq!(status, 404);
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 0);
    app.shutdown().await;
}
