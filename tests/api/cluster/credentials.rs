//! Consumer credentials reach data planes as Kong's declarative export writes them
//! (kong/db/declarative/export.lua): each kind its own top-level collection under its DAO
//! name, the consumer as a plain id, the basic-auth password as stored (hashed: the
//! table's `_transform = false` keeps the data plane from hashing it again).

use std::time::Duration;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::both_backends;
use crate::harness::cluster_fixture::{
    DP_PLUGINS, as_exported, changed_groups, check_reconfigure, fixture, node_id, without_nulls,
};
use crate::harness::core_entities::create;
use crate::harness::{Backend, TestApp};

both_backends!(a_consumer_with_key_auth_and_basic_auth_reaches_the_data_plane_in_kongs_shape);

/// The next frame whose table has `key`, skipping frames of earlier writes.
async fn config_with(dp: &mut crate::harness::data_plane::Dp, key: &str) -> Value {
    loop {
        let config = dp.config(Duration::from_secs(5)).await;
        check_reconfigure(&config);
        if config["config_table"].get(key).is_some() {
            return config;
        }
    }
}

async fn a_consumer_with_key_auth_and_basic_auth_reaches_the_data_plane_in_kongs_shape(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let first = dp.first_config(DP_PLUGINS).await;
    assert!(first["config_table"].get("keyauth_credentials").is_none());

    let consumer = create(
        &app,
        &format!("{}/consumers", f.base),
        &json!({"username": "alice"}),
    )
    .await;
    let id = consumer["id"].as_str().unwrap();
    let key = create(
        &app,
        &format!("{}/consumers/{id}/key-auth", f.base),
        &json!({"key": "alice-key"}),
    )
    .await;
    let basic = create(
        &app,
        &format!("{}/consumers/alice/basic-auth", f.base),
        &json!({"username": "alice", "password": "s3cret"}),
    )
    .await;
    let config = config_with(&mut dp, "basicauth_credentials").await;
    let table = &config["config_table"];
    assert_eq!(table["_transform"], false);
    assert_eq!(table["consumers"][0]["id"], consumer["id"]);
    let keys = table["keyauth_credentials"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(without_nulls(&keys[0]), as_exported(&key));
    assert_eq!(keys[0]["consumer"], json!(id));
    let basics = table["basicauth_credentials"].as_array().unwrap();
    assert_eq!(without_nulls(&basics[0]), as_exported(&basic));
    assert_eq!(
        basics[0]["password"],
        hex::encode(Sha1::digest(format!("s3cret{id}")))
    );
    // Credentials are in the config hash, in no group of their own.
    assert_ne!(config["config_hash"], first["config_hash"]);
    assert_eq!(changed_groups(&first, &config), ["config"]);
}
