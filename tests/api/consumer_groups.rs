//! Consumer groups (Kong Enterprise 3.10's `consumer_groups`, which Konnect exposes):
//! a required, unique `name` and tags.

use serde_json::json;

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, families, fetch, field_error, ids, koko, not_found, put_json,
    unique_violation, without_generated,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_consumer_group_needs_a_name,
    consumer_groups_are_created_read_replaced_patched_and_deleted,
    a_taken_name_is_a_data_constraint_error,
    consumer_groups_are_served_on_every_url_family,
);

/// One consumer group as `get-consumer_group` answers it: Konnect's
/// `ConsumerGroupInsideWrapper` (the config spec; Kong/sdk-konnect-go
/// `models/components/consumergroupinsidewrapper.go`, which decodes `consumer_group`
/// only).
pub fn wrapped(group: &serde_json::Value) -> serde_json::Value {
    json!({ "consumer_group": group })
}

async fn no_groups(app: &TestApp, base: &str) {
    let list = fetch(app, &format!("{base}/consumer_groups")).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
}

/// `name` is required and a non-empty string; unknown fields are refused; nothing is
/// stored.
async fn a_consumer_group_needs_a_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "groups").await;
    for (body, details) in [
        (
            json!({}),
            vec![field_error("name", &["required field missing"])],
        ),
        (
            json!({"name": null, "tags": ["t"]}),
            vec![field_error("name", &["required field missing"])],
        ),
        (
            json!({"name": ""}),
            vec![field_error("name", &["length must be at least 1"])],
        ),
        (
            json!({"name": 5}),
            vec![field_error("name", &["expected a string"])],
        ),
        (
            json!({"name": "g", "plugins": []}),
            vec![field_error("plugins", &["unknown field"])],
        ),
    ] {
        let (status, error) = status_and_json(
            app.post_json(&format!("{base}/consumer_groups"), &body)
                .await,
        )
        .await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
    }
    no_groups(&app, &base).await;
    app.shutdown().await;
}

/// POST 201, GET by id or name, PUT by id or name (200, replacing), PATCH merging,
/// DELETE 204 and idempotent.
async fn consumer_groups_are_created_read_replaced_patched_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "groups").await;
    let groups = format!("{base}/consumer_groups");
    let created = create(&app, &groups, &json!({"name": "gold", "tags": ["tier"]})).await;
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        without_generated(&created),
        json!({"name": "gold", "tags": ["tier"]})
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        fetch(&app, &format!("{groups}/{id}")).await,
        wrapped(&created)
    );
    assert_eq!(
        fetch(&app, &format!("{groups}/gold")).await,
        wrapped(&created)
    );

    let (status, patched) = status_and_json(
        app.patch_json(&format!("{groups}/gold"), &json!({"tags": ["a", "b"]}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = created.clone();
    expected["tags"] = json!(["a", "b"]);
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);

    let (status, renamed) = status_and_json(
        app.patch_json(&format!("{groups}/{id}"), &json!({"name": "platinum"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "platinum");
    assert_eq!(renamed["tags"], json!(["a", "b"]));
    let (status, body) = status_and_json(app.get(&format!("{groups}/gold")).await).await;
    assert_eq!((status, body), (404, not_found()));

    let (status, replaced) =
        status_and_json(put_json(&app, &format!("{groups}/platinum"), &json!({})).await).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        without_generated(&replaced),
        json!({"name": "platinum"}),
        "the path's name is set; tags are gone"
    );
    let (status, fresh) =
        status_and_json(put_json(&app, &format!("{groups}/silver"), &json!({"tags": ["s"]})).await)
            .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        without_generated(&fresh),
        json!({"name": "silver", "tags": ["s"]})
    );
    let uuid = "0b5f3a3c-2a3e-4e8c-9a53-2b61a1a1c0de";
    let (status, by_id) = status_and_json(
        put_json(
            &app,
            &format!("{groups}/{uuid}"),
            &json!({"name": "bronze"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id["id"], uuid);
    assert_eq!(without_generated(&by_id), json!({"name": "bronze"}));

    let (status, error) =
        status_and_json(put_json(&app, &format!("{groups}/{uuid}"), &json!({})).await).await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "validation error",
                vec![field_error("name", &["required field missing"])]
            )
        ),
        "a PUT by id must carry the name"
    );
    assert_eq!(
        fetch(&app, &format!("{groups}/{uuid}")).await,
        wrapped(&by_id)
    );

    let mut all = vec![
        id.to_string(),
        fresh["id"].as_str().unwrap().to_string(),
        uuid.to_string(),
    ];
    all.sort();
    assert_eq!(ids(&fetch(&app, &groups).await), all);
    for target in ["platinum", "platinum", "silver", uuid, uuid, "never"] {
        assert_eq!(
            app.delete(&format!("{groups}/{target}")).await.status(),
            204,
            "{target}"
        );
    }
    no_groups(&app, &base).await;
    app.shutdown().await;
}

/// Names are unique per control plane (400 data constraint error on POST, PUT and
/// PATCH, nothing changed) but free across control planes.
async fn a_taken_name_is_a_data_constraint_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "groups").await;
    let (_, other) = control_plane(&app, "other").await;
    let groups = format!("{base}/consumer_groups");
    let gold = create(&app, &groups, &json!({"name": "gold"})).await;
    let silver = create(&app, &groups, &json!({"name": "silver"})).await;
    let expected = (400, unique_violation("name", "gold"));

    let response = app.post_json(&groups, &json!({"name": "gold"})).await;
    assert_eq!(status_and_json(response).await, expected, "POST");
    let response = app
        .patch_json(&format!("{groups}/silver"), &json!({"name": "gold"}))
        .await;
    assert_eq!(status_and_json(response).await, expected, "PATCH");
    let response = put_json(
        &app,
        &format!("{groups}/{}", silver["id"].as_str().unwrap()),
        &json!({"name": "gold"}),
    )
    .await;
    assert_eq!(status_and_json(response).await, expected, "PUT");
    assert_eq!(fetch(&app, &format!("{groups}/gold")).await, wrapped(&gold));
    assert_eq!(
        fetch(&app, &format!("{groups}/silver")).await,
        wrapped(&silver)
    );
    assert_eq!(ids(&fetch(&app, &groups).await).len(), 2);

    create(
        &app,
        &format!("{other}/consumer_groups"),
        &json!({"name": "gold"}),
    )
    .await;
    app.shutdown().await;
}

/// The three URL families serve the same consumer groups, with `filter[name]` and tags.
async fn consumer_groups_are_served_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "groups").await;
    let gold = create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "gold", "tags": ["paid"]}),
    )
    .await;
    create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "free"}),
    )
    .await;
    for family in families(&cp) {
        assert_eq!(
            fetch(&app, &format!("{family}/consumer_groups/gold")).await,
            wrapped(&gold)
        );
        let list = fetch(&app, &format!("{family}/consumer_groups?tags=paid")).await;
        assert_eq!(
            list,
            json!({"data": [gold], "next": null, "offset": null}),
            "{family}"
        );
        let list = fetch(
            &app,
            &format!("{family}/consumer_groups?filter[name][eq]=gold"),
        )
        .await;
        assert_eq!(list["data"], json!([gold]), "{family}");
        let list = fetch(
            &app,
            &format!("{family}/consumer_groups?filter[name][contains]=re"),
        )
        .await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{family}: free");
    }
    app.shutdown().await;
}
