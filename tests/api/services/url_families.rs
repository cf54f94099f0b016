//! Services per control plane, on each of the URL families (docs/api.md, decision 1).

use serde_json::json;

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, families, fetch, field_error, ids, koko, not_found, put_json,
    reference_error,
};
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    services_belong_to_their_control_plane,
    an_unknown_control_plane_is_404_on_every_url_family,
    every_url_family_serves_the_same_services,
);

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
            // By id, the read that finds no row then looks the control plane up.
            app.get(&format!("{family}/services/{missing}")).await,
            app.get(&format!("{family}/plugins/{missing}")).await,
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
