//! Consumers, looked up by id or username, with Kong 3.10's rules
//! (kong/db/schema/entities/consumers.lua, src/lua/entities/NOTES.md §3, §6).

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    put_json, unique_violation, without_generated,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_consumer_needs_a_username_or_a_custom_id,
    a_consumer_is_found_by_id_or_username_but_not_by_custom_id,
    usernames_and_custom_ids_are_unique_and_nulls_never_collide,
    put_by_username_creates_or_replaces_and_sets_the_username,
    patch_merges_and_delete_answers_204_whether_or_not_it_existed,
    consumers_are_listed_and_filtered_on_every_url_family,
);

const AT_LEAST_ONE: &str =
    "at least one of these fields must be non-empty: 'custom_id', 'username'";

async fn no_consumers(app: &TestApp, base: &str) {
    let list = fetch(app, &format!("{base}/consumers")).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
}

/// Kong's `at_least_one_of` check on `custom_id, username`, in Kong's order; an empty
/// string is no value (strings need one character); nothing is stored.
async fn a_consumer_needs_a_username_or_a_custom_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "consumers").await;
    let consumers = format!("{base}/consumers");
    for (body, details) in [
        (json!({}), vec![entity_error(&[AT_LEAST_ONE])]),
        (
            json!({"username": null, "custom_id": null, "tags": ["t"]}),
            vec![entity_error(&[AT_LEAST_ONE])],
        ),
        (
            json!({"username": ""}),
            vec![
                entity_error(&[AT_LEAST_ONE]),
                field_error("username", &["length must be at least 1"]),
            ],
        ),
        (
            json!({"username": 5, "custom_id": true}),
            vec![
                field_error("custom_id", &["expected a string"]),
                field_error("username", &["expected a string"]),
            ],
        ),
        (
            json!({"username": "u", "tags": ["bad,tag"], "name": "x"}),
            vec![
                field_error("name", &["unknown field"]),
                field_error(
                    "tags[0]",
                    &[
                        "invalid tag 'bad,tag': expected printable ascii (except `,` and `/`) or valid utf-8 sequences",
                    ],
                ),
            ],
        ),
    ] {
        let (status, error) = status_and_json(app.post_json(&consumers, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
    }
    no_consumers(&app, &base).await;

    let by_username = create(&app, &consumers, &json!({"username": "alice"})).await;
    assert_eq!(
        without_generated(&by_username),
        json!({"username": "alice"})
    );
    let by_custom_id = create(
        &app,
        &consumers,
        &json!({"custom_id": "ext-1", "tags": ["t"]}),
    )
    .await;
    assert_eq!(
        without_generated(&by_custom_id),
        json!({"custom_id": "ext-1", "tags": ["t"]})
    );
    let both = create(
        &app,
        &consumers,
        &json!({"username": "bob", "custom_id": "ext-2"}),
    )
    .await;
    assert_eq!(
        without_generated(&both),
        json!({"username": "bob", "custom_id": "ext-2"})
    );
    assert_eq!(both["created_at"], both["updated_at"]);
    app.shutdown().await;
}

/// The path segment is an id if it is a UUID, else a username (Kong's `endpoint_key`);
/// a custom_id is not a lookup key.
async fn a_consumer_is_found_by_id_or_username_but_not_by_custom_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "consumers").await;
    let consumer = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "carol@example.com", "custom_id": "c-1"}),
    )
    .await;
    let id = consumer["id"].as_str().unwrap();
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/{id}")).await,
        consumer
    );
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/carol@example.com")).await,
        consumer
    );
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/carol%40example.com")).await,
        consumer,
        "the segment is URL-unescaped"
    );
    for missing in ["c-1", "dave", "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"] {
        let (status, body) =
            status_and_json(app.get(&format!("{base}/consumers/{missing}")).await).await;
        assert_eq!((status, body), (404, not_found()), "{missing}");
    }
    app.shutdown().await;
}

/// Two consumers cannot share a username or a custom_id (400 data constraint error,
/// on create, PUT and PATCH); consumers without one of them never collide on it.
async fn usernames_and_custom_ids_are_unique_and_nulls_never_collide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "consumers").await;
    let consumers = format!("{base}/consumers");
    let first = create(
        &app,
        &consumers,
        &json!({"username": "u", "custom_id": "c"}),
    )
    .await;
    let second = create(&app, &consumers, &json!({"username": "v"})).await;

    let (status, error) =
        status_and_json(app.post_json(&consumers, &json!({"username": "u"})).await).await;
    assert_eq!((status, error), (400, unique_violation("username", "u")));
    let (status, error) = status_and_json(
        app.post_json(&consumers, &json!({"username": "w", "custom_id": "c"}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("custom_id", "c")));
    let (status, error) = status_and_json(
        app.patch_json(&format!("{consumers}/v"), &json!({"custom_id": "c"}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("custom_id", "c")));
    let (status, error) = status_and_json(
        put_json(
            &app,
            &format!("{consumers}/{}", second["id"].as_str().unwrap()),
            &json!({"username": "u"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("username", "u")));

    assert_eq!(fetch(&app, &format!("{consumers}/u")).await, first);
    assert_eq!(fetch(&app, &format!("{consumers}/v")).await, second);
    // Several consumers without custom_id, and several without username.
    create(&app, &consumers, &json!({"username": "x"})).await;
    create(&app, &consumers, &json!({"custom_id": "only-1"})).await;
    create(&app, &consumers, &json!({"custom_id": "only-2"})).await;
    assert_eq!(ids(&fetch(&app, &consumers).await).len(), 5);
    // A username may equal another consumer's custom_id: the keys are separate.
    create(&app, &consumers, &json!({"username": "c"})).await;

    // Values over 256 bytes are indexed by digest: still unique, still found, and two
    // that share their first 256 bytes stay apart. So are long tags.
    let long = "a".repeat(300);
    let near = format!("{}b", "a".repeat(299));
    let tag = "t".repeat(300);
    let long_one = create(
        &app,
        &consumers,
        &json!({"username": long, "custom_id": long, "tags": [tag]}),
    )
    .await;
    create(
        &app,
        &consumers,
        &json!({"username": near, "custom_id": near}),
    )
    .await;
    let (status, error) = status_and_json(
        app.post_json(&consumers, &json!({"username": "y", "custom_id": long}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("custom_id", &long)));
    assert_eq!(fetch(&app, &format!("{consumers}/{long}")).await, long_one);
    let tagged = fetch(&app, &format!("{consumers}?tags={tag}")).await;
    assert_eq!(ids(&tagged), [long_one["id"].as_str().unwrap()]);
    app.shutdown().await;
}

/// PUT with a username creates the consumer with that username, or replaces the one
/// that has it (same id and created_at, unlisted fields dropped); PUT with a UUID
/// upserts that id.
async fn put_by_username_creates_or_replaces_and_sets_the_username(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "consumers").await;
    let (status, created) = status_and_json(
        put_json(
            &app,
            &format!("{base}/consumers/erin"),
            &json!({"custom_id": "e-1", "tags": ["a"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        without_generated(&created),
        json!({"username": "erin", "custom_id": "e-1", "tags": ["a"]})
    );
    let (status, replaced) = status_and_json(
        put_json(
            &app,
            &format!("{base}/consumers/erin"),
            &json!({"username": "ignored", "custom_id": "e-2"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], created["id"]);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        without_generated(&replaced),
        json!({"username": "erin", "custom_id": "e-2"}),
        "the path's username wins; tags are gone"
    );
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/erin")).await,
        replaced
    );

    let id = "0b5f3a3c-2a3e-4e8c-9a53-2b61a1a1c0de";
    let (status, by_id) = status_and_json(
        put_json(
            &app,
            &format!("{base}/consumers/{id}"),
            &json!({"custom_id": "f"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id["id"], id);
    assert_eq!(without_generated(&by_id), json!({"custom_id": "f"}));

    let (status, error) =
        status_and_json(put_json(&app, &format!("{base}/consumers/{id}"), &json!({})).await).await;
    assert_eq!(
        (status, error),
        (
            400,
            koko("validation error", vec![entity_error(&[AT_LEAST_ONE])])
        )
    );
    assert_eq!(fetch(&app, &format!("{base}/consumers/{id}")).await, by_id);
    assert_eq!(
        ids(&fetch(&app, &format!("{base}/consumers")).await).len(),
        2
    );
    app.shutdown().await;
}

/// PATCH changes the given fields; clearing the last identifying field fails the
/// entity check and changes nothing; renaming moves the username lookup; DELETE by id
/// or username is 204, also when repeated.
async fn patch_merges_and_delete_answers_204_whether_or_not_it_existed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "consumers").await;
    let created = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "frank", "tags": ["t"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/consumers/frank"),
            &json!({"custom_id": "f-1"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = created.clone();
    expected["custom_id"] = json!("f-1");
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);

    let (status, error) = status_and_json(
        app.patch_json(
            &format!("{base}/consumers/{id}"),
            &json!({"username": null, "custom_id": null}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko("validation error", vec![entity_error(&[AT_LEAST_ONE])])
        )
    );
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/{id}")).await,
        patched
    );

    let (status, renamed) = status_and_json(
        app.patch_json(
            &format!("{base}/consumers/{id}"),
            &json!({"username": "franz"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/franz")).await,
        renamed
    );
    let (status, body) = status_and_json(app.get(&format!("{base}/consumers/frank")).await).await;
    assert_eq!((status, body), (404, not_found()));
    // The old username is free again.
    create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "frank"}),
    )
    .await;

    for target in ["franz", "franz", id, "frank", "nobody"] {
        let response = app.delete(&format!("{base}/consumers/{target}")).await;
        assert_eq!(response.status(), 204, "{target}");
    }
    no_consumers(&app, &base).await;
    app.shutdown().await;
}

/// Consumers list with paging and tags, and answer the same on the three URL families.
async fn consumers_are_listed_and_filtered_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "consumers").await;
    let mut all = Vec::new();
    for (name, tags) in [
        ("a", json!(["x"])),
        ("b", json!(["x", "y"])),
        ("c", json!(["y"])),
    ] {
        let c = create(
            &app,
            &format!("{base}/consumers"),
            &json!({"username": name, "tags": tags}),
        )
        .await;
        all.push(c);
    }
    let mut sorted: Vec<String> = all
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    sorted.sort();
    let by_id = |id: &str| -> Value { all.iter().find(|c| c["id"] == id).unwrap().clone() };
    for family in families(&cp) {
        let page = fetch(&app, &format!("{family}/consumers?size=2")).await;
        assert_eq!(
            page["data"],
            json!([by_id(&sorted[0]), by_id(&sorted[1])]),
            "{family}"
        );
        let rest = fetch(&app, page["next"].as_str().unwrap()).await;
        assert_eq!(
            rest,
            json!({"data": [by_id(&sorted[2])], "next": null, "offset": null})
        );
        let both = fetch(&app, &format!("{family}/consumers?tags=x,y")).await;
        assert_eq!(both["data"], json!([all[1]]), "{family}");
        let either = fetch(&app, &format!("{family}/consumers?tags=x/y")).await;
        assert_eq!(ids(&either), sorted, "{family}");
        assert_eq!(fetch(&app, &format!("{family}/consumers/b")).await, all[1]);
    }
    app.shutdown().await;
}
