//! Data planes that cannot take the config as it is: a missing plugin, another major
//! version, an older minor (Kong's removed fields), a config over the payload limit; and
//! newer minors of the same major, which take it as it is (docs/clustering.md,
//! "Compatibility").

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::harness::cluster_fixture::{DP_PLUGINS, fixture, node_id, node_when};
use crate::harness::core_entities::create;
use crate::harness::data_plane::{Event, WAIT};
use crate::harness::kong_hash::ZEROS;
use crate::harness::{Backend, TestApp};

both_backends!(
    a_data_plane_without_a_configured_plugin_gets_no_config_but_stays,
    a_data_plane_of_another_major_version_is_closed_and_marked,
    newer_minors_of_the_same_major_sync_as_konnects_compatibility_page_allows,
    an_older_data_plane_loses_removed_fields_but_keeps_the_hash,
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
/// `config_hash` and `hashes` as a 3.10 DP. konnektd can only configure custom plugins,
/// so the 3.4.0 case checks that nothing applicable is touched, and a 3.2.0 DP shows a
/// real removal (`updated_at`, below 3.3).
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
    for group in ["services", "routes", "plugins"] {
        let entity = &for_3_2["config_table"][group][0];
        assert!(entity.get("updated_at").is_none(), "{group}: {entity}");
        let mut expected = reference["config_table"][group][0].clone();
        expected.as_object_mut().unwrap().remove("updated_at");
        assert_eq!(entity, &expected);
    }
    // instance_name goes only below 3.2.
    assert!(
        for_3_2["config_table"]["plugins"][0]
            .get("instance_name")
            .is_some()
    );
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
