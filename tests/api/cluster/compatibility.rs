//! Data planes that cannot take the config as it is: a missing plugin, another major
//! version, an older minor (Kong's removed fields), a config over the payload limit; and
//! newer minors of the same major, which take it as it is (docs/clustering.md,
//! "Compatibility").

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, keys, node_id, node_when};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{Event, WAIT};
use crate::harness::kong_hash::ZEROS;
use crate::harness::{Backend, TestApp};

both_backends!(
    a_data_plane_without_a_configured_plugin_gets_no_config_but_stays,
    a_data_plane_of_another_major_version_is_closed_and_marked,
    newer_minors_of_the_same_major_sync_as_konnects_compatibility_page_allows,
    an_older_data_plane_loses_removed_fields_but_keeps_the_hash,
    rate_limiting_redis_reaches_a_3_5_data_plane_in_its_flat_fields,
    a_config_over_the_payload_limit_is_not_sent_and_the_node_says_why,
);

/// a DP without ping-auth gets pongs but no config, stays connected, and its node
/// shows `plugin_set_incompatible` naming ping-auth.
async fn a_data_plane_without_a_configured_plugin_gets_no_config_but_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(&["cors", "key-auth"]).await;
    dp.ping(ZEROS).await;
    match dp.next(WAIT).await {
        Some(Event::Pong(p)) => assert_eq!(p, ZEROS.as_bytes()),
        other => panic!("expected a pong first, got {other:?}"),
    }
    assert!(dp.next(Duration::from_secs(2)).await.is_none());
    dp.ping_pong(ZEROS).await;
    let node = node_when(&app, &f.cp, &n, |node| {
        node["compatibility_status"]["state"] == "COMPATIBILITY_STATE_INCOMPATIBLE"
    })
    .await;
    assert_eq!(
        node["compatibility_status"]["issues"],
        json!([{
            "code": "plugin_set_incompatible",
            "severity": "error",
            "description": "plugin 'ping-auth' is configured but not installed on the data plane",
            "resolution": "Install the plugin on the data plane and add it to KONG_PLUGINS, or remove it from the configuration.",
        }])
    );
    assert_eq!(node["config_hash"], ZEROS);
    dp.ping_pong(ZEROS).await;
}

/// Another major (`4.0.0.0`, `2.8.0.0`) gets a close frame (1008) after basic_info and
/// its node row is marked `kong_version_incompatible`: Kong's rule
/// (`kong/clustering/compat/init.lua` `check_kong_version_compatibility`, `major_cp ~=
/// major_dp`), which Konnect keeps.
async fn a_data_plane_of_another_major_version_is_closed_and_marked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    for (version, major) in [("4.0.0.0", 4), ("2.8.0.0", 2)] {
        let n = node_id();
        let mut dp = f.dp(app.cluster_addr(), &n, version).await;
        dp.basic_info(DP_PLUGINS).await;
        dp.ping(ZEROS).await;
        let close = dp.closed(WAIT).await.expect("a close frame");
        assert_eq!(close, (1008, "kong_version_incompatible".to_string()));
        assert!(
            dp.frames.iter().all(|f| f.opcode != 0x2),
            "no config was sent to {version}"
        );
        let node = node_when(&app, &f.cp, &n, |_| true).await;
        assert_eq!(node["version"], version);
        assert_eq!(
            node["compatibility_status"]["state"],
            "COMPATIBILITY_STATE_INCOMPATIBLE"
        );
        let issues = node["compatibility_status"]["issues"].as_array().unwrap();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0]["code"], "kong_version_incompatible");
        assert_eq!(
            issues[0]["description"],
            format!("data plane major version {major} differs from control plane major version 3")
        );
    }
}

/// Konnect accepts every supported Kong release of the control plane's major
/// (developer.konghq.com, `konnect-platform/compatibility`: 3.11 to 3.14 beside 3.10),
/// where Kong's own control plane refuses a newer minor
/// (`kong/clustering/compat/init.lua`, `minor_cp < minor_dp`). A 3.11 or 3.12 data plane
/// against konnektd's 3.10 gets the very config a 3.10 one gets (a newer data plane reads
/// an older config), pings its hash and is fully compatible.
async fn newer_minors_of_the_same_major_sync_as_konnects_compatibility_page_allows(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut current = f.dp(app.cluster_addr(), &node_id(), "3.10.0.0").await;
    let reference = current.first_config(DP_PLUGINS).await;
    for version in ["3.11.0.0", "3.12.1.0"] {
        let n = node_id();
        let mut dp = f.dp(app.cluster_addr(), &n, version).await;
        let config = dp.first_config(DP_PLUGINS).await;
        assert_eq!(config["config_hash"], reference["config_hash"], "{version}");
        assert_eq!(config["hashes"], reference["hashes"], "{version}");
        assert_eq!(
            config["config_table"], reference["config_table"],
            "{version}"
        );
        let hash = config["config_hash"].as_str().unwrap().to_string();
        dp.ping_pong(&hash).await;
        let node = node_when(&app, &f.cp, &n, |node| node["config_hash"] == hash).await;
        assert_eq!(node["version"], version);
        assert_eq!(
            node["compatibility_status"],
            json!({"state": "COMPATIBILITY_STATE_FULLY_COMPATIBLE", "issues": []})
        );
    }
}

/// an older DP gets the fields of Kong's removed-fields table stripped but the same
/// `config_hash` and `hashes` as a 3.10 DP. The fixture's config (ping-auth, a service, a
/// route) has nothing a 3.4 data plane lacks, so it gets the shared config; a 3.2 DP shows
/// Kong's 3.3 checker (`kong/clustering/compat/checkers.lua`): `updated_at` goes from
/// plugins (and consumers), not from services and routes, which always had it.
async fn an_older_data_plane_loses_removed_fields_but_keeps_the_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut current = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let reference = current.first_config(DP_PLUGINS).await;
    assert_eq!(
        reference["config_table"]["plugins"][0]["updated_at"],
        f.plugin["updated_at"]
    );

    let mut old = f.dp(app.cluster_addr(), &node_id(), "3.4.0").await;
    let for_3_4 = old.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_4["config_hash"], reference["config_hash"]);
    assert_eq!(for_3_4["config_table"], reference["config_table"]);

    let mut older = f.dp(app.cluster_addr(), &node_id(), "3.2.0").await;
    let for_3_2 = older.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_2["config_hash"], reference["config_hash"]);
    assert_eq!(for_3_2["hashes"], reference["hashes"]);
    for group in ["services", "routes"] {
        assert_eq!(
            for_3_2["config_table"][group],
            reference["config_table"][group]
        );
    }
    let plugin = &for_3_2["config_table"]["plugins"][0];
    assert!(plugin.get("updated_at").is_none(), "{plugin}");
    let mut expected = reference["config_table"]["plugins"][0].clone();
    expected.as_object_mut().unwrap().remove("updated_at");
    assert_eq!(plugin, &expected);
    // instance_name goes only below 3.2.
    assert!(plugin.get("instance_name").is_some());
}

/// Kong 3.6 moved rate-limiting's `redis_*` fields into the shared `config.redis` record;
/// Kong's 3.6 checker (`checkers.lua`, `kong/plugins/rate-limiting/clustering/compat/
/// redis_translation.lua`) gives a data plane older than 3.6 the flat fields back, with
/// the record's values. A 3.5 data plane gets exactly the fields Kong 3.5's rate-limiting
/// knows; a 3.6 and a 3.10 data plane get the stored config unchanged.
async fn rate_limiting_redis_reaches_a_3_5_data_plane_in_its_flat_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    // Kong 3.10's stored form (every default written out, as konnektd stores it).
    let config = json!({
        "second": null, "minute": 5, "hour": null, "day": null, "month": null, "year": null,
        "limit_by": "consumer", "header_name": null, "path": null, "policy": "redis",
        "fault_tolerant": true, "hide_client_headers": false, "error_code": 429,
        "error_message": "API rate limit exceeded", "sync_rate": -1,
        "redis": {
            "host": "redis.internal", "port": 6380, "timeout": 1500, "username": "limiter",
            "password": "s3cret", "database": 3, "ssl": true, "ssl_verify": true,
            "server_name": "redis.sni",
        },
    });
    let plugin = create(
        &app,
        &format!("{}/plugins", f.base),
        &json!({"name": "rate-limiting", "route": {"id": f.route["id"]}, "config": config}),
    )
    .await;
    let rate_limiting = |table: &serde_json::Value| {
        table["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "rate-limiting")
            .cloned()
            .expect("rate-limiting in the config")
    };

    let mut current = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let reference = current.first_config(DP_PLUGINS).await;
    let stored = rate_limiting(&reference["config_table"]);
    assert_eq!(stored["id"], plugin["id"]);
    assert_eq!(stored["config"], config);

    let mut at_3_6 = f.dp(app.cluster_addr(), &node_id(), "3.6.0").await;
    let for_3_6 = at_3_6.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_6["config_table"], reference["config_table"]);

    let n = node_id();
    let mut old = f.dp(app.cluster_addr(), &n, "3.5.0").await;
    let for_3_5 = old.first_config(DP_PLUGINS).await;
    assert_eq!(for_3_5["config_hash"], reference["config_hash"]);
    let downgraded = rate_limiting(&for_3_5["config_table"]);
    let mut expected = stored.clone();
    expected["config"] = json!({
        "second": null, "minute": 5, "hour": null, "day": null, "month": null, "year": null,
        "limit_by": "consumer", "header_name": null, "path": null, "policy": "redis",
        "fault_tolerant": true, "hide_client_headers": false, "error_code": 429,
        "error_message": "API rate limit exceeded", "sync_rate": -1,
        "redis_host": "redis.internal", "redis_port": 6380, "redis_timeout": 1500,
        "redis_username": "limiter", "redis_password": "s3cret", "redis_database": 3,
        "redis_ssl": true, "redis_ssl_verify": true, "redis_server_name": "redis.sni",
    });
    assert_eq!(downgraded, expected);
    // Kong 3.5's rate-limiting fields (kong/plugins/rate-limiting/schema.lua, 3.5), no other.
    assert_eq!(
        keys(&downgraded["config"]),
        [
            "day",
            "error_code",
            "error_message",
            "fault_tolerant",
            "header_name",
            "hide_client_headers",
            "hour",
            "limit_by",
            "minute",
            "month",
            "path",
            "policy",
            "redis_database",
            "redis_host",
            "redis_password",
            "redis_port",
            "redis_server_name",
            "redis_ssl",
            "redis_ssl_verify",
            "redis_timeout",
            "redis_username",
            "second",
            "sync_rate",
            "year",
        ]
    );
    // Everything else is the 3.10 config.
    let others = |table: &serde_json::Value| {
        let mut table = table.clone();
        table["plugins"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p["name"] != "rate-limiting");
        table
    };
    assert_eq!(
        others(&for_3_5["config_table"]),
        others(&reference["config_table"])
    );
    let hash = for_3_5["config_hash"].as_str().unwrap().to_string();
    old.ping_pong(&hash).await;
    node_when(&app, &f.cp, &n, |node| {
        node["config_hash"] == hash
            && node["compatibility_status"]["state"] == "COMPATIBILITY_STATE_FULLY_COMPATIBLE"
    })
    .await;
}

/// Kong's `cluster_max_payload` (kong.conf.default): a config larger than `--cluster-max-payload` is never sent (the data
/// plane would drop the connection); the data plane stays connected and its node says why.
async fn a_config_over_the_payload_limit_is_not_sent_and_the_node_says_why(backend: Backend) {
    let app = TestApp::spawn_with(backend, |args| args.cluster_max_payload = 4096).await;
    let f = fixture(&app).await;
    // Random text does not compress: this consumer alone outgrows the limit.
    let noise: String = (0..10_000)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    create(
        &app,
        &format!("{}/consumers", f.base),
        &json!({"username": "big", "custom_id": noise}),
    )
    .await;
    let n = node_id();
    let mut dp = f.dp(app.cluster_addr(), &n, "3.10.0").await;
    dp.basic_info(DP_PLUGINS).await;
    dp.ping(ZEROS).await;
    match dp.next(WAIT).await {
        Some(Event::Pong(p)) => assert_eq!(p, ZEROS.as_bytes()),
        None => panic!("no pong"),
        Some(_) => panic!("expected only a pong, got another frame"),
    }
    assert!(
        dp.next(Duration::from_secs(1)).await.is_none(),
        "no config frame"
    );
    let node = node_when(&app, &f.cp, &n, |node| {
        node["compatibility_status"]["state"] == "COMPATIBILITY_STATE_INCOMPATIBLE"
    })
    .await;
    let issue = &node["compatibility_status"]["issues"][0];
    assert_eq!(issue["code"], "payload_too_large");
    assert!(
        issue["description"]
            .as_str()
            .unwrap()
            .ends_with("over the limit of 4096 bytes"),
        "{issue}"
    );
    dp.ping_pong(ZEROS).await;
}
