//! Keys, key sets and vaults with Kong 3.10's rules (kong/db/schema/entities/keys.lua,
//! key_sets.lua, vaults.lua; typedefs.lua `pem`/`jwk`; kong/vaults/env/schema.lua), at
//! the paths Konnect's Control Plane Configuration spec lists (`keys`, `key-sets`,
//! `key-sets/{KeySetId}/keys`, `vaults`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    put_json, unique_violation,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    keys_and_key_sets_are_written_read_listed_and_deleted_on_every_family,
    a_key_is_a_jwk_or_a_pem_pair_that_loads,
    deleting_a_key_set_deletes_its_keys,
    vaults_follow_kongs_prefix_and_env_vault_rules,
);

/// An RSA public JWK (RFC 7517 appendix A.1's modulus) with `kid`.
pub fn rsa_jwk(kid: &str) -> String {
    json!({
        "kty": "RSA", "kid": kid, "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    })
    .to_string()
}

async fn keys_and_key_sets_are_written_read_listed_and_deleted_on_every_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "keys").await;
    let set = create(
        &app,
        &format!("{base}/key-sets"),
        &json!({"name": "signing"}),
    )
    .await;
    let set_id = set["id"].as_str().unwrap();
    let (status, error) = status_and_json(
        app.post_json(&format!("{base}/key-sets"), &json!({"name": "signing"}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "signing")));

    let key = create(
        &app,
        &format!("{base}/key-sets/signing/keys"),
        &json!({"name": "k1", "kid": "k1", "jwk": rsa_jwk("k1")}),
    )
    .await;
    assert_eq!(key["set"], json!({"id": set_id}));
    assert_eq!(key["kid"], "k1");
    let top = create(
        &app,
        &format!("{base}/keys"),
        &json!({"name": "loose", "kid": "k2", "jwk": rsa_jwk("k2")}),
    )
    .await;
    assert_eq!(top["set"], Value::Null);
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/keys"),
            &json!({"name": "k1", "kid": "k3", "jwk": rsa_jwk("k3")}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "k1")));

    // Kong's keys `cache_key = { "kid", "set" }`: a kid once per set.
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/key-sets/signing/keys"),
            &json!({"kid": "k1", "jwk": rsa_jwk("k1")}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["details"][0]["messages"][0],
        format!("cache_key (type: unique) constraint failed for value 'k1:{set_id}': ")
    );
    for family in families(&cp) {
        let listed = fetch(&app, &format!("{family}/keys")).await;
        assert_eq!(ids(&listed).len(), 2, "{family}: {listed}");
        let nested = fetch(&app, &format!("{family}/key-sets/{set_id}/keys")).await;
        assert_eq!(ids(&nested), [key["id"].as_str().unwrap()], "{family}");
        let by_name = fetch(&app, &format!("{family}/keys/k1")).await;
        assert_eq!(by_name["id"], key["id"]);
        let set_by_name = fetch(&app, &format!("{family}/key-sets/signing")).await;
        assert_eq!(set_by_name["id"], set["id"]);
    }
    // PUT replaces (the spec's upsert), under the set too.
    let replaced = put_json(
        &app,
        &format!(
            "{base}/key-sets/{set_id}/keys/{}",
            key["id"].as_str().unwrap()
        ),
        &json!({"name": "k1", "kid": "k9", "jwk": rsa_jwk("k9"), "tags": ["t"]}),
    )
    .await;
    let (status, replaced) = status_and_json(replaced).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["kid"].clone(), replaced["set"]["id"].clone()),
        (json!("k9"), json!(set_id))
    );

    let deleted = app
        .request(Method::DELETE, &format!("{base}/keys/loose"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, body) = status_and_json(app.get(&format!("{base}/keys/loose")).await).await;
    assert_eq!((status, body), (404, not_found()));
}

async fn a_key_is_a_jwk_or_a_pem_pair_that_loads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "key-rules").await;
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let pem = create(
        &app,
        &format!("{base}/keys"),
        &json!({"kid": "p", "pem": {"public_key": pair.public_key_pem(), "private_key": pair.serialize_pem()}}),
    )
    .await;
    assert_eq!(pem["pem"]["public_key"], pair.public_key_pem());

    let rejected = |body: Value| {
        let app = &app;
        let base = &base;
        async move { status_and_json(app.post_json(&format!("{base}/keys"), &body).await).await }
    };
    let invalid = |details: Vec<Value>| (400, koko("validation error", details));
    assert_eq!(
        rejected(json!({"kid": "a"})).await,
        invalid(vec![entity_error(&[
            "at least one of these fields must be non-empty: 'jwk', 'pem'"
        ])])
    );
    assert_eq!(
        rejected(
            json!({"kid": "a", "jwk": rsa_jwk("a"), "pem": {"public_key": pair.public_key_pem()}})
        )
        .await,
        invalid(vec![entity_error(&[
            "only one or none of these fields must be set: 'jwk', 'pem'"
        ])])
    );
    assert_eq!(
        rejected(json!({"kid": "a", "jwk": rsa_jwk("b")})).await,
        invalid(vec![entity_error(&[
            "kid in jwk.kid must be equal to keys.kid"
        ])])
    );
    // An empty pem record is the typedef's own refusal (Kong's typedefs.pem
    // `at_least_one_of`), before the keys entity check.
    let (status, body) = rejected(json!({"kid": "a", "pem": {}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains(
            "at least one of these fields must be non-empty: 'private_key', 'public_key'"
        ),
        "{body}"
    );
    assert_eq!(
        rejected(json!({"kid": "a", "jwk": "not json"})).await,
        invalid(vec![entity_error(&["could not json decode jwk string"])])
    );
    assert_eq!(
        rejected(json!({"kid": "a", "jwk": r#"{"kid":"a","kty":"RSA"}"#})).await,
        invalid(vec![entity_error(&[
            "could not load JWK, likely not a valid key"
        ])])
    );
    assert_eq!(
        rejected(json!({"kid": "a", "pem": {"public_key": pair.serialize_pem()}})).await,
        invalid(vec![field_error("pem", &["could not load public key"])])
    );
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    assert_eq!(
        rejected(json!({"kid": "a", "pem": {"public_key": other.public_key_pem(), "private_key": pair.serialize_pem()}})).await,
        invalid(vec![field_error("pem", &["public key does not match private key"])])
    );
    assert_eq!(
        rejected(json!({"jwk": rsa_jwk("a")})).await,
        invalid(vec![field_error("kid", &["required field missing"])])
    );
    let (status, body) =
        rejected(json!({"kid": "a", "jwk": rsa_jwk("a"), "set": {"id": uuid::Uuid::new_v4()}}))
            .await;
    assert_eq!(status, 400, "a key set that does not exist");
    assert!(
        body.to_string()
            .contains("does not reference an existing 'key_sets' entity"),
        "{body}"
    );
}

async fn deleting_a_key_set_deletes_its_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "key-cascade").await;
    create(&app, &format!("{base}/key-sets"), &json!({"name": "s"})).await;
    let key = create(
        &app,
        &format!("{base}/key-sets/s/keys"),
        &json!({"kid": "k", "jwk": rsa_jwk("k")}),
    )
    .await;
    let deleted = app
        .request(Method::DELETE, &format!("{base}/key-sets/s"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, _) = status_and_json(
        app.get(&format!("{base}/keys/{}", key["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(
        status, 404,
        "kong/db/schema/entities/keys.lua: set on_delete cascade"
    );
}

async fn vaults_follow_kongs_prefix_and_env_vault_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "vaults").await;
    let vault = create(
        &app,
        &format!("{base}/vaults"),
        &json!({"name": "env", "prefix": "my-env", "config": {"prefix": "KONG_"}, "description": "d"}),
    )
    .await;
    assert_eq!(vault["config"], json!({"prefix": "KONG_"}));
    for family in families(&cp) {
        let by_prefix = fetch(&app, &format!("{family}/vaults/my-env")).await;
        assert_eq!(by_prefix["id"], vault["id"]);
        assert_eq!(
            ids(&fetch(&app, &format!("{family}/vaults")).await).len(),
            1
        );
    }
    let rejected = |body: Value| {
        let app = &app;
        let base = &base;
        async move { status_and_json(app.post_json(&format!("{base}/vaults"), &body).await).await }
    };
    let invalid = |details: Vec<Value>| (400, koko("validation error", details));
    assert_eq!(
        rejected(json!({"name": "env", "prefix": "my-env"})).await,
        (400, unique_violation("prefix", "my-env"))
    );
    assert_eq!(
        rejected(json!({"name": "aws", "prefix": "aws-secrets"})).await,
        invalid(vec![field_error("name", &["vault 'aws' is not installed"])])
    );
    assert_eq!(
        rejected(json!({"name": "env", "prefix": "Bad_Prefix"})).await,
        invalid(vec![field_error("prefix", &["invalid value: Bad_Prefix"])])
    );
    assert_eq!(
        rejected(json!({"name": "env", "prefix": "env"})).await,
        invalid(vec![field_error("prefix", &["must not be one of: env"])])
    );
    assert_eq!(
        rejected(json!({"name": "env", "prefix": "e2", "config": {"prefix": "a.b"}})).await,
        invalid(vec![field_error("config.prefix", &["invalid value: a.b"])])
    );
    assert_eq!(
        rejected(json!({"name": "env"})).await,
        invalid(vec![field_error("prefix", &["required field missing"])])
    );
    let deleted = app
        .request(Method::DELETE, &format!("{base}/vaults/my-env"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}
