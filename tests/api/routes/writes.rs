//! Writing routes, top-level and under their service: Kong's defaults, references to
//! services, PUT, PATCH and DELETE, unique names, and every URL family.

use serde_json::{Value, json};

use super::{no_routes, rejected, route_defaults, service};
use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    put_json, reference_error, unique_violation, without_generated,
};
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    creating_a_route_fills_in_kongs_defaults,
    routes_under_a_service_are_created_listed_and_fetched_through_it,
    a_route_pointing_at_a_missing_service_is_a_data_constraint_error,
    put_patch_and_delete_check_the_whole_route,
    a_taken_route_name_is_a_data_constraint_error,
    routes_are_served_on_every_url_family,
);

/// POST answers 201 with the route: the given fields and Kong's defaults (protocols
/// http+https, strip_path true, preserve_host false, regex_priority 0, path_handling
/// v0, https_redirect_status_code 426, buffering on); unset fields are left out.
async fn creating_a_route_fills_in_kongs_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let created = create(&app, &format!("{base}/routes"), &json!({"paths": ["/a"]})).await;
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        without_generated(&created),
        route_defaults(json!({"paths": ["/a"]}))
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("{base}/routes/{id}")).await, created);

    let service_id = service(&app, &base, "svc").await;
    let full = create(
        &app,
        &format!("{base}/routes"),
        &json!({
            "name": "full",
            "protocols": ["https"],
            "methods": ["GET", "POST"],
            "hosts": ["example.com", "*.example.org", "example.*"],
            "paths": ["/api", "~/v\\d+/users$"],
            "headers": {"x-version": ["1", "2"]},
            "snis": ["example.com"],
            "strip_path": false,
            "preserve_host": true,
            "regex_priority": -3,
            "path_handling": "v1",
            "https_redirect_status_code": 308,
            "request_buffering": false,
            "response_buffering": false,
            "tags": ["t1"],
            "service": {"id": service_id},
        }),
    )
    .await;
    assert_eq!(
        without_generated(&full),
        json!({
            "name": "full",
            "protocols": ["https"],
            "methods": ["GET", "POST"],
            "hosts": ["example.com", "*.example.org", "example.*"],
            "paths": ["/api", "~/v\\d+/users$"],
            "headers": {"x-version": ["1", "2"]},
            "snis": ["example.com"],
            "strip_path": false,
            "preserve_host": true,
            "regex_priority": -3,
            "path_handling": "v1",
            "https_redirect_status_code": 308,
            "request_buffering": false,
            "response_buffering": false,
            "tags": ["t1"],
            "service": {"id": service_id},
        })
    );
    assert_eq!(fetch(&app, &format!("{base}/routes/full")).await, full);
    app.shutdown().await;
}

/// `services/{id or name}/routes` sets the route's service from the path (whatever the
/// body says), lists only that service's routes, and answers 404 for a route of
/// another service or under a service that does not exist.
async fn routes_under_a_service_are_created_listed_and_fetched_through_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let a = service(&app, &base, "a").await;
    let b = service(&app, &base, "b").await;

    let by_id = create(
        &app,
        &format!("{base}/services/{a}/routes"),
        &json!({"name": "a1", "paths": ["/a1"]}),
    )
    .await;
    assert_eq!(
        without_generated(&by_id),
        route_defaults(json!({"name": "a1", "paths": ["/a1"], "service": {"id": a}}))
    );
    let by_name = create(
        &app,
        &format!("{base}/services/a/routes"),
        &json!({"paths": ["/a2"], "service": {"id": b}}),
    )
    .await;
    assert_eq!(
        by_name["service"],
        json!({"id": a}),
        "the path's service wins"
    );
    let of_b = create(
        &app,
        &format!("{base}/services/b/routes"),
        &json!({"name": "b1", "hosts": ["b.example"]}),
    )
    .await;
    let unattached = create(
        &app,
        &format!("{base}/routes"),
        &json!({"paths": ["/free"]}),
    )
    .await;
    assert!(unattached.get("service").is_none(), "{unattached}");

    let mut of_a = vec![
        by_id["id"].as_str().unwrap().to_string(),
        by_name["id"].as_str().unwrap().to_string(),
    ];
    of_a.sort();
    for parent in [a.as_str(), "a"] {
        let list = fetch(&app, &format!("{base}/services/{parent}/routes")).await;
        assert_eq!(ids(&list), of_a, "{parent}");
        assert_eq!(list["next"], Value::Null);
    }
    let b_id = of_b["id"].as_str().unwrap();
    let list = fetch(&app, &format!("{base}/services/b/routes")).await;
    assert_eq!(list, json!({"data": [of_b], "next": null, "offset": null}));
    let page = fetch(&app, &format!("{base}/services/a/routes?size=1")).await;
    assert_eq!(ids(&page), of_a[..1]);
    assert_eq!(
        page["next"],
        format!("{base}/services/a/routes?offset={}&size=1", of_a[0]).as_str()
    );
    assert_eq!(ids(&fetch(&app, &format!("{base}/routes")).await).len(), 4);

    assert_eq!(
        fetch(&app, &format!("{base}/services/a/routes/a1")).await,
        by_id
    );
    assert_eq!(
        fetch(&app, &format!("{base}/services/{b}/routes/{b_id}")).await,
        of_b
    );
    for path in [
        format!("{base}/services/a/routes/{b_id}"),
        format!("{base}/services/a/routes/b1"),
        format!("{base}/services/b/routes/a1"),
        format!(
            "{base}/services/a/routes/{}",
            unattached["id"].as_str().unwrap()
        ),
        format!("{base}/services/missing/routes/a1"),
    ] {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!((status, body), (404, not_found()), "{path}");
    }
    // Lists answer their errors as RFC 7807 problems.
    for parent in ["missing", "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"] {
        let (status, body) =
            problem(app.get(&format!("{base}/services/{parent}/routes")).await).await;
        assert_eq!(status, 404, "{parent}");
        assert_eq!(
            (&body["status"], &body["title"]),
            (&json!(404), &json!("Not Found"))
        );
    }
    let (status, body) = status_and_json(
        app.patch_json(
            &format!("{base}/services/a/routes/b1"),
            &json!({"paths": ["/x"]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, not_found()),
        "PATCH of another service's route"
    );
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/services/missing/routes"),
            &json!({"paths": ["/"]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, not_found()),
        "POST under a missing service"
    );
    assert_eq!(
        app.delete(&format!("{base}/services/a/routes/b1"))
            .await
            .status(),
        204
    );
    assert_eq!(
        fetch(&app, &format!("{base}/routes/b1")).await,
        of_b,
        "a DELETE under the wrong service removes nothing"
    );
    assert_eq!(
        app.delete(&format!("{base}/services/b/routes/b1"))
            .await
            .status(),
        204
    );
    let (status, _) = status_and_json(app.get(&format!("{base}/routes/b1")).await).await;
    assert_eq!(status, 404);
    app.shutdown().await;
}

/// A `service.id` that names no service is Kong's foreign-key violation, as a 400
/// data constraint error on `service.id`; a malformed one is a field error. Neither
/// stores anything.
async fn a_route_pointing_at_a_missing_service_is_a_data_constraint_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let missing = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7";
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"paths": ["/"], "service": {"id": missing}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "data constraint error",
                vec![reference_error(
                    Some("service.id"),
                    &[&format!(
                        "the foreign key '{{id=\"{missing}\"}}' does not reference an existing 'services' entity."
                    )]
                )]
            )
        )
    );
    rejected(
        &app,
        &base,
        json!({"paths": ["/"], "service": {"id": "nope"}}),
        vec![field_error("service.id", &["expected a valid UUID"])],
    )
    .await;
    no_routes(&app, &base).await;

    // The same holds when a stored route is moved onto a missing service.
    let route = create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    let path = format!("{base}/routes/{}", route["id"].as_str().unwrap());
    let (status, error) = status_and_json(
        app.patch_json(&path, &json!({"service": {"id": missing}}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["message"], "data constraint error");
    assert_eq!(error["details"][0]["field"], "service.id");
    assert_eq!(fetch(&app, &path).await, route);
    app.shutdown().await;
}

/// PUT replaces and PATCH merges, and both check the whole resulting route: a PATCH to
/// grpc fails on the stored `strip_path: true`, a PATCH emptying the match fields
/// fails the entity check; rejected writes change nothing; DELETE is 204 and idempotent.
async fn put_patch_and_delete_check_the_whole_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let service_id = service(&app, &base, "svc").await;
    let created = create(
        &app,
        &format!("{base}/services/svc/routes"),
        &json!({"name": "r", "paths": ["/r"], "methods": ["GET"], "tags": ["t"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("{base}/routes/{id}");

    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/routes/r"),
            &json!({"hosts": ["h.example"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = created.clone();
    expected["hosts"] = json!(["h.example"]);
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);
    assert_eq!(fetch(&app, &path).await, patched);

    for (body, details) in [
        (
            json!({"protocols": ["grpc"]}),
            vec![
                field_error(
                    "methods",
                    &["cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"],
                ),
                field_error(
                    "strip_path",
                    &["cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"],
                ),
            ],
        ),
        (
            json!({"paths": null, "methods": null, "hosts": null}),
            vec![entity_error(&[
                "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'",
            ])],
        ),
        (
            json!({"paths": ["nope"]}),
            vec![field_error(
                "paths[0]",
                &["should start with: / (fixed path) or ~/ (regex path)"],
            )],
        ),
    ] {
        let (status, error) = status_and_json(app.patch_json(&path, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
        assert_eq!(fetch(&app, &path).await, patched, "after {body}");
    }
    let (status, grpc) = status_and_json(
        app.patch_json(
            &path,
            &json!({"protocols": ["grpc"], "strip_path": false, "methods": null}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{grpc}");
    assert_eq!(grpc["protocols"], json!(["grpc"]));
    assert!(grpc.get("methods").is_none(), "{grpc}");

    let (status, replaced) = status_and_json(
        put_json(
            &app,
            &format!("{base}/routes/r"),
            &json!({"hosts": ["only.example"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        without_generated(&replaced),
        route_defaults(json!({"name": "r", "hosts": ["only.example"]})),
        "paths, tags and service are gone"
    );
    let (status, nested) = status_and_json(
        put_json(
            &app,
            &format!("{base}/services/svc/routes/nested"),
            &json!({"paths": ["/n"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{nested}");
    assert_eq!(
        without_generated(&nested),
        route_defaults(json!({"name": "nested", "paths": ["/n"], "service": {"id": service_id}}))
    );

    for target in [id, id, "nested", "nested", "never"] {
        assert_eq!(
            app.delete(&format!("{base}/routes/{target}"))
                .await
                .status(),
            204,
            "{target}"
        );
    }
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// Route names are unique per control plane; routes without a name never collide.
async fn a_taken_route_name_is_a_data_constraint_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let taken = create(
        &app,
        &format!("{base}/routes"),
        &json!({"name": "x", "paths": ["/"]}),
    )
    .await;
    let other = create(
        &app,
        &format!("{base}/routes"),
        &json!({"name": "y", "paths": ["/"]}),
    )
    .await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"name": "x", "hosts": ["h"]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "x")));
    let (status, error) = status_and_json(
        app.patch_json(&format!("{base}/routes/y"), &json!({"name": "x"}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "x")));
    assert_eq!(fetch(&app, &format!("{base}/routes/x")).await, taken);
    assert_eq!(fetch(&app, &format!("{base}/routes/y")).await, other);
    create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    assert_eq!(ids(&fetch(&app, &format!("{base}/routes")).await).len(), 4);
    app.shutdown().await;
}

/// Top-level and nested routes answer the same on the three URL families.
async fn routes_are_served_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "routes").await;
    let service_id = service(&app, &base, "svc").await;
    let [canonical, runtime_groups, legacy] = families(&cp);
    let route = create(
        &app,
        &format!("{runtime_groups}/services/svc/routes"),
        &json!({"name": "r", "paths": ["/"]}),
    )
    .await;
    assert_eq!(route["service"], json!({"id": service_id}));
    for family in [&canonical, &runtime_groups, &legacy] {
        assert_eq!(
            fetch(&app, &format!("{family}/routes/r")).await,
            route,
            "{family}"
        );
        assert_eq!(
            fetch(&app, &format!("{family}/services/{service_id}/routes/r")).await,
            route,
            "{family}"
        );
        let list = fetch(&app, &format!("{family}/services/svc/routes")).await;
        assert_eq!(
            list,
            json!({"data": [route], "next": null, "offset": null}),
            "{family}"
        );
        let (status, error) =
            status_and_json(app.post_json(&format!("{family}/routes"), &json!({})).await).await;
        assert_eq!(
            (status, error),
            (
                400,
                koko(
                    "validation error",
                    vec![entity_error(&[
                        "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"
                    ])]
                )
            ),
            "{family}"
        );
    }
    assert_eq!(
        app.delete(&format!("{legacy}/services/svc/routes/r"))
            .await
            .status(),
        204
    );
    no_routes(&app, &canonical).await;
    app.shutdown().await;
}
