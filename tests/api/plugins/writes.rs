//! Writing plugins: references and scopes, one per name and scope, PUT and PATCH, and
//! what deleting a service, a schema or a control plane does to them.

use reqwest::Method;
use serde_json::{Value, json};

use super::{detail, koko, ping_auth_config};
use crate::both_backends;
use crate::harness::core_entities::ping_auth_control_plane;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    unknown_plugins_and_missing_references_are_refused,
    one_plugin_per_name_and_scope,
    nested_collections_scope_plugins_to_their_parent,
    put_patch_and_rejected_writes_leave_nothing_half_done,
    deleting_a_service_deletes_its_plugins,
    a_schema_in_use_cannot_be_deleted,
    deleting_a_control_plane_deletes_its_entities,
);

/// Koko's texts: an unknown plugin is a field error on `name`; a scope that does not
/// exist is a data constraint error on `<scope>.id` with Kong's foreign-key text.
async fn unknown_plugins_and_missing_references_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugins = format!("{base}/plugins");
    let response = app
        .post_json(&plugins, &json!({"name": "no-such-plugin", "config": {}}))
        .await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail("name", "plugin(no-such-plugin) does not exist")]
    );
    let response = app.post_json(&plugins, &json!({"config": {}})).await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail("name", "required field missing")]
    );
    let ghost = "7c1a1f9e-4b9f-4c53-9b8e-0a7f1f0e5a11";
    let mut body = ping_auth_config(json!({}));
    body["service"] = json!({"id": ghost});
    let response = app.post_json(&plugins, &body).await;
    let (status, error) = status_and_json(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"code": 3, "message": "data constraint error", "details": [{
            "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
            "type": "ERROR_TYPE_REFERENCE",
            "field": "service.id",
            "messages": [format!("the foreign key '{{id=\"{ghost}\"}}' does not reference an existing 'services' entity.")],
        }]})
    );
    let (_, listed) = status_and_json(app.get(&plugins).await).await;
    assert_eq!(listed["data"], json!([]));
}

/// Kong's plugins `cache_key`: one plugin per name and scope; the same plugin on
/// another scope is fine.
async fn one_plugin_per_name_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugins = format!("{base}/plugins");
    let body = ping_auth_config(json!({}));
    assert_eq!(app.post_json(&plugins, &body).await.status(), 201);
    let (status, error) = status_and_json(app.post_json(&plugins, &body).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"code": 3, "message": "data constraint error", "details": [{
            "@type": "type.googleapis.com/kong.admin.model.v1.ErrorDetail",
            "type": "ERROR_TYPE_REFERENCE",
            "messages": ["unique-plugin-per-entity (type: unique) constraint failed for value 'ping-auth::::': "],
        }]})
    );
    let consumer: Value = app
        .post_json(&format!("{base}/consumers"), &json!({"username": "ann"}))
        .await
        .json()
        .await
        .unwrap();
    let mut scoped = body.clone();
    scoped["consumer"] = json!({"id": consumer["id"]});
    let (status, created) = status_and_json(app.post_json(&plugins, &scoped).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["consumer"], json!({"id": consumer["id"]}));
    let (_, listed) = status_and_json(app.get(&plugins).await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

/// `POST /services/{id or name}/plugins` scopes the plugin to the service; nested
/// reads only see that service's plugins.
async fn nested_collections_scope_plugins_to_their_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let service: Value = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "orders", "url": "http://orders.internal"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let global: Value = app
        .post_json(&format!("{base}/plugins"), &ping_auth_config(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let nested = format!("{base}/services/orders/plugins");
    let (status, scoped) =
        status_and_json(app.post_json(&nested, &ping_auth_config(json!({}))).await).await;
    assert_eq!(status, 201, "{scoped}");
    assert_eq!(scoped["service"], json!({"id": service["id"]}));
    let (_, listed) = status_and_json(app.get(&nested).await).await;
    assert_eq!(listed["data"], json!([scoped]));
    let other = format!("{nested}/{}", global["id"].as_str().unwrap());
    assert_eq!(
        app.get(&other).await.status(),
        404,
        "a global plugin is not the service's"
    );
    let by_id = format!(
        "{base}/services/{}/plugins/{}",
        service["id"].as_str().unwrap(),
        scoped["id"].as_str().unwrap()
    );
    let (status, read) = status_and_json(app.get(&by_id).await).await;
    assert_eq!((status, read), (200, scoped));
    let response = app.get(&format!("{base}/services/missing/plugins")).await;
    assert_eq!(response.status(), 404);
}

/// PUT creates or replaces by id; PATCH merges into `config` as Kong's does; a
/// rejected PUT or PATCH leaves the stored plugin exactly as it was.
async fn put_patch_and_rejected_writes_leave_nothing_half_done(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let id = "5b9c0c5e-35a2-4b7e-9b43-2f5dbd1d6f10";
    let item = format!("{base}/plugins/{id}");
    let put = |body: Value| {
        let app = &app;
        let item = item.clone();
        async move {
            status_and_json(
                app.request(Method::PUT, &item)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, created) = put(ping_auth_config(json!({}))).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], id);
    let (status, patched) = status_and_json(
        app.patch_json(&item, &json!({"config": {"connection_timeout_ms": 500}}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["config"]["connection_timeout_ms"], 500);
    assert_eq!(patched["config"]["service_url"], "https://ping.example.com");
    assert_eq!(patched["created_at"], created["created_at"]);

    let before = app.get(&item).await.text().await.unwrap();
    let response = app
        .patch_json(&item, &json!({"config": {"service_url": "ftp://x"}}))
        .await;
    assert_eq!(
        koko(response, "validation error").await,
        vec![detail(
            "config",
            "URL scheme must be either 'http' or 'https'"
        )]
    );
    let (status, _) = put(ping_auth_config(json!({"connection_timeout_ms": -1}))).await;
    assert_eq!(status, 400);
    assert_eq!(app.get(&item).await.text().await.unwrap(), before);

    let (status, replaced) = put(ping_auth_config(json!({"secret_header_name": "X-Other"}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        replaced["config"]["connection_timeout_ms"], 10000,
        "PUT replaces"
    );
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(app.delete(&item).await.status(), 204);
    assert_eq!(app.delete(&item).await.status(), 204, "idempotent");
    assert_eq!(app.get(&item).await.status(), 404);
}

/// Kong's `on_delete = "cascade"` on plugins' foreign keys.
async fn deleting_a_service_deletes_its_plugins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let response = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "s", "host": "example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let plugin: Value = app
        .post_json(
            &format!("{base}/services/s/plugins"),
            &ping_auth_config(json!({})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        app.delete(&format!("{base}/services/s")).await.status(),
        204
    );
    let plugin_path = format!("{base}/plugins/{}", plugin["id"].as_str().unwrap());
    assert_eq!(app.get(&plugin_path).await.status(), 404);
}

/// Konnect's answer when plugins still use a schema (Konnect's former documentation page
/// "Update a custom plugin", docs.konghq.com/konnect/gateway-manager/plugins/update-custom-plugin).
async fn a_schema_in_use_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, _) = ping_auth_control_plane(&app).await;
    let plugin: Value = app
        .post_json(&format!("{base}/plugins"), &ping_auth_config(json!({})))
        .await
        .json()
        .await
        .unwrap();
    let schema = format!("{base}/v1/plugin-schemas/ping-auth");
    let (status, body) = status_and_json(app.delete(&schema).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert_eq!(
        body["message"],
        "plugin schema is currently in use, please delete existing plugins using the schema and try again"
    );
    assert_eq!(app.get(&schema).await.status(), 200, "still there");
    let plugin_path = format!("{base}/plugins/{}", plugin["id"].as_str().unwrap());
    assert_eq!(app.delete(&plugin_path).await.status(), 204);
    assert_eq!(app.delete(&schema).await.status(), 204);
}

/// Deleting a control plane takes its services, routes, plugins and data-plane rows with
/// it, on both backends (the store's foreign keys cascade in one statement).
async fn deleting_a_control_plane_deletes_its_entities(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (base, cp) = ping_auth_control_plane(&app).await;
    let service: Value = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "s", "host": "example.com"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let route = app
        .post_json(
            &format!("{base}/services/s/routes"),
            &json!({"paths": ["/"]}),
        )
        .await;
    assert_eq!(route.status(), 201);
    let plugin = app
        .post_json(
            &format!("{base}/services/s/plugins"),
            &ping_auth_config(json!({})),
        )
        .await;
    assert_eq!(plugin.status(), 201);
    let control_plane = uuid::Uuid::parse_str(&cp).unwrap();
    let stored = app
        .store()
        .all_entities_by_kind(control_plane)
        .await
        .unwrap();
    assert_eq!(
        stored.values().map(Vec::len).sum::<usize>(),
        3,
        "{stored:?}"
    );
    assert_eq!(
        app.delete(&format!("/v2/control-planes/{cp}"))
            .await
            .status(),
        204
    );
    // Gone from the store itself, not only hidden behind the control plane's 404
    // (PostgreSQL removes the rows in the background, right after answering).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stored = app
            .store()
            .all_entities_by_kind(control_plane)
            .await
            .unwrap();
        if stored.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stored:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.get(&format!("/v2/control-planes/{cp}")).await.status(),
        404
    );
    let service_path = format!("{base}/services/{}", service["id"].as_str().unwrap());
    assert_eq!(app.get(&service_path).await.status(), 404);
    app.shutdown().await;
}
