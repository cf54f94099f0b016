//! Upstreams and their targets (Kong 3.10's `upstreams` and `targets`, Kong's targets
//! DAO; Konnect's `upstreams/{id}/targets` and top-level `targets` paths).

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    unique_violation, without_generated,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    an_upstream_gets_kongs_defaults_and_healthchecks,
    upstream_names_and_hashing_follow_kongs_rules,
    targets_are_stored_as_kong_formats_them_one_per_upstream,
    targets_live_under_their_upstream_and_go_with_it,
    upstreams_and_targets_are_served_on_every_url_family,
    konnects_post_3_10_balancing_fields_are_kong_3_10s_unknown_fields,
);

/// Kong 3.10's healthchecks defaults (`kong/db/schema/entities/upstreams.lua`
/// `healthchecks_config`), which the official spec's `Upstream.healthchecks.default`
/// repeats.
fn default_healthchecks() -> Value {
    json!({
        // Fields without a default are unset, and unset fields are left out of answers,
        // nested ones too (docs/api.md, decision 6).
        "active": {
            "concurrency": 10,
            "healthy": {"http_statuses": [200, 302], "interval": 0, "successes": 0},
            "http_path": "/",
            "https_verify_certificate": true,
            "timeout": 1,
            "type": "http",
            "unhealthy": {
                "http_failures": 0,
                "http_statuses": [429, 404, 500, 501, 502, 503, 504, 505],
                "interval": 0,
                "tcp_failures": 0,
                "timeouts": 0,
            },
        },
        "passive": {
            "healthy": {
                "http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                  300, 301, 302, 303, 304, 305, 306, 307, 308],
                "successes": 0,
            },
            "type": "http",
            "unhealthy": {
                "http_failures": 0,
                "http_statuses": [429, 500, 503],
                "tcp_failures": 0,
                "timeouts": 0,
            },
        },
        "threshold": 0,
    })
}

async fn an_upstream_gets_kongs_defaults_and_healthchecks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "lb").await;
    let created = create(
        &app,
        &format!("{base}/upstreams"),
        &json!({"name": "api.internal"}),
    )
    .await;
    assert_eq!(
        without_generated(&created),
        json!({
            "name": "api.internal",
            "algorithm": "round-robin",
            "hash_on": "none",
            "hash_fallback": "none",
            "hash_on_cookie_path": "/",
            "slots": 10000,
            "healthchecks": default_healthchecks(),
            "use_srv_name": false,
        })
    );
    assert_eq!(
        fetch(&app, &format!("{base}/upstreams/api.internal")).await,
        created
    );
    // One field of a nested record changed, the rest of the defaults kept.
    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/upstreams/api.internal"),
            &json!({"healthchecks": {"active": {"healthy": {"interval": 5}}}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["healthchecks"]["active"]["healthy"]["interval"], 5);
    assert_eq!(
        patched["healthchecks"]["active"]["healthy"]["http_statuses"],
        json!([200, 302])
    );
    assert_eq!(
        patched["healthchecks"]["passive"],
        default_healthchecks()["passive"]
    );
    app.shutdown().await;
}

async fn post_error(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    status_and_json(app.post_json(path, &body).await).await
}

async fn upstream_names_and_hashing_follow_kongs_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "lb").await;
    let upstreams = format!("{base}/upstreams");
    // Kong's `validate_name` texts.
    for (name, message) in [
        (
            "10.0.0.1",
            "Invalid name ('10.0.0.1'); no ip addresses allowed",
        ),
        (
            "api.internal:80",
            "Invalid name ('api.internal:80'); no port allowed",
        ),
        (
            "bad name",
            "Invalid name ('bad name'); must be a valid hostname",
        ),
    ] {
        assert_eq!(
            post_error(&app, &upstreams, json!({"name": name})).await,
            (
                400,
                koko("validation error", vec![field_error("name", &[message])])
            ),
            "{name}"
        );
    }
    assert_eq!(
        post_error(&app, &upstreams, json!({})).await,
        (
            400,
            koko(
                "validation error",
                vec![field_error("name", &["required field missing"])]
            )
        )
    );
    // hash_on = header needs hash_on_header (Kong's conditional entity check).
    let (status, error) =
        post_error(&app, &upstreams, json!({"name": "h", "hash_on": "header"})).await;
    assert_eq!(status, 400);
    assert!(
        error["details"]
            .as_array()
            .unwrap()
            .contains(&field_error("hash_on_header", &["required field missing"])),
        "{error}"
    );
    // hash_fallback must stay none when hash_on is none.
    let (status, error) = post_error(
        &app,
        &upstreams,
        json!({"name": "h", "hash_fallback": "ip"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["details"]
            .as_array()
            .unwrap()
            .contains(&entity_error(&[
                "failed conditional validation given value of field 'hash_on'"
            ])),
        "{error}"
    );
    // Weight and slots bounds; unknown algorithm.
    let (status, error) = post_error(
        &app,
        &upstreams,
        json!({"name": "h", "slots": 5, "algorithm": "sticky"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["details"].as_array().unwrap().len(), 2, "{error}");
    let fine = create(
        &app,
        &upstreams,
        &json!({"name": "h", "hash_on": "header", "hash_on_header": "X-User", "hash_fallback": "ip"}),
    )
    .await;
    assert_eq!(fine["hash_fallback"], "ip");
    // Names are unique in a control plane.
    assert_eq!(
        post_error(&app, &upstreams, json!({"name": "h"})).await,
        (400, unique_violation("name", "h"))
    );
    app.shutdown().await;
}

async fn targets_are_stored_as_kong_formats_them_one_per_upstream(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "lb").await;
    let up = create(&app, &format!("{base}/upstreams"), &json!({"name": "a"})).await;
    let up_id = up["id"].as_str().unwrap();
    let targets = format!("{base}/upstreams/{up_id}/targets");
    // Kong's targets DAO: host:port, port 8000 by default; IPv6 expanded in brackets.
    for (given, stored) in [
        ("10.0.0.1", "10.0.0.1:8000"),
        ("backend.internal:8443", "backend.internal:8443"),
        ("::1", "[0000:0000:0000:0000:0000:0000:0000:0001]:8000"),
    ] {
        let target = create(&app, &targets, &json!({"target": given})).await;
        assert_eq!(target["target"], stored);
        assert_eq!(target["weight"], 100);
        assert_eq!(target["upstream"], json!({"id": up_id}));
        assert!(target["created_at"].is_number());
    }
    // The same address, written either way, is taken in this upstream.
    let (status, error) = post_error(&app, &targets, json!({"target": "10.0.0.1:8000"})).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["message"], "data constraint error");
    // Kong's address and weight rules.
    assert_eq!(
        post_error(
            &app,
            &targets,
            json!({"target": "not a host", "weight": 65536})
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![
                    field_error(
                        "target",
                        &["Invalid target ('not a host'); not a valid hostname or ip address"]
                    ),
                    field_error("weight", &["value should be between 0 and 65535"]),
                ]
            )
        )
    );
    let zero = create(&app, &targets, &json!({"target": "10.0.0.2", "weight": 0})).await;
    assert_eq!(zero["weight"], 0);
    // Another upstream may have the same address.
    let other = create(&app, &format!("{base}/upstreams"), &json!({"name": "b"})).await;
    let other_targets = format!("{base}/upstreams/{}/targets", other["id"].as_str().unwrap());
    create(&app, &other_targets, &json!({"target": "10.0.0.1"})).await;
    app.shutdown().await;
}

async fn targets_live_under_their_upstream_and_go_with_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "lb").await;
    let a = create(&app, &format!("{base}/upstreams"), &json!({"name": "a"})).await;
    let b = create(&app, &format!("{base}/upstreams"), &json!({"name": "b"})).await;
    let in_a = create(
        &app,
        &format!("{base}/upstreams/a/targets"),
        &json!({"target": "10.0.0.1"}),
    )
    .await;
    let in_b = create(
        &app,
        &format!("{base}/upstreams/b/targets"),
        &json!({"target": "10.0.0.2"}),
    )
    .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let t_a = in_a["id"].as_str().unwrap();

    // The nested list holds its upstream's targets; the top-level list, all of them.
    assert_eq!(
        ids(&fetch(&app, &format!("{base}/upstreams/{a_id}/targets")).await),
        [t_a]
    );
    let mut all = vec![t_a.to_string(), in_b["id"].as_str().unwrap().to_string()];
    all.sort();
    assert_eq!(ids(&fetch(&app, &format!("{base}/targets")).await), all);
    // A target is found only under its own upstream.
    assert_eq!(
        fetch(&app, &format!("{base}/upstreams/{a_id}/targets/{t_a}")).await,
        in_a
    );
    let (status, body) = status_and_json(
        app.get(&format!("{base}/upstreams/{b_id}/targets/{t_a}"))
            .await,
    )
    .await;
    assert_eq!((status, body), (404, not_found()));
    // PUT replaces, keeping the upstream of the path.
    let (status, put) = status_and_json(
        crate::harness::core_entities::put_json(
            &app,
            &format!("{base}/upstreams/{a_id}/targets/{t_a}"),
            &json!({"target": "10.0.0.9", "weight": 5}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(
        (put["target"].clone(), put["weight"].clone()),
        (json!("10.0.0.9:8000"), json!(5))
    );
    assert_eq!(put["upstream"], json!({"id": a_id}));
    // A target of a missing upstream is a 404.
    let (status, _) = post_error(
        &app,
        &format!("{base}/upstreams/nope/targets"),
        json!({"target": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    // Deleting the upstream deletes its targets (Kong's `on_delete = "cascade"`).
    let status = app
        .delete(&format!("{base}/upstreams/{a_id}"))
        .await
        .status();
    assert_eq!(status, 204);
    assert_eq!(
        ids(&fetch(&app, &format!("{base}/targets")).await),
        [in_b["id"].as_str().unwrap()]
    );
    app.shutdown().await;
}

async fn upstreams_and_targets_are_served_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, _) = control_plane(&app, "lb").await;
    for (i, family) in families(&cp).iter().enumerate() {
        let name = format!("u{i}");
        let up = create(&app, &format!("{family}/upstreams"), &json!({"name": name})).await;
        let target = create(
            &app,
            &format!("{family}/upstreams/{name}/targets"),
            &json!({"target": "10.1.1.1"}),
        )
        .await;
        assert_eq!(target["upstream"]["id"], up["id"]);
        let listed = fetch(&app, &format!("{family}/targets")).await;
        assert_eq!(listed["data"].as_array().unwrap().len(), i + 1);
    }
    app.shutdown().await;
}

/// Konnect's spec (v3.15.0) has fields Kong 3.10 lacks: the upstream's
/// `sticky_sessions_cookie` and `sticky_sessions_cookie_path` and algorithm
/// `sticky-sessions`, the target's `failover` (Kong 3.11+). konnektd validates with Kong
/// 3.10's schemas (`kong/db/schema/entities/upstreams.lua`, `targets.lua`), so they get
/// 3.10's answers: `unknown field`, and the algorithm's `one_of`.
async fn konnects_post_3_10_balancing_fields_are_kong_3_10s_unknown_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "lb").await;
    let upstreams = format!("{base}/upstreams");
    assert_eq!(
        post_error(
            &app,
            &upstreams,
            json!({"name": "sticky", "sticky_sessions_cookie": "lb",
                   "sticky_sessions_cookie_path": "/"}),
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![
                    field_error("sticky_sessions_cookie", &["unknown field"]),
                    field_error("sticky_sessions_cookie_path", &["unknown field"]),
                ]
            )
        )
    );
    assert_eq!(
        post_error(
            &app,
            &upstreams,
            json!({"name": "sticky", "algorithm": "sticky-sessions"}),
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![field_error(
                    "algorithm",
                    &[
                        "expected one of: consistent-hashing, least-connections, round-robin, latency"
                    ]
                )]
            )
        )
    );
    let upstream = create(&app, &upstreams, &json!({"name": "plain"})).await;
    let targets = format!("{upstreams}/{}/targets", upstream["id"].as_str().unwrap());
    assert_eq!(
        post_error(
            &app,
            &targets,
            json!({"target": "10.0.0.1:80", "failover": true}),
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![field_error("failover", &["unknown field"])]
            )
        )
    );
    app.shutdown().await;
}
