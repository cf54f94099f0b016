//! Consumer-group membership: the config spec's `add-consumer-to-group`,
//! `list-consumers-for-consumer-group`, `remove-consumer-from-group`,
//! `remove-all-consumers-from-consumer-group` and their `consumers/{id}/consumer_groups`
//! twins, the bodies Kong/sdk-konnect-go decodes (`AddConsumerToGroupResponseBody`:
//! `consumer_group`, `consumers`; `AddConsumerToSpecificConsumerGroupResponseBody`:
//! `consumer`, `consumer_groups`), Kong's 404/409 texts
//! (`kong/api/routes/consumer_groups.lua`), the cascade of Kong's
//! `consumer_group_consumers` schema, and the row Kong's declarative export writes.

use serde_json::{Value, json};

use crate::both_backends;
use crate::consumer_groups::wrapped;
use crate::harness::core_entities::{control_plane, create, families, fetch, ids};
use crate::harness::kong_hash::kong_config_hashes;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    consumers_join_and_leave_groups_from_either_side,
    membership_refusals_use_kongs_words,
    deleting_a_consumer_or_a_group_ends_its_memberships,
    memberships_reach_data_planes_as_kong_exports_them,
);

async fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn id(entity: &Value) -> String {
    entity["id"].as_str().unwrap().to_string()
}

/// Add by id or name from both sides, list with paging, `list_consumers`, remove one,
/// remove all; every family.
async fn consumers_join_and_leave_groups_from_either_side(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "members").await;
    let gold = create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "gold"}),
    )
    .await;
    let silver = create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "silver"}),
    )
    .await;
    let alice = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "alice"}),
    )
    .await;
    let bob = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "bob", "tags": ["vip"]}),
    )
    .await;
    let carol = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "carol"}),
    )
    .await;

    // By the consumer's id, then by username; Kong also takes a list.
    let added = create(
        &app,
        &format!("{base}/consumer_groups/gold/consumers"),
        &json!({"consumer": id(&alice)}),
    )
    .await;
    assert_eq!(added, json!({"consumer_group": gold, "consumers": [alice]}));
    let added = create(
        &app,
        &format!("{base}/consumer_groups/{}/consumers", id(&gold)),
        &json!({"consumer": ["bob", "carol"]}),
    )
    .await;
    assert_eq!(
        added,
        json!({"consumer_group": gold, "consumers": [bob, carol]})
    );
    // From the consumer's side, by group name.
    let joined = create(
        &app,
        &format!("{base}/consumers/alice/consumer_groups"),
        &json!({"group": "silver"}),
    )
    .await;
    assert_eq!(
        joined,
        json!({"consumer": alice, "consumer_groups": [silver]})
    );

    for family in families(&cp) {
        let list = fetch(&app, &format!("{family}/consumer_groups/gold/consumers")).await;
        assert_eq!(
            ids(&list),
            sorted(vec![id(&alice), id(&bob), id(&carol)]).await,
            "{family}"
        );
        assert_eq!(
            (&list["next"], &list["offset"]),
            (&Value::Null, &Value::Null)
        );
        let list = fetch(
            &app,
            &format!("{family}/consumer_groups/gold/consumers?tags=vip"),
        )
        .await;
        assert_eq!(list["data"], json!([bob]), "{family}");
        let list = fetch(&app, &format!("{family}/consumers/alice/consumer_groups")).await;
        assert_eq!(
            ids(&list),
            sorted(vec![id(&gold), id(&silver)]).await,
            "{family}"
        );
        let group = fetch(&app, &format!("{family}/consumer_groups/gold")).await;
        assert_eq!(group, wrapped(&gold), "no consumers unless asked");
        let group = fetch(
            &app,
            &format!("{family}/consumer_groups/gold?list_consumers=true"),
        )
        .await;
        assert_eq!(group["consumer_group"], gold);
        let mut members: Vec<String> = group["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        members.sort();
        assert_eq!(
            members,
            sorted(vec![id(&alice), id(&bob), id(&carol)]).await
        );
    }

    // Paging: one per page, `next` keeps the path and the other parameters.
    let first = fetch(
        &app,
        &format!("{base}/consumer_groups/gold/consumers?size=2"),
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().expect("a next page");
    assert!(
        next.starts_with(&format!("{base}/consumer_groups/gold/consumers?offset=")),
        "{next}"
    );
    let second = fetch(&app, next).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);

    // Remove one (by name, from either side), idempotently; the entities stay.
    for path in [
        format!("{base}/consumer_groups/gold/consumers/bob"),
        format!("{base}/consumers/{}/consumer_groups/gold", id(&bob)),
    ] {
        assert_eq!(app.delete(&path).await.status(), 204, "{path}");
    }
    let list = fetch(&app, &format!("{base}/consumer_groups/gold/consumers")).await;
    assert_eq!(ids(&list), sorted(vec![id(&alice), id(&carol)]).await);
    fetch(&app, &format!("{base}/consumers/bob")).await;

    // Remove all of a consumer's groups, then all of a group's consumers.
    let path = format!("{base}/consumers/alice/consumer_groups");
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_eq!(fetch(&app, &path).await["data"], json!([]));
    let list = fetch(&app, &format!("{base}/consumer_groups/gold/consumers")).await;
    assert_eq!(ids(&list), vec![id(&carol)]);
    let path = format!("{base}/consumer_groups/gold/consumers");
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_eq!(fetch(&app, &path).await["data"], json!([]));
    fetch(&app, &format!("{base}/consumer_groups/gold")).await;
    fetch(&app, &format!("{base}/consumers/carol")).await;
    app.shutdown().await;
}

/// A missing consumer or group is Kong's 404, a repeated membership Kong's 409 (nothing
/// written), a body without `consumer` / `group` Kong's 400; a bad `list_consumers` is a
/// 400 that says what it takes.
async fn membership_refusals_use_kongs_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "members").await;
    let gold = create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "gold"}),
    )
    .await;
    create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "alice"}),
    )
    .await;
    let members = format!("{base}/consumer_groups/gold/consumers");
    create(&app, &members, &json!({"consumer": "alice"})).await;

    let cases = [
        (
            &members,
            json!({"consumer": "nobody"}),
            404,
            "Consumer 'nobody' not found",
        ),
        (
            &members,
            json!({"consumer": "alice"}),
            409,
            &*format!("Consumer 'alice' already in group '{}'", id(&gold)),
        ),
        (&members, json!({}), 400, "must provide consumer"),
        (
            &format!("{base}/consumer_groups/none/consumers"),
            json!({"consumer": "alice"}),
            404,
            "Group 'none' not found",
        ),
        (
            &format!("{base}/consumers/alice/consumer_groups"),
            json!({"group": "gold"}),
            409,
            "Consumer 'alice' already in group 'gold'",
        ),
        (
            &format!("{base}/consumers/alice/consumer_groups"),
            json!({"group": "none"}),
            404,
            "Group 'none' not found",
        ),
        (
            &format!("{base}/consumers/alice/consumer_groups"),
            json!({"groups": "gold"}),
            400,
            "must provide group",
        ),
    ];
    for (path, body, status, message) in cases {
        let (got, error) = status_and_json(app.post_json(path, &body).await).await;
        assert_eq!(got, status, "{path} {body}: {error}");
        assert_eq!(error["message"], message, "{path} {body}");
        assert!(error.get("code").is_some(), "Koko's envelope: {error}");
    }
    assert_eq!(
        fetch(&app, &members).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for path in [
        format!("{base}/consumer_groups/none/consumers"),
        format!("{base}/consumers/nobody/consumer_groups"),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
        assert_eq!(app.delete(&path).await.status(), 404, "{path}");
    }
    assert_eq!(app.delete(&format!("{members}/nobody")).await.status(), 404);
    let (status, error) = status_and_json(
        app.get(&format!("{base}/consumer_groups/gold?list_consumers=yes"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["details"][0]["field"], "list_consumers", "{error}");
    app.shutdown().await;
}

/// Kong's `consumer_group_consumers` cascades from both references: deleting a consumer
/// or a group removes its memberships and nothing else.
async fn deleting_a_consumer_or_a_group_ends_its_memberships(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "members").await;
    for name in ["gold", "silver"] {
        create(
            &app,
            &format!("{base}/consumer_groups"),
            &json!({ "name": name }),
        )
        .await;
    }
    for name in ["alice", "bob"] {
        create(
            &app,
            &format!("{base}/consumers"),
            &json!({ "username": name }),
        )
        .await;
        create(
            &app,
            &format!("{base}/consumers/{name}/consumer_groups"),
            &json!({"group": ["gold", "silver"]}),
        )
        .await;
    }
    assert_eq!(
        app.delete(&format!("{base}/consumers/alice"))
            .await
            .status(),
        204
    );
    let list = fetch(&app, &format!("{base}/consumer_groups/silver/consumers")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["username"], "bob");
    assert_eq!(
        app.delete(&format!("{base}/consumer_groups/gold"))
            .await
            .status(),
        204
    );
    let list = fetch(&app, &format!("{base}/consumers/bob/consumer_groups")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["name"], "silver");
    let cp = uuid::Uuid::parse_str(&cp).unwrap();
    let all = app.store().all_entities_by_kind(cp).await.unwrap();
    assert_eq!(all["consumer_group_consumers"].len(), 1, "{all:?}");
    app.shutdown().await;
}

/// A membership reaches data planes as Kong's `export_config` writes a
/// `consumer_group_consumers` row (`kong/db/declarative/export.lua`: the schema's fields,
/// foreign keys as plain ids), and it changes the config hash, which is Kong's
/// (`kong/clustering/config_helper.lua`, recomputed independently here).
async fn memberships_reach_data_planes_as_kong_exports_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "members").await;
    let gold = create(
        &app,
        &format!("{base}/consumer_groups"),
        &json!({"name": "gold"}),
    )
    .await;
    let alice = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "alice"}),
    )
    .await;
    let hash_path = format!("/v2/control-planes/{cp}/expected-config-hash");
    let before = fetch(&app, &hash_path).await["expected_hash"].clone();
    create(
        &app,
        &format!("{base}/consumer_groups/gold/consumers"),
        &json!({"consumer": "alice"}),
    )
    .await;
    let cp_id = uuid::Uuid::parse_str(&cp).unwrap();
    let table = konnektd::cluster::export::export_config(app.store(), cp_id)
        .await
        .unwrap();
    let rows = table["consumer_group_consumers"]
        .as_array()
        .expect("exported");
    assert_eq!(rows.len(), 1);
    let row = rows[0].as_object().unwrap();
    let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["consumer", "consumer_group", "created_at", "updated_at"]
    );
    assert_eq!(row["consumer"], alice["id"]);
    assert_eq!(row["consumer_group"], gold["id"]);
    assert!(row["created_at"].as_i64().unwrap() > 0);
    let after = fetch(&app, &hash_path).await["expected_hash"].clone();
    assert_ne!(after, before);
    assert_eq!(after, kong_config_hashes(&table)["config"], "{table}");

    assert_eq!(
        app.delete(&format!("{base}/consumers/alice"))
            .await
            .status(),
        204
    );
    let table = konnektd::cluster::export::export_config(app.store(), cp_id)
        .await
        .unwrap();
    assert!(table.get("consumer_group_consumers").is_none(), "{table}");
    app.shutdown().await;
}
