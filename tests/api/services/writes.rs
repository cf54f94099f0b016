//! Writing services: POST, PUT and PATCH with Kong's defaults, the `url` shorthand, and
//! Kong's texts for what it refuses.

use serde_json::json;

use super::service_defaults;
use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, fetch, field_error, koko, not_found, put_json,
    unique_violation, without_generated,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    creating_a_service_fills_in_kongs_defaults,
    the_url_shorthand_sets_protocol_host_port_and_path_and_is_never_returned,
    put_creates_or_replaces_by_id_and_by_name,
    patch_merges_into_the_stored_service_and_url_resets_all_four_parts,
    a_rejected_patch_leaves_the_service_unchanged,
    a_taken_name_is_a_data_constraint_error_on_every_write,
    invalid_fields_get_kongs_texts_and_nothing_is_stored,
);

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
