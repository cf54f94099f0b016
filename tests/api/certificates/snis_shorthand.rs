//! The `snis` shorthand of Kong 3.10's certificates DAO (`kong/db/dao/certificates.lua`,
//! `kong/db/dao/snis.lua`), which Konnect's `Certificate` carries (`snis`, an array of host
//! names): written with the certificate in one transaction, answered on every read.

use serde_json::{Value, json};

use super::{ecdsa, post};
use crate::both_backends;
use crate::harness::core_entities::{control_plane, create, fetch, field_error, koko};
use crate::harness::{Backend, TestApp, sorted_names};

both_backends!(
    a_certificate_written_with_snis_creates_them_and_answers_their_names,
    a_write_names_the_certificates_whole_sni_list,
    kongs_refusals_of_a_snis_list_store_nothing,
    a_missing_control_plane_is_404_whatever_the_snis_list,
);

/// The names of the SNIs listed under `certificate`, sorted.
async fn sni_names(app: &TestApp, base: &str, certificate: &str) -> Vec<String> {
    sorted_names(&fetch(app, &format!("{base}/certificates/{certificate}/snis")).await)
}

/// A create in a control plane that does not exist is its 404, before anything the
/// body would have earned (the rule of every core-entity create), `snis` included.
async fn a_missing_control_plane_is_404_whatever_the_snis_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = format!("/v2/control-planes/{}/core-entities", uuid::Uuid::new_v4());
    let (cert, key) = ecdsa();
    for snis in [
        json!(5),
        json!(["bad name!"]),
        json!(["a.example.com", "a.example.com"]),
    ] {
        let (status, body) = post(
            &app,
            &format!("{base}/certificates"),
            json!({"cert": cert, "key": key, "snis": snis}),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                404,
                json!({"code": 5, "message": "control plane not found", "details": []})
            ),
            "snis: {snis}"
        );
    }
}

/// Kong's `insert` makes one SNI per name and answers them sorted (`parse_name_list`);
/// `select_with_name_list` and `page` answer them on reads. Without `snis` a certificate
/// is answered with `snis: []`.
async fn a_certificate_written_with_snis_creates_them_and_answers_their_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "tls").await;
    let (cert, key) = ecdsa();
    let created = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key, "snis": ["b.example.com", "*.a.example.com"]}),
    )
    .await;
    assert_eq!(created["snis"], json!(["*.a.example.com", "b.example.com"]));
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        sni_names(&app, &base, id).await,
        ["*.a.example.com", "b.example.com"]
    );
    let sni = fetch(&app, &format!("{base}/snis/b.example.com")).await;
    assert_eq!(sni["certificate"], json!({"id": id}));
    assert_eq!(
        fetch(&app, &format!("{base}/certificates/{id}")).await,
        created
    );

    let plain = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key}),
    )
    .await;
    assert_eq!(plain["snis"], json!([]));
    // An SNI made on its own shows in its certificate's answers.
    let plain_id = plain["id"].as_str().unwrap();
    create(
        &app,
        &format!("{base}/certificates/{plain_id}/snis"),
        &json!({"name": "c.example.com"}),
    )
    .await;
    let list = fetch(&app, &format!("{base}/certificates")).await;
    let listed: Vec<(&str, &Value)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), &c["snis"]))
        .collect();
    assert!(
        listed.contains(&(id, &json!(["*.a.example.com", "b.example.com"]))),
        "{list}"
    );
    assert!(
        listed.contains(&(plain_id, &json!(["c.example.com"]))),
        "{list}"
    );
    // The stored certificate has no `snis` of its own: data planes get the SNIs as
    // entities (Kong's export reads the table, not the DAO's pseudo attribute).
    let table = konnektd::cluster::export::export_config(app.store(), cp.parse().unwrap())
        .await
        .unwrap();
    let exported = table["certificates"].as_array().unwrap();
    assert!(exported.iter().all(|c| c.get("snis").is_none()), "{table}");
    assert_eq!(table["snis"].as_array().unwrap().len(), 3, "{table}");
    app.shutdown().await;
}

/// Kong's `update` and `upsert` with `snis` make the list the certificate's SNIs
/// (`update_list`: new names inserted, names left out deleted, kept ones untouched);
/// without `snis` they keep them; `null` deletes them all (`parse_name_list`).
async fn a_write_names_the_certificates_whole_sni_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let (cert, key) = ecdsa();
    let created = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key, "snis": ["a.example.com", "b.example.com"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("{base}/certificates/{id}");
    let kept = fetch(&app, &format!("{base}/snis/b.example.com")).await;

    let patched = app
        .patch_json(&path, &json!({"snis": ["c.example.com", "b.example.com"]}))
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["snis"], json!(["b.example.com", "c.example.com"]));
    assert_eq!(
        sni_names(&app, &base, id).await,
        ["b.example.com", "c.example.com"]
    );
    assert_eq!(
        fetch(&app, &format!("{base}/snis/b.example.com")).await,
        kept,
        "a kept SNI is not rewritten"
    );

    let patched: Value = app
        .patch_json(&path, &json!({"tags": ["t"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["snis"], json!(["b.example.com", "c.example.com"]));

    let put = crate::harness::core_entities::put_json(
        &app,
        &path,
        &json!({"cert": cert, "key": key, "snis": ["d.example.com"]}),
    )
    .await;
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.json::<Value>().await.unwrap()["snis"],
        json!(["d.example.com"])
    );
    assert_eq!(sni_names(&app, &base, id).await, ["d.example.com"]);

    let cleared: Value = app
        .patch_json(&path, &json!({"snis": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["snis"], json!([]));
    assert!(sni_names(&app, &base, id).await.is_empty());

    // A PUT that creates takes `snis` too.
    let new_id = uuid::Uuid::new_v4().to_string();
    let put = crate::harness::core_entities::put_json(
        &app,
        &format!("{base}/certificates/{new_id}"),
        &json!({"cert": cert, "key": key, "snis": ["e.example.com"]}),
    )
    .await;
    assert_eq!(put.status(), 200);
    assert_eq!(sni_names(&app, &base, &new_id).await, ["e.example.com"]);
    app.shutdown().await;
}

/// A name twice (`<name> is duplicated`), a name another certificate holds
/// (`check_list_is_new`: `<name> already associated with existing certificate '<id>'`),
/// an invalid host name (the SNI schema's `typedefs.wildcard_host`, at `snis[i]`), and a
/// `snis` that is not a list of strings: 400, and neither the certificate nor any SNI is
/// written.
async fn kongs_refusals_of_a_snis_list_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let certificates = format!("{base}/certificates");
    let (cert, key) = ecdsa();
    let holder = create(
        &app,
        &certificates,
        &json!({"cert": cert, "key": key, "snis": ["taken.example.com"]}),
    )
    .await;
    let holder_id = holder["id"].as_str().unwrap();
    let with = |snis: Value| json!({"cert": cert, "key": key, "snis": snis});
    for (snis, field, message) in [
        (
            json!(["a.example.com", "b.example.com", "a.example.com"]),
            "snis",
            "a.example.com is duplicated".to_string(),
        ),
        (
            json!(["new.example.com", "taken.example.com"]),
            "snis",
            format!("taken.example.com already associated with existing certificate '{holder_id}'"),
        ),
        (
            json!(["ok.example.com", "a.*.com"]),
            "snis[1]",
            "wildcard must be leftmost or rightmost character".to_string(),
        ),
        (
            json!("a.example.com"),
            "snis",
            "expected an array".to_string(),
        ),
        (
            json!(["a.example.com", 7]),
            "snis[1]",
            "expected a string".to_string(),
        ),
    ] {
        assert_eq!(
            post(&app, &certificates, with(snis.clone())).await,
            (
                400,
                koko("validation error", vec![field_error(field, &[&message])])
            ),
            "{snis}"
        );
    }
    let listed = fetch(&app, &certificates).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let snis = fetch(&app, &format!("{base}/snis")).await;
    assert_eq!(snis["data"].as_array().unwrap().len(), 1, "{snis}");

    // An update is refused the same way and changes nothing.
    let other = create(&app, &certificates, &json!({"cert": cert, "key": key})).await;
    let other_path = format!("{certificates}/{}", other["id"].as_str().unwrap());
    let refused = app
        .patch_json(
            &other_path,
            &json!({"tags": ["changed"], "snis": ["taken.example.com"]}),
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(fetch(&app, &other_path).await, other);
    app.shutdown().await;
}
