//! Finding a service by id or name, and deleting it (unless routes still use it).

use serde_json::json;

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, fetch, ids, koko, not_found, reference_error,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_service_is_found_by_id_or_by_name_and_a_uuid_is_only_ever_an_id,
    delete_answers_204_whether_or_not_the_service_existed,
    a_service_with_routes_cannot_be_deleted,
);

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
