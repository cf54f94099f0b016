//! Consumer credentials with Kong 3.10's rules (each plugin's `daos.lua`: key-auth,
//! basic-auth, hmac-auth, jwt, acl), nested under consumers and listed at the top level,
//! as Konnect's Control Plane Configuration spec lists them (`consumers/{id}/key-auth`,
//! `key-auths`).

use reqwest::Method;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    put_json, unique_violation,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_key_auth_key_is_generated_unique_and_listed_on_every_family,
    a_basic_auth_password_is_stored_as_kong_hashes_it,
    jwt_keys_and_secrets_are_generated_and_asymmetric_keys_must_load,
    an_acl_group_is_unique_per_consumer_and_found_by_group_under_it,
    credentials_go_with_their_consumer,
);

async fn consumer(app: &TestApp, base: &str, username: &str) -> String {
    let created = create(
        app,
        &format!("{base}/consumers"),
        &json!({"username": username}),
    )
    .await;
    created["id"].as_str().unwrap().to_string()
}

/// Kong's `random_string`: 32 letters and digits.
fn is_random_string(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// kong/plugins/key-auth/daos.lua: `key` is `auto` (Kong's `random_string`, 32
/// letters and digits) and `unique`; the top-level `key-auths` lists and reads, on every family.
async fn a_key_auth_key_is_generated_unique_and_listed_on_every_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "keys").await;
    let alice = consumer(&app, &base, "alice").await;
    let generated = create(
        &app,
        &format!("{base}/consumers/alice/key-auth"),
        &json!({}),
    )
    .await;
    assert!(is_random_string(&generated["key"]), "{generated}");
    assert_eq!(generated["consumer"], json!({"id": alice}));
    assert!(
        generated.get("updated_at").is_none(),
        "Kong's credential has no updated_at"
    );
    let given = create(
        &app,
        &format!("{base}/consumers/{alice}/key-auth"),
        &json!({"key": "my-key", "tags": ["t"]}),
    )
    .await;
    assert_eq!(given["key"], "my-key");

    let bob = consumer(&app, &base, "bob").await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/consumers/bob/key-auth"),
            &json!({"key": "my-key"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("key", "my-key")));
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/consumers/bob/key-auth"),
            &json!({"key": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "validation error",
                vec![field_error("key", &["length must be at least 1"])]
            )
        )
    );

    let mut expected = vec![
        generated["id"].as_str().unwrap().to_string(),
        given["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    for family in families(&cp) {
        let all = fetch(&app, &format!("{family}/key-auths")).await;
        assert_eq!(ids(&all), expected, "{family}");
        let nested = fetch(&app, &format!("{family}/consumers/{alice}/key-auth")).await;
        assert_eq!(ids(&nested), expected, "{family}");
        let none = fetch(&app, &format!("{family}/consumers/{bob}/key-auth")).await;
        assert_eq!(ids(&none), Vec::<String>::new());
        // By id, and by key (Kong's `endpoint_key`).
        let by_key = fetch(&app, &format!("{family}/key-auths/my-key")).await;
        assert_eq!(by_key, given);
        let by_id = fetch(&app, &format!("{family}/consumers/alice/key-auth/my-key")).await;
        assert_eq!(by_id, given);
        // Another consumer's credential is not under bob.
        let (status, body) = status_and_json(
            app.get(&format!("{family}/consumers/bob/key-auth/my-key"))
                .await,
        )
        .await;
        assert_eq!((status, body), (404, not_found()));
        // The top-level collections only list and read (the spec's operations).
        let (status, _) = status_and_json(
            app.post_json(&format!("{family}/key-auths"), &json!({}))
                .await,
        )
        .await;
        assert_eq!(status, 405, "{family}");
    }
    app.shutdown().await;
}

fn kong_hash(consumer_id: &str, password: &str) -> String {
    hex::encode(Sha1::digest(format!("{password}{consumer_id}")))
}

/// kong/plugins/basic-auth/daos.lua `transformations` and crypto.lua: the password is
/// replaced by `sha1(password .. consumer.id)` in hex on every write that gives one, and
/// answered so (Konnect's BasicAuth example shows the hash, never the clear text).
async fn a_basic_auth_password_is_stored_as_kong_hashes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "basic").await;
    let alice = consumer(&app, &base, "alice").await;
    let nested = format!("{base}/consumers/{alice}/basic-auth");
    let created = create(
        &app,
        &nested,
        &json!({"username": "alice", "password": "s3cret"}),
    )
    .await;
    assert_eq!(created["password"], kong_hash(&alice, "s3cret"));
    let id = created["id"].as_str().unwrap();
    let listed = fetch(&app, &format!("{base}/basic-auths")).await;
    assert_eq!(listed["data"][0]["password"], kong_hash(&alice, "s3cret"));
    assert!(!listed.to_string().contains("s3cret\""));

    // A PATCH without a password keeps the hash; one with a password hashes it anew.
    let (status, renamed) = status_and_json(
        app.patch_json(&format!("{nested}/{id}"), &json!({"username": "alice2"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["password"], kong_hash(&alice, "s3cret"));
    let (status, changed) = status_and_json(
        put_json(
            &app,
            &format!("{nested}/{id}"),
            &json!({"username": "alice2", "password": "other"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["password"], kong_hash(&alice, "other"));
    assert_eq!(changed["created_at"], created["created_at"]);

    // username is unique and both fields are required.
    let bob = consumer(&app, &base, "bob").await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/consumers/{bob}/basic-auth"),
            &json!({"username": "alice2", "password": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (400, unique_violation("username", "alice2"))
    );
    let (status, error) = status_and_json(
        app.post_json(&format!("{base}/consumers/{bob}/basic-auth"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "validation error",
                vec![
                    field_error("password", &["required field missing"]),
                    field_error("username", &["required field missing"]),
                ]
            )
        )
    );
    app.shutdown().await;
}

/// kong/plugins/jwt/daos.lua: `key` and `secret` are `auto`; the algorithm is one of
/// Kong's; an asymmetric one needs an `rsa_public_key` OpenSSL loads (`invalid key`).
async fn jwt_keys_and_secrets_are_generated_and_asymmetric_keys_must_load(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "jwt").await;
    consumer(&app, &base, "alice").await;
    let jwt = format!("{base}/consumers/alice/jwt");
    let hs = create(&app, &jwt, &json!({})).await;
    assert!(
        is_random_string(&hs["key"]) && is_random_string(&hs["secret"]),
        "{hs}"
    );
    assert_eq!(hs["algorithm"], "HS256");

    let conditional = "failed conditional validation given value of field 'algorithm'";
    for (body, details) in [
        (
            json!({"algorithm": "RS256"}),
            vec![
                entity_error(&[conditional]),
                field_error("rsa_public_key", &["required field missing"]),
            ],
        ),
        (
            json!({"algorithm": "ES256", "rsa_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}),
            vec![
                entity_error(&[conditional]),
                field_error("rsa_public_key", &["invalid key"]),
            ],
        ),
    ] {
        let (status, error) = status_and_json(app.post_json(&jwt, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
    }
    let (status, error) =
        status_and_json(app.post_json(&jwt, &json!({"algorithm": "none"})).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["details"][0]["field"], "algorithm");

    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let es = create(
        &app,
        &jwt,
        &json!({"algorithm": "ES256", "key": "issuer", "rsa_public_key": pair.public_key_pem()}),
    )
    .await;
    assert_eq!(es["key"], "issuer");
    assert_eq!(fetch(&app, &format!("{base}/jwts/issuer")).await, es);
    app.shutdown().await;
}

/// kong/plugins/acl/daos.lua: `cache_key = { "consumer", "group" }`, so a group is once
/// per consumer and many consumers share it; under a consumer, `{group}` finds it.
async fn an_acl_group_is_unique_per_consumer_and_found_by_group_under_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "acls").await;
    let alice = consumer(&app, &base, "alice").await;
    let bob = consumer(&app, &base, "bob").await;
    let admins = create(
        &app,
        &format!("{base}/consumers/alice/acls"),
        &json!({"group": "admins"}),
    )
    .await;
    let bobs = create(
        &app,
        &format!("{base}/consumers/bob/acls"),
        &json!({"group": "admins"}),
    )
    .await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/consumers/alice/acls"),
            &json!({"group": "admins"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["message"], "data constraint error");
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/{alice}/acls/admins")).await,
        admins
    );
    assert_eq!(
        fetch(&app, &format!("{base}/consumers/{bob}/acls/admins")).await,
        bobs
    );
    assert_eq!(ids(&fetch(&app, &format!("{base}/acls")).await).len(), 2);

    // hmac-auth: the secret is generated; the username is unique.
    let hmac = create(
        &app,
        &format!("{base}/consumers/alice/hmac-auth"),
        &json!({"username": "alice-hmac"}),
    )
    .await;
    assert!(is_random_string(&hmac["secret"]), "{hmac}");
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/consumers/bob/hmac-auth"),
            &json!({"username": "alice-hmac"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (400, unique_violation("username", "alice-hmac"))
    );
    app.shutdown().await;
}

/// Every credential's `consumer` is `on_delete = "cascade"`; a nested delete answers 204
/// whether or not the credential existed.
async fn credentials_go_with_their_consumer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "cascade").await;
    let alice = consumer(&app, &base, "alice").await;
    for (path, body) in [
        ("key-auth", json!({})),
        ("basic-auth", json!({"username": "a", "password": "p"})),
        ("hmac-auth", json!({"username": "a"})),
        ("jwt", json!({})),
        ("acls", json!({"group": "g"})),
    ] {
        create(&app, &format!("{base}/consumers/{alice}/{path}"), &body).await;
    }
    let key = fetch(&app, &format!("{base}/key-auths")).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let response = app
            .request(
                Method::DELETE,
                &format!("{base}/consumers/{alice}/key-auth/{key}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let response = app.delete(&format!("{base}/consumers/{alice}")).await;
    assert_eq!(response.status(), 204);
    for top in ["key-auths", "basic-auths", "hmac-auths", "jwts", "acls"] {
        let list = fetch(&app, &format!("{base}/{top}")).await;
        assert_eq!(list["data"], json!([]), "{top}");
    }
    app.shutdown().await;
}
