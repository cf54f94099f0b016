//! Keys, key sets and vaults reach data planes as Kong's declarative export writes them
//! (kong/db/declarative/export.lua: whole rows, foreign keys as plain ids): `key_sets`,
//! `keys` (the set as its id) and `vaults`, each under its DAO name, in the config hash
//! and in no group of its own.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::cluster_fixture::{
    DP_PLUGINS, changed_groups, check_reconfigure, fixture, node_id, without_nulls,
};
use crate::harness::core_entities::create;
use crate::harness::{Backend, TestApp};
use crate::keys::rsa_jwk;

both_backends!(keys_key_sets_and_vaults_reach_the_data_plane_in_kongs_shape);

async fn config_with(dp: &mut crate::harness::data_plane::Dp, key: &str) -> Value {
    loop {
        let config = dp.config(Duration::from_secs(5)).await;
        check_reconfigure(&config);
        if config["config_table"].get(key).is_some() {
            return config;
        }
    }
}

async fn keys_key_sets_and_vaults_reach_the_data_plane_in_kongs_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = fixture(&app).await;
    let mut dp = f.dp(app.cluster_addr(), &node_id(), "3.10.0").await;
    let first = dp.first_config(DP_PLUGINS).await;
    assert!(first["config_table"].get("keys").is_none());

    let set = create(
        &app,
        &format!("{}/key-sets", f.base),
        &json!({"name": "jwks"}),
    )
    .await;
    let key = create(
        &app,
        &format!("{}/key-sets/jwks/keys", f.base),
        &json!({"name": "k1", "kid": "k1", "jwk": rsa_jwk("k1")}),
    )
    .await;
    let vault = create(
        &app,
        &format!("{}/vaults", f.base),
        &json!({"name": "env", "prefix": "my-env", "config": {"prefix": "SECRET_"}}),
    )
    .await;
    let config = config_with(&mut dp, "vaults").await;
    let table = &config["config_table"];
    assert_eq!(
        without_nulls(&table["key_sets"][0]),
        without_nulls(&set),
        "{table}"
    );
    let mut exported_key = without_nulls(&key);
    exported_key["set"] = set["id"].clone();
    assert_eq!(without_nulls(&table["keys"][0]), exported_key);
    assert_eq!(table["keys"][0]["set"], set["id"]);
    assert_eq!(without_nulls(&table["vaults"][0]), without_nulls(&vault));
    assert_eq!(table["vaults"][0]["config"], json!({"prefix": "SECRET_"}));
    assert_ne!(config["config_hash"], first["config_hash"]);
    assert_eq!(changed_groups(&first, &config), ["config"]);
}
