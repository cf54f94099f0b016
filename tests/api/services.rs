//! Services under `/core-entities/services`, with Kong 3.10's rules
//! (kong/db/schema/entities/services.lua, src/lua/entities/NOTES.md) and Konnect's
//! Koko-shaped errors (api-contract.md §4.4, §7.3).
//!
//! The helpers at the top are shared by the other core-entity test files.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    tag_and_name_filters_behave_alike_on_both_backends,
    creating_a_service_fills_in_kongs_defaults,
    the_url_shorthand_sets_protocol_host_port_and_path_and_is_never_returned,
    a_service_is_found_by_id_or_by_name_and_a_uuid_is_only_ever_an_id,
    put_creates_or_replaces_by_id_and_by_name,
    patch_merges_into_the_stored_service_and_url_resets_all_four_parts,
    a_rejected_patch_leaves_the_service_unchanged,
    delete_answers_204_whether_or_not_the_service_existed,
    a_service_with_routes_cannot_be_deleted,
    a_taken_name_is_a_data_constraint_error_on_every_write,
    invalid_fields_get_kongs_texts_and_nothing_is_stored,
    lists_are_paged_with_size_offset_and_next,
    a_bad_size_is_a_problem,
    lists_filter_by_tags_and_by_name,
    services_belong_to_their_control_plane,
    an_unknown_control_plane_is_404_on_every_url_family,
    every_url_family_serves_the_same_services,
);

// ---------------------------------------------------------------------------------
// Shared helpers for the core-entity suites.

/// The three URL families core entities are served on (api-contract.md decision 1).
pub(crate) fn families(cp: &str) -> [String; 3] {
    [
        format!("/v2/control-planes/{cp}/core-entities"),
        format!("/v2/runtime-groups/{cp}/core-entities"),
        format!("/konnect-api/api/runtime_groups/{cp}"),
    ]
}

/// A new control plane and the canonical core-entities prefix under it.
pub(crate) async fn control_plane(app: &TestApp, name: &str) -> (String, String) {
    let cp = app.create_control_plane(&json!({ "name": name })).await;
    let id = cp["id"].as_str().unwrap().to_string();
    let base = format!("/v2/control-planes/{id}/core-entities");
    (id, base)
}

pub(crate) async fn put_json(app: &TestApp, path: &str, body: &Value) -> Response {
    app.request(Method::PUT, path)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// POST that must answer 201; returns the body.
pub(crate) async fn create(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, created) = status_and_json(app.post_json(path, body).await).await;
    assert_eq!(status, 201, "POST {path} {body}: {created}");
    created
}

/// GET that must answer 200; returns the body.
pub(crate) async fn fetch(app: &TestApp, path: &str) -> Value {
    let (status, body) = status_and_json(app.get(path).await).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The ids of a list's `data`, in order.
pub(crate) fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// A Kong entity as returned, with `id`, `created_at` and `updated_at` checked
/// (a UUID, integer unix seconds of about now, updated not before created) and removed,
/// so the rest can be compared whole.
pub(crate) fn without_generated(entity: &Value) -> Value {
    let mut entity = entity.clone();
    let shown = entity.to_string();
    let o = entity
        .as_object_mut()
        .unwrap_or_else(|| panic!("an object: {shown}"));
    let id = o.remove("id").expect("an id");
    assert!(
        uuid::Uuid::parse_str(id.as_str().unwrap()).is_ok(),
        "id is a UUID: {id}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let created = o.remove("created_at").expect("created_at");
    let updated = o.remove("updated_at").expect("updated_at");
    let created = created.as_i64().expect("integer seconds");
    let updated = updated.as_i64().expect("integer seconds");
    assert!(
        (now - created).abs() < 60,
        "created_at {created} vs now {now}"
    );
    assert!(updated >= created, "updated_at {updated} >= {created}");
    entity
}

/// Koko's error body (api-contract.md §7.3).
pub(crate) fn koko(message: &str, details: Vec<Value>) -> Value {
    json!({"code": 3, "message": message, "details": details})
}

const DETAIL: &str = "type.googleapis.com/kong.admin.model.v1.ErrorDetail";

pub(crate) fn field_error(field: &str, messages: &[&str]) -> Value {
    json!({"@type": DETAIL, "type": "ERROR_TYPE_FIELD", "field": field, "messages": messages})
}

pub(crate) fn entity_error(messages: &[&str]) -> Value {
    json!({"@type": DETAIL, "type": "ERROR_TYPE_ENTITY", "messages": messages})
}

pub(crate) fn reference_error(field: Option<&str>, messages: &[&str]) -> Value {
    let mut detail = json!({"@type": DETAIL, "type": "ERROR_TYPE_REFERENCE", "messages": messages});
    if let Some(field) = field {
        detail["field"] = json!(field);
    }
    detail
}

/// Koko's not-found body: code 5 (gRPC NOT_FOUND), empty message.
pub(crate) fn not_found() -> Value {
    json!({"code": 5, "message": "", "details": []})
}

/// Kong's unique-constraint text as Konnect reports it.
pub(crate) fn unique_violation(field: &str, value: &str) -> Value {
    koko(
        "data constraint error",
        vec![reference_error(
            Some(field),
            &[&format!(
                "{field} (type: unique) constraint failed for value '{value}': "
            )],
        )],
    )
}

/// A service with Kong's defaults for everything not given.
fn service_defaults(overrides: Value) -> Value {
    let mut service = json!({
        "protocol": "http",
        "port": 80,
        "retries": 5,
        "connect_timeout": 60000,
        "read_timeout": 60000,
        "write_timeout": 60000,
        "enabled": true,
    });
    for (k, v) in overrides.as_object().unwrap() {
        service[k] = v.clone();
    }
    service
}

// ---------------------------------------------------------------------------------

/// POST answers 201 with the bare service: the given fields, Kong's defaults, a new id
/// and integer timestamps; unset fields (`path`, `tls_verify`, ...) are left out.
async fn creating_a_service_fills_in_kongs_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let created = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "billing", "host": "billing.internal", "tags": ["team-a", "prod"]}),
    )
    .await;
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        without_generated(&created),
        service_defaults(json!({
            "name": "billing",
            "host": "billing.internal",
            "tags": ["team-a", "prod"],
        }))
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("{base}/services/{id}")).await, created);

    let full = create(
        &app,
        &format!("{base}/services"),
        &json!({
            "name": "secure",
            "protocol": "https",
            "host": "10.0.0.7",
            "port": 8443,
            "path": "/api/v1",
            "retries": 0,
            "connect_timeout": 1,
            "read_timeout": 2,
            "write_timeout": 2147483646,
            "tls_verify": true,
            "tls_verify_depth": 3,
            "ca_certificates": ["7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"],
            "enabled": false,
        }),
    )
    .await;
    assert_eq!(
        without_generated(&full),
        json!({
            "name": "secure",
            "protocol": "https",
            "host": "10.0.0.7",
            "port": 8443,
            "path": "/api/v1",
            "retries": 0,
            "connect_timeout": 1,
            "read_timeout": 2,
            "write_timeout": 2147483646,
            "tls_verify": true,
            "tls_verify_depth": 3,
            "ca_certificates": ["7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"],
            "enabled": false,
        }),
        "every field kept; CA certificates are not checked for existence (NOTES.md §2.2)"
    );
    app.shutdown().await;
}

/// `url` is split the way Kong splits it (luasocket): scheme, host, port and path;
/// query and fragment are dropped; the port defaults by scheme; `url` is never stored.
async fn the_url_shorthand_sets_protocol_host_port_and_path_and_is_never_returned(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let services = format!("{base}/services");
    let cases = [
        (
            "https://h:8443/p",
            json!({"protocol": "https", "host": "h", "port": 8443, "path": "/p"}),
        ),
        (
            "http://example.com",
            json!({"protocol": "http", "host": "example.com", "port": 80}),
        ),
        (
            "https://example.com/a/b?q=1#frag",
            json!({"protocol": "https", "host": "example.com", "port": 443, "path": "/a/b"}),
        ),
        (
            "grpc://[::1]:9000",
            json!({"protocol": "grpc", "host": "::1", "port": 9000}),
        ),
    ];
    for (url, parts) in cases {
        let created = create(&app, &services, &json!({"url": url})).await;
        assert_eq!(
            without_generated(&created),
            service_defaults(parts),
            "{url}"
        );
        let fetched = fetch(
            &app,
            &format!("{services}/{}", created["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(fetched, created, "{url}: stored as returned, without `url`");
    }
    // The url wins over the fields it sets.
    let created = create(
        &app,
        &services,
        &json!({"url": "http://from-url/x", "host": "ignored", "name": "both"}),
    )
    .await;
    assert_eq!(
        without_generated(&created),
        service_defaults(json!({"name": "both", "host": "from-url", "path": "/x"}))
    );

    for (body, expected) in [
        (
            json!({"url": 5}),
            koko(
                "validation error",
                vec![field_error("url", &["expected a string"])],
            ),
        ),
        (
            json!({"url": "http://h:abc/"}),
            koko(
                "validation error",
                vec![field_error("port", &["expected an integer"])],
            ),
        ),
        (
            json!({"url": "ftp://h/"}),
            koko(
                "validation error",
                vec![field_error(
                    "protocol",
                    &["expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"],
                )],
            ),
        ),
        (
            json!({"url": "/only/a/path"}),
            koko(
                "validation error",
                vec![field_error("host", &["required field missing"])],
            ),
        ),
    ] {
        let (status, error) = status_and_json(app.post_json(&services, &body).await).await;
        assert_eq!((status, error), (400, expected), "{body}");
    }
    let list = fetch(&app, &services).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        5,
        "rejected urls store nothing"
    );
    app.shutdown().await;
}

/// GET takes an id or a name; a UUID is only looked up as an id, so a service named
/// like a UUID is not found by that name (Kong `endpoints.lua`); unknown ones are 404.
async fn a_service_is_found_by_id_or_by_name_and_a_uuid_is_only_ever_an_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let created = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "by-name.v2_~", "host": "h"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("{base}/services/{id}")).await, created);
    assert_eq!(
        fetch(&app, &format!("{base}/services/by-name.v2_~")).await,
        created
    );

    let uuid_name = "0b5f3a3c-2a3e-4e8c-9a53-2b61a1a1c0de";
    let named_like_a_uuid = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": uuid_name, "host": "h"}),
    )
    .await;
    assert_ne!(named_like_a_uuid["id"], uuid_name);
    for missing in [uuid_name, "nope", "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"] {
        let (status, body) =
            status_and_json(app.get(&format!("{base}/services/{missing}")).await).await;
        assert_eq!((status, body), (404, not_found()), "{missing}");
    }
    let list = fetch(
        &app,
        &format!("{base}/services?filter[name][eq]={uuid_name}"),
    )
    .await;
    assert_eq!(ids(&list), [named_like_a_uuid["id"].as_str().unwrap()]);
    app.shutdown().await;
}

/// PUT creates (200) with the id or the name of the path, and replaces a stored service
/// whole: fields left out go back to their defaults, the id and `created_at` stay, and
/// a name in the path wins over the body's.
async fn put_creates_or_replaces_by_id_and_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let id = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7";
    let by_id = format!("{base}/services/{id}");
    let (status, created) = status_and_json(
        put_json(
            &app,
            &by_id,
            &json!({"name": "first", "host": "a", "port": 8080, "tags": ["x"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["id"], id);
    assert_eq!(
        without_generated(&created),
        service_defaults(json!({"name": "first", "host": "a", "port": 8080, "tags": ["x"]}))
    );

    // Timestamps are in seconds: wait for the next one to see updated_at move.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, replaced) =
        status_and_json(put_json(&app, &by_id, &json!({"host": "b"})).await).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert!(replaced["updated_at"].as_i64() > created["updated_at"].as_i64());
    assert_eq!(
        without_generated(&replaced),
        service_defaults(json!({"host": "b"})),
        "name, port and tags are gone"
    );
    assert_eq!(fetch(&app, &by_id).await, replaced);

    let by_name = format!("{base}/services/named");
    let (status, named) =
        status_and_json(put_json(&app, &by_name, &json!({"host": "c", "name": "other"})).await)
            .await;
    assert_eq!(status, 200, "{named}");
    assert_eq!(
        without_generated(&named),
        service_defaults(json!({"name": "named", "host": "c"})),
        "the path's name is set"
    );
    let (status, renamed) =
        status_and_json(put_json(&app, &by_name, &json!({"host": "d", "retries": 1})).await).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["id"], named["id"], "the same service, replaced");
    assert_eq!(
        without_generated(&renamed),
        service_defaults(json!({"name": "named", "host": "d", "retries": 1}))
    );
    assert_eq!(fetch(&app, &by_name).await, renamed);

    let (status, error) =
        status_and_json(put_json(&app, &by_name, &json!({"port": 80})).await).await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "validation error",
                vec![field_error("host", &["required field missing"])]
            )
        )
    );
    assert_eq!(
        fetch(&app, &by_name).await,
        renamed,
        "a rejected PUT changes nothing"
    );
    let list = fetch(&app, &format!("{base}/services")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    app.shutdown().await;
}

/// PATCH (by id or name) changes what it names and keeps the rest; `url` sets protocol,
/// host, port and path together, so a path-less url clears the stored path.
async fn patch_merges_into_the_stored_service_and_url_resets_all_four_parts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let created = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "api", "url": "https://api.internal:8443/v1", "retries": 2, "tags": ["t"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/services/{id}"),
            &json!({"read_timeout": 1000}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = created.clone();
    expected["read_timeout"] = json!(1000);
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);
    assert!(patched["updated_at"].as_i64() >= created["updated_at"].as_i64());

    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/services/api"),
            &json!({"url": "http://plain.internal"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["id"], id);
    assert_eq!(
        without_generated(&patched),
        service_defaults(json!({
            "name": "api",
            "host": "plain.internal",
            "retries": 2,
            "read_timeout": 1000,
            "tags": ["t"],
        })),
        "protocol http, port 80, path cleared"
    );
    assert_eq!(fetch(&app, &format!("{base}/services/{id}")).await, patched);

    // Null clears a field; a tls field on http fails the merged entity's checks.
    let (status, cleared) = status_and_json(
        app.patch_json(&format!("{base}/services/api"), &json!({"tags": null}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared.get("tags").is_none(), "{cleared}");

    let (status, body) = status_and_json(
        app.patch_json(&format!("{base}/services/nope"), &json!({"retries": 1}))
            .await,
    )
    .await;
    assert_eq!((status, body), (404, not_found()));
    app.shutdown().await;
}

/// A PATCH refused by a field rule or by the merged entity's checks stores nothing.
async fn a_rejected_patch_leaves_the_service_unchanged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let created = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "keep", "host": "h", "path": "/p"}),
    )
    .await;
    let path = format!("{base}/services/keep");
    let cases = [
        (
            json!({"port": 65536}),
            vec![field_error(
                "port",
                &["value should be between 0 and 65535"],
            )],
        ),
        (
            json!({"url": "/no/host"}),
            vec![field_error("host", &["required field missing"])],
        ),
        (
            json!({"protocol": "tcp"}),
            vec![
                entity_error(&["failed conditional validation given value of field 'protocol'"]),
                field_error("path", &["value must be null"]),
            ],
        ),
        (
            json!({"tls_verify": true}),
            vec![
                entity_error(&["failed conditional validation given value of field 'protocol'"]),
                field_error("tls_verify", &["value must be null"]),
            ],
        ),
        (
            json!({"nope": 1}),
            vec![field_error("nope", &["unknown field"])],
        ),
    ];
    for (body, details) in cases {
        let (status, error) = status_and_json(app.patch_json(&path, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
        assert_eq!(fetch(&app, &path).await, created, "after {body}");
    }
    app.shutdown().await;
}

/// DELETE by id or name answers 204, also when there is nothing to delete; the name is
/// free again afterwards.
async fn delete_answers_204_whether_or_not_the_service_existed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let a = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "a", "host": "h"}),
    )
    .await;
    create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "b", "host": "h"}),
    )
    .await;
    let a_id = a["id"].as_str().unwrap();

    for target in [
        a_id,
        a_id,
        "b",
        "b",
        "never",
        "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7",
    ] {
        let response = app.delete(&format!("{base}/services/{target}")).await;
        assert_eq!(response.status(), 204, "{target}");
        assert_eq!(response.text().await.unwrap(), "", "no body");
    }
    for gone in [a_id, "a", "b"] {
        let (status, body) =
            status_and_json(app.get(&format!("{base}/services/{gone}")).await).await;
        assert_eq!((status, body), (404, not_found()), "{gone}");
    }
    let list = fetch(&app, &format!("{base}/services")).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
    let again = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "a", "host": "h"}),
    )
    .await;
    assert_ne!(again["id"], a["id"]);
    app.shutdown().await;
}

/// Kong's `on_delete = restrict`: while a route points at a service, deleting it is a
/// 400 data constraint error and the service stays; once the route is gone it works.
async fn a_service_with_routes_cannot_be_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let service = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "s", "host": "h"}),
    )
    .await;
    let id = service["id"].as_str().unwrap();
    let route = create(
        &app,
        &format!("{base}/services/{id}/routes"),
        &json!({"paths": ["/s"]}),
    )
    .await;
    for target in [id, "s"] {
        let (status, error) =
            status_and_json(app.delete(&format!("{base}/services/{target}")).await).await;
        assert_eq!(
            (status, error),
            (
                400,
                koko(
                    "data constraint error",
                    vec![reference_error(
                        None,
                        &["an existing 'routes' entity references this 'services' entity"]
                    )]
                )
            ),
            "{target}"
        );
    }
    assert_eq!(fetch(&app, &format!("{base}/services/{id}")).await, service);
    let route_path = format!("{base}/routes/{}", route["id"].as_str().unwrap());
    assert_eq!(fetch(&app, &route_path).await, route);

    assert_eq!(app.delete(&route_path).await.status(), 204);
    assert_eq!(
        app.delete(&format!("{base}/services/s")).await.status(),
        204
    );
    let (status, _) = status_and_json(app.get(&format!("{base}/services/{id}")).await).await;
    assert_eq!(status, 404);
    app.shutdown().await;
}

/// Names are unique per control plane: POST, PUT and PATCH onto a taken name are 400
/// `data constraint error` with Koko's text, and nothing changes.
async fn a_taken_name_is_a_data_constraint_error_on_every_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let x = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "x", "host": "h"}),
    )
    .await;
    let y = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "y", "host": "h"}),
    )
    .await;
    let y_id = y["id"].as_str().unwrap();
    let expected = (400, unique_violation("name", "x"));

    let response = app
        .post_json(
            &format!("{base}/services"),
            &json!({"name": "x", "host": "other"}),
        )
        .await;
    assert_eq!(status_and_json(response).await, expected, "POST");
    let response = put_json(
        &app,
        &format!("{base}/services/{y_id}"),
        &json!({"name": "x", "host": "h"}),
    )
    .await;
    assert_eq!(status_and_json(response).await, expected, "PUT by id");
    let response = put_json(
        &app,
        &format!("{base}/services/7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"),
        &json!({"name": "x", "host": "h"}),
    )
    .await;
    assert_eq!(status_and_json(response).await, expected, "PUT creating");
    let response = app
        .patch_json(&format!("{base}/services/y"), &json!({"name": "x"}))
        .await;
    assert_eq!(status_and_json(response).await, expected, "PATCH");

    assert_eq!(fetch(&app, &format!("{base}/services/x")).await, x);
    assert_eq!(fetch(&app, &format!("{base}/services/y")).await, y);
    let list = fetch(&app, &format!("{base}/services")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    // Services without a name never collide.
    create(&app, &format!("{base}/services"), &json!({"host": "h"})).await;
    create(&app, &format!("{base}/services"), &json!({"host": "h"})).await;
    app.shutdown().await;
}

/// Every bad field is reported at once, with Kong's texts, and nothing is stored.
async fn invalid_fields_get_kongs_texts_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let services = format!("{base}/services");
    let cases = [
        (
            json!({"name": "no-host"}),
            vec![field_error("host", &["required field missing"])],
        ),
        (
            json!({"host": "h", "port": 70000, "protocol": "ftp", "retries": -1}),
            vec![
                field_error("port", &["value should be between 0 and 65535"]),
                field_error(
                    "protocol",
                    &["expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"],
                ),
                field_error("retries", &["value should be between 0 and 32767"]),
            ],
        ),
        (
            json!({"host": "h", "connect_timeout": 0, "port": "80", "enabled": "yes"}),
            vec![
                field_error(
                    "connect_timeout",
                    &["value should be between 1 and 2147483646"],
                ),
                field_error("enabled", &["expected a boolean"]),
                field_error("port", &["expected an integer"]),
            ],
        ),
        (
            json!({"host": "h", "name": "has space"}),
            vec![field_error(
                "name",
                &[
                    "invalid value 'has space': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
                ],
            )],
        ),
        (
            json!({"host": "h", "protocol": "tcp", "path": "/x", "tls_verify": true}),
            vec![
                entity_error(&[
                    "failed conditional validation given value of field 'protocol'",
                    "failed conditional validation given value of field 'protocol'",
                ]),
                field_error("path", &["value must be null"]),
                field_error("tls_verify", &["value must be null"]),
            ],
        ),
        (
            json!({"host": "h", "protocol": "https", "ca_certificates": ["nope"]}),
            vec![field_error(
                "ca_certificates[0]",
                &["expected a valid UUID"],
            )],
        ),
        (
            json!({"host": "h", "foo": 1}),
            vec![field_error("foo", &["unknown field"])],
        ),
    ];
    for (body, details) in cases {
        let (status, error) = status_and_json(app.post_json(&services, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
    }
    let (status, error) = status_and_json(app.post_json(&services, &json!([1])).await).await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"code": 3, "message": "request body must be a JSON object", "details": []})
        )
    );
    let list = fetch(&app, &services).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
    app.shutdown().await;
}

/// `size` caps a page; `offset` (from the previous page, also inside `next`) continues
/// it; the last page has `next` and `offset` null; together the pages hold every
/// service once, in id order.
async fn lists_are_paged_with_size_offset_and_next(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let mut all = Vec::new();
    for i in 0..5 {
        let s = create(
            &app,
            &format!("{base}/services"),
            &json!({"name": format!("s{i}"), "host": "h"}),
        )
        .await;
        all.push(s["id"].as_str().unwrap().to_string());
    }
    all.sort();

    let first = fetch(&app, &format!("{base}/services?size=2")).await;
    assert_eq!(ids(&first), all[..2]);
    assert_eq!(first["offset"], all[1].as_str());
    assert_eq!(
        first["next"],
        format!("{base}/services?offset={}&size=2", all[1]).as_str()
    );
    let second = fetch(&app, first["next"].as_str().unwrap()).await;
    assert_eq!(ids(&second), all[2..4]);
    let third = fetch(
        &app,
        &format!(
            "{base}/services?size=2&offset={}",
            second["offset"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(ids(&third), all[4..]);
    assert_eq!(third["next"], Value::Null);
    assert_eq!(third["offset"], Value::Null);

    let exact = fetch(&app, &format!("{base}/services?size=5")).await;
    assert_eq!(ids(&exact), all);
    assert_eq!(
        (&exact["next"], &exact["offset"]),
        (&Value::Null, &Value::Null)
    );
    let whole = fetch(&app, &format!("{base}/services")).await;
    assert_eq!(ids(&whole), all, "default size (100) holds them all");
    assert_eq!(
        whole["data"][0],
        fetch(&app, &format!("{base}/services/{}", all[0])).await
    );
    app.shutdown().await;
}

/// `size` outside 1..=1000 or not a number is an RFC 7807 problem naming the parameter.
async fn a_bad_size_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    for size in ["0", "1001", "abc", "-1", "2.5"] {
        let (status, body) = problem(app.get(&format!("{base}/services?size={size}")).await).await;
        assert_eq!(status, 400, "{size}");
        assert_eq!(
            body,
            json!({
                "status": 400,
                "title": "Bad Request",
                "type": "https://httpstatuses.com/400",
                "detail": "Invalid query parameters",
                "invalid_parameters": [{
                    "field": "size",
                    "reason": "must be an integer from 1 to 1000",
                    "source": "query"
                }]
            }),
            "{size}"
        );
    }
    let list = fetch(&app, &format!("{base}/services?size=1000")).await;
    assert_eq!(list["data"], json!([]));
    app.shutdown().await;

    // The bound is `--max-page-size`, not a constant.
    let app = TestApp::spawn_with(backend, |args| args.max_page_size = 3).await;
    let (_, base) = control_plane(&app, "services").await;
    let list = fetch(&app, &format!("{base}/services?size=3")).await;
    assert_eq!(list["data"], json!([]));
    let (status, body) = problem(app.get(&format!("{base}/services?size=4")).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["invalid_parameters"][0]["reason"],
        "must be an integer from 1 to 3"
    );
    app.shutdown().await;
}

/// `tags=a,b` keeps services with all the tags, `tags=a/b` those with any;
/// `filter[name][eq]` matches exactly and `filter[name][contains]` a literal part
/// (`_` and `%` are not wildcards).
async fn lists_filter_by_tags_and_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "services").await;
    let mut id = std::collections::HashMap::new();
    for (name, tags) in [
        ("alpha", json!(["a", "b"])),
        ("beta", json!(["a"])),
        ("gamma", json!(["b", "c"])),
        ("x_y", json!(null)),
        ("xzy", json!(["c"])),
    ] {
        let s = create(
            &app,
            &format!("{base}/services"),
            &json!({"name": name, "host": "h", "tags": tags}),
        )
        .await;
        id.insert(name, s["id"].as_str().unwrap().to_string());
    }
    let names = crate::harness::sorted_names;
    for (query, expected) in [
        ("tags=a", vec!["alpha", "beta"]),
        ("tags=a,b", vec!["alpha"]),
        ("tags=b,a", vec!["alpha"]),
        ("tags=a/c", vec!["alpha", "beta", "gamma", "xzy"]),
        ("tags=c/nope", vec!["gamma", "xzy"]),
        ("tags=a,c", vec![]),
        ("tags=nope", vec![]),
        ("filter[name][eq]=beta", vec!["beta"]),
        ("filter[name][eq]=bet", vec![]),
        ("filter%5Bname%5D%5Beq%5D=gamma", vec!["gamma"]),
        ("filter[name][contains]=a", vec!["alpha", "beta", "gamma"]),
        ("filter[name][contains]=_", vec!["x_y"]),
        ("filter[name][contains]=%25", vec![]),
        ("filter[name][contains]=ph&tags=a", vec!["alpha"]),
        ("filter[name][contains]=a&tags=c", vec!["gamma"]),
    ] {
        let list = fetch(&app, &format!("{base}/services?{query}")).await;
        assert_eq!(names(&list), expected, "{query}");
    }
    // Filters combine with paging.
    let page = fetch(&app, &format!("{base}/services?tags=a/c&size=3")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let rest = fetch(&app, page["next"].as_str().unwrap()).await;
    assert!(rest["next"].is_null(), "{rest}");
    let mut paged = ids(&page);
    paged.extend(ids(&rest));
    let mut expected: Vec<String> = ["alpha", "beta", "gamma", "xzy"]
        .iter()
        .map(|n| id[n].clone())
        .collect();
    expected.sort();
    assert_eq!(paged, expected);
    app.shutdown().await;
}

/// Each control plane has its own services: the same name twice is fine across
/// control planes, and one control plane cannot read, change or delete another's.
async fn services_belong_to_their_control_plane(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, one) = control_plane(&app, "one").await;
    let (_, two) = control_plane(&app, "two").await;
    let mine = create(
        &app,
        &format!("{one}/services"),
        &json!({"name": "same", "host": "a"}),
    )
    .await;
    let theirs = create(
        &app,
        &format!("{two}/services"),
        &json!({"name": "same", "host": "b"}),
    )
    .await;
    let mine_id = mine["id"].as_str().unwrap();

    let (status, body) = status_and_json(app.get(&format!("{two}/services/{mine_id}")).await).await;
    assert_eq!((status, body), (404, not_found()));
    let (status, body) = status_and_json(
        app.patch_json(&format!("{two}/services/{mine_id}"), &json!({"host": "x"}))
            .await,
    )
    .await;
    assert_eq!((status, body), (404, not_found()));
    assert_eq!(
        app.delete(&format!("{two}/services/{mine_id}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        fetch(&app, &format!("{one}/services/{mine_id}")).await,
        mine
    );
    assert_eq!(fetch(&app, &format!("{two}/services/same")).await, theirs);
    assert_eq!(
        ids(&fetch(&app, &format!("{one}/services")).await),
        [mine_id]
    );
    // A create naming an id its control plane already has is a constraint error.
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{one}/services"),
            &json!({"id": mine_id, "name": "other", "host": "c"}),
        )
        .await,
    )
    .await;
    let taken = format!("id (type: unique) constraint failed for value '{mine_id}': ");
    assert_eq!(
        (status, body),
        (
            400,
            koko(
                "data constraint error",
                vec![reference_error(Some("id"), &[taken.as_str()])]
            )
        )
    );
    assert_eq!(
        fetch(&app, &format!("{one}/services/{mine_id}")).await,
        mine
    );
    app.shutdown().await;
}

/// A control plane that does not exist is 404 on every URL family and operation; a
/// control-plane id that is not a UUID is 400. Lists answer in RFC 7807 (their errors
/// are problems), item operations in Koko's shape.
async fn an_unknown_control_plane_is_404_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7";
    for family in families(missing) {
        let (status, body) = problem(app.get(&format!("{family}/services")).await).await;
        assert_eq!(status, 404, "{family}");
        assert_eq!(
            body,
            json!({
                "status": 404,
                "title": "Not Found",
                "type": "https://httpstatuses.com/404",
                "detail": "control plane not found"
            }),
            "{family}"
        );
        let koko_404 = json!({"code": 5, "message": "control plane not found", "details": []});
        // A create learns of the missing control plane from its insert (a valid body) or
        // when the body fails first (an invalid one, an unknown or a bundled plugin).
        let responses = [
            app.post_json(&format!("{family}/services"), &json!({"host": "h"}))
                .await,
            app.post_json(&format!("{family}/services"), &json!({"port": 0}))
                .await,
            app.post_json(&format!("{family}/plugins"), &json!({"name": "ping-auth"}))
                .await,
            app.post_json(&format!("{family}/plugins"), &json!({"name": "key-auth"}))
                .await,
            app.get(&format!("{family}/services/x")).await,
            put_json(&app, &format!("{family}/services/x"), &json!({"host": "h"})).await,
            app.patch_json(&format!("{family}/services/x"), &json!({"host": "h"}))
                .await,
            app.delete(&format!("{family}/services/x")).await,
        ];
        for response in responses {
            let what = format!("{} {}", family, response.url().path());
            let (status, body) = status_and_json(response).await;
            assert_eq!((status, body), (404, koko_404.clone()), "{what}");
        }
    }
    let (status, body) = problem(
        app.get("/v2/control-planes/not-a-uuid/core-entities/services")
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["invalid_parameters"],
        json!([{"field": "id", "reason": "invalid ID format", "source": "path"}])
    );
    app.shutdown().await;
}

/// The three URL families are one API: a service created on one is read, changed,
/// listed and deleted on the others, with the same bodies and errors.
async fn every_url_family_serves_the_same_services(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, _) = control_plane(&app, "families").await;
    let [canonical, runtime_groups, legacy] = families(&cp);

    let created = create(
        &app,
        &format!("{legacy}/services"),
        &json!({"name": "everywhere", "url": "https://e.internal/x"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    for family in [&canonical, &runtime_groups, &legacy] {
        assert_eq!(
            fetch(&app, &format!("{family}/services/{id}")).await,
            created,
            "{family}"
        );
        assert_eq!(
            fetch(&app, &format!("{family}/services/everywhere")).await,
            created,
            "{family}"
        );
        let list = fetch(&app, &format!("{family}/services")).await;
        assert_eq!(
            list,
            json!({"data": [created], "next": null, "offset": null}),
            "{family}"
        );
        let (status, error) = status_and_json(
            app.post_json(&format!("{family}/services"), &json!({"port": 1}))
                .await,
        )
        .await;
        assert_eq!(
            (status, error),
            (
                400,
                koko(
                    "validation error",
                    vec![field_error("host", &["required field missing"])]
                )
            ),
            "{family}"
        );
    }
    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{runtime_groups}/services/everywhere"),
            &json!({"retries": 9}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["retries"], 9);
    assert_eq!(
        fetch(&app, &format!("{canonical}/services/{id}")).await,
        patched
    );
    let (status, put) = status_and_json(
        put_json(
            &app,
            &format!("{legacy}/services/{id}"),
            &json!({"name": "everywhere", "host": "p"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        fetch(&app, &format!("{runtime_groups}/services/{id}")).await,
        put
    );
    // Paging links stay in the family that was asked.
    create(
        &app,
        &format!("{canonical}/services"),
        &json!({"host": "h"}),
    )
    .await;
    let page = fetch(&app, &format!("{legacy}/services?size=1")).await;
    assert!(
        page["next"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{legacy}/services?offset=")),
        "{page}"
    );

    assert_eq!(
        app.delete(&format!("{canonical}/services/everywhere"))
            .await
            .status(),
        204
    );
    for family in [&canonical, &runtime_groups, &legacy] {
        let (status, body) =
            status_and_json(app.get(&format!("{family}/services/{id}")).await).await;
        assert_eq!((status, body), (404, not_found()), "{family}");
    }
    app.shutdown().await;
}

/// Edge cases of the list filters that once differed by backend: an empty tag list is no
/// filter, a repeated tag counts once, tags longer than an index entry work, and
/// `filter[name][contains]` is case-sensitive everywhere.
async fn tag_and_name_filters_behave_alike_on_both_backends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "filters").await;
    let long_tag = "t".repeat(3000);
    for (name, tags) in [
        ("Alpha", vec!["a".to_string()]),
        ("beta", vec![long_tag.clone()]),
    ] {
        let response = app
            .post_json(
                &format!("{base}/services"),
                &json!({"name": name, "host": "example.com", "tags": tags}),
            )
            .await;
        assert_eq!(response.status(), 201, "{name}");
    }
    let names = |query: String| {
        let app = &app;
        let base = base.clone();
        async move {
            let response = app.get(&format!("{base}/services?{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            let list: Value = response.json().await.unwrap();
            crate::harness::sorted_names(&list)
        }
    };
    assert_eq!(names("tags=,".into()).await, ["Alpha", "beta"]);
    assert_eq!(names("tags=/".into()).await, ["Alpha", "beta"]);
    assert_eq!(names("tags=a,a".into()).await, ["Alpha"]);
    assert_eq!(names(format!("tags={long_tag}")).await, ["beta"]);
    assert_eq!(
        names("filter[name][contains]=alp".into()).await,
        Vec::<String>::new()
    );
    assert_eq!(names("filter[name][contains]=Alp".into()).await, ["Alpha"]);
}
