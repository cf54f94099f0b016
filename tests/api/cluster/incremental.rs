//! The incremental export seen from a data plane: after random creates, updates and
//! deletes across kinds over HTTP (deleting a route or a service takes its plugins with
//! it, a consumer its credentials and plugins), the config the data plane receives is
//! exactly the full export's table (`export_config`), with Kong's hashes of it
//! (recomputed by the harness's own Kong hash); restarted, the server sends the same.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, check_reconfigure, fixture, node_id, start_on};
use crate::harness::data_plane::{Dp, WAIT, open, outlet};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(random_writes_reach_data_planes_as_the_full_export);

/// Reads configs until one carries the full export's table; checks it whole.
async fn assert_synced(app: &TestApp, dp: &mut Dp, cp: uuid::Uuid, step: usize) -> Value {
    let table = konnektd::cluster::export::export_config(app.store(), cp)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "step {step}: no config with the full export's table"
        );
        let message = dp.config(left).await;
        if message["config_table"] == table {
            check_reconfigure(&message);
            return message;
        }
    }
}

async fn random_writes_reach_data_planes_as_the_full_export(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let cp = uuid::Uuid::parse_str(&f.cp).unwrap();
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.first_config(DP_PLUGINS).await;
    let mut rng = StdRng::seed_from_u64(19);
    let mut services: Vec<String> = vec![f.service["id"].as_str().unwrap().to_string()];
    let mut routes: Vec<String> = vec![f.route["id"].as_str().unwrap().to_string()];
    let mut consumers: Vec<String> = Vec::new();
    let base = f.base.clone();
    let mut changed = 0;
    for step in 0..40 {
        let service = services.choose(&mut rng).cloned();
        let route = routes.choose(&mut rng).cloned();
        let consumer = consumers.choose(&mut rng).cloned();
        let op = rng.random_range(0..9);
        let (status, body) = match (op, service, route, consumer) {
            (0, ..) => {
                let enabled = rng.random_bool(0.7);
                status_and_json(
                    app.post_json(
                        &format!("{base}/services"),
                        &json!({"name": format!("s{step}"), "host": "h.test", "enabled": enabled}),
                    )
                    .await,
                )
                .await
            }
            (1, Some(service), ..) => {
                status_and_json(
                    app.post_json(
                        &format!("{base}/routes"),
                        &json!({"name": format!("r{step}"), "paths": [format!("/p{step}")],
                            "service": {"id": service}}),
                    )
                    .await,
                )
                .await
            }
            (2, Some(service), Some(route), _) => {
                let scope = if rng.random_bool(0.5) {
                    json!({"service": {"id": service}})
                } else {
                    json!({"route": {"id": route}})
                };
                let mut plugin = json!({"name": "cors", "enabled": rng.random_bool(0.8),
                    "config": {"origins": [format!("https://o{step}.test")]}});
                plugin
                    .as_object_mut()
                    .unwrap()
                    .extend(scope.as_object().unwrap().clone());
                status_and_json(app.post_json(&format!("{base}/plugins"), &plugin).await).await
            }
            (3, ..) => {
                let (status, consumer) = status_and_json(
                    app.post_json(
                        &format!("{base}/consumers"),
                        &json!({"username": format!("u{step}")}),
                    )
                    .await,
                )
                .await;
                assert_eq!(status, 201, "{consumer}");
                let id = consumer["id"].as_str().unwrap().to_string();
                consumers.push(id.clone());
                status_and_json(
                    app.post_json(&format!("{base}/consumers/{id}/key-auth"), &json!({}))
                        .await,
                )
                .await
            }
            (4 | 5, Some(service), ..) => {
                let patch = json!({"enabled": rng.random_bool(0.6), "retries": step});
                status_and_json(
                    app.patch_json(&format!("{base}/services/{service}"), &patch)
                        .await,
                )
                .await
            }
            (6, _, Some(route), _) => {
                routes.retain(|r| *r != route);
                let status = app.delete(&format!("{base}/routes/{route}")).await.status();
                (status.as_u16(), Value::Null)
            }
            (7, Some(service), ..) => {
                // Refused while routes use it (Kong's restrict); else its plugins go too.
                let status = app
                    .delete(&format!("{base}/services/{service}"))
                    .await
                    .status();
                if status == 204 {
                    services.retain(|s| *s != service);
                }
                (status.as_u16(), Value::Null)
            }
            (8, _, _, Some(consumer)) => {
                consumers.retain(|c| *c != consumer);
                let status = app
                    .delete(&format!("{base}/consumers/{consumer}"))
                    .await
                    .status();
                (status.as_u16(), Value::Null)
            }
            _ => continue,
        };
        // The only refusals: a second cors plugin on one scope (plugins are unique per
        // name and scope), and a service routes still use (Kong's restrict).
        assert!(
            (200..300).contains(&status) || (status == 400 && matches!(op, 2 | 7)),
            "step {step}, op {op}: {status} {body}"
        );
        if (200..300).contains(&status) {
            changed += 1;
        }
        if status == 201
            && body.get("paths").is_some()
            && let Some(id) = body["id"].as_str()
        {
            routes.push(id.to_string());
        }
        if status == 201
            && body.get("host").is_some()
            && let Some(id) = body["id"].as_str()
        {
            services.push(id.to_string());
        }
        if (200..300).contains(&status) && step % 4 == 0 {
            assert_synced(&app, &mut dp, cp, step).await;
        }
    }
    assert!(
        changed >= 20,
        "only {changed} of 40 random steps changed anything"
    );
    // Changes not yet seen arrive too, then the same hash survives a restart.
    let last = app
        .post_json(&format!("{base}/consumers"), &json!({"username": "last"}))
        .await;
    assert_eq!(last.status(), 201);
    let last = assert_synced(&app, &mut dp, cp, 40).await;
    drop(dp);
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let (url, token) = (app.database_url.clone(), app.token.clone());
    app.shutdown().await;
    let restarted = start_on(&url, &dir, &token).await;
    let mut dp = open(
        restarted.cluster_addr,
        &f.ca,
        Some(&f.creds),
        &outlet(&n, "fake-dp", "3.10.0"),
        None,
    )
    .await
    .expect("upgrade after restart");
    dp.basic_info(DP_PLUGINS).await;
    let after = dp.config(WAIT).await;
    check_reconfigure(&after);
    assert_eq!(after["config_hash"], last["config_hash"]);
    assert_eq!(after["config_table"], last["config_table"]);
    drop(dp);
    restarted.shutdown().await;
}
