//! Certificates, SNIs and CA certificates (Kong 3.10's `certificates`, `snis`,
//! `ca_certificates` and their DAOs), and the services that reference them.

mod snis_shorthand;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, families, fetch, ids, koko, reference_error,
    unique_violation,
};
use crate::harness::{Backend, TestApp, fixture, status_and_json};

both_backends!(
    a_certificate_needs_its_own_key,
    the_alternate_pair_is_of_the_other_key_type,
    snis_are_unique_and_go_with_their_certificate,
    ca_certificates_must_be_cas_and_get_their_digest,
    services_reference_real_certificates,
    certificates_are_served_on_every_url_family,
);

/// A certificate for `example.com` and its key, in PEM.
fn pair(alg: &'static rcgen::SignatureAlgorithm, ca: bool) -> (String, String) {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::new(vec!["example.com".into()]).unwrap();
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

pub(crate) fn ecdsa() -> (String, String) {
    pair(&rcgen::PKCS_ECDSA_P256_SHA256, false)
}

/// An RSA pair from `tests/fixtures/tls/` (rcgen cannot generate RSA keys).
fn rsa(name: &str) -> (String, String) {
    (
        fixture(&format!("tls/{name}.crt")),
        fixture(&format!("tls/{name}.key")),
    )
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    status_and_json(app.post_json(path, &body).await).await
}

/// Kong's `certificates` entity checks: "certificate does not match key"; PEM that is no
/// certificate or key fails at its field.
async fn a_certificate_needs_its_own_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let certificates = format!("{base}/certificates");
    let (cert, key) = ecdsa();
    let created = create(
        &app,
        &certificates,
        &json!({"cert": cert, "key": key, "tags": ["t"]}),
    )
    .await;
    assert_eq!(
        (created["cert"].clone(), created["key"].clone()),
        (json!(cert), json!(key))
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("{certificates}/{id}")).await, created);

    let (_, other_key) = ecdsa();
    assert_eq!(
        post(&app, &certificates, json!({"cert": cert, "key": other_key})).await,
        (
            400,
            koko(
                "validation error",
                vec![entity_error(&["certificate does not match key"])]
            )
        )
    );
    let (status, error) = post(&app, &certificates, json!({"cert": "not pem", "key": key})).await;
    assert_eq!(status, 400);
    assert_eq!(error["details"][0]["field"], "cert");
    assert!(
        error["details"][0]["messages"][0]
            .as_str()
            .unwrap()
            .starts_with("invalid certificate: "),
        "{error}"
    );
    let (status, error) = post(&app, &certificates, json!({"cert": cert, "key": cert})).await;
    assert_eq!(status, 400);
    assert_eq!(error["details"][0]["field"], "key");
    assert!(
        error["details"][0]["messages"][0]
            .as_str()
            .unwrap()
            .starts_with("invalid key: ")
    );
    assert_eq!(ids(&fetch(&app, &certificates).await), [id]);
    app.shutdown().await;
}

/// `cert_alt` and `key_alt` come together, belong together, and are of the other key
/// type (RSA beside ECDSA), as Kong's entity checks say.
async fn the_alternate_pair_is_of_the_other_key_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let certificates = format!("{base}/certificates");
    let (cert, key) = ecdsa();
    let (rsa_cert, rsa_key) = rsa("rsa");
    let both = create(
        &app,
        &certificates,
        &json!({"cert": cert, "key": key, "cert_alt": rsa_cert, "key_alt": rsa_key}),
    )
    .await;
    assert_eq!(both["cert_alt"], json!(rsa_cert));

    let (cert2, key2) = ecdsa();
    assert_eq!(
        post(
            &app,
            &certificates,
            json!({"cert": cert, "key": key, "cert_alt": cert2, "key_alt": key2})
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![entity_error(&[
                    "certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type"
                ])]
            )
        )
    );
    let (_, other_rsa_key) = rsa("rsa-other");
    assert_eq!(
        post(
            &app,
            &certificates,
            json!({"cert": cert, "key": key, "cert_alt": rsa_cert, "key_alt": other_rsa_key})
        )
        .await,
        (
            400,
            koko(
                "validation error",
                vec![entity_error(&[
                    "alternative certificate does not match key"
                ])]
            )
        )
    );
    let (status, error) = post(
        &app,
        &certificates,
        json!({"cert": cert, "key": key, "cert_alt": rsa_cert}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["details"][0]["type"], "ERROR_TYPE_ENTITY", "{error}");
    app.shutdown().await;
}

async fn snis_are_unique_and_go_with_their_certificate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let (cert, key) = ecdsa();
    let one = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key}),
    )
    .await;
    let two = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key}),
    )
    .await;
    let (one_id, two_id) = (one["id"].as_str().unwrap(), two["id"].as_str().unwrap());

    let nested = create(
        &app,
        &format!("{base}/certificates/{one_id}/snis"),
        &json!({"name": "*.example.com"}),
    )
    .await;
    assert_eq!(nested["certificate"], json!({"id": one_id}));
    let top = create(
        &app,
        &format!("{base}/snis"),
        &json!({"name": "api.example.net", "certificate": {"id": two_id}}),
    )
    .await;
    // Unique across the control plane, whatever the certificate.
    assert_eq!(
        post(
            &app,
            &format!("{base}/certificates/{two_id}/snis"),
            json!({"name": "*.example.com"})
        )
        .await,
        (400, unique_violation("name", "*.example.com"))
    );
    // Kong's wildcard_host rules; a certificate is required.
    let (status, error) = post(
        &app,
        &format!("{base}/snis"),
        json!({"name": "a.*.com", "certificate": {"id": one_id}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["details"][0]["messages"],
        json!(["wildcard must be leftmost or rightmost character"])
    );
    let (status, _) = post(
        &app,
        &format!("{base}/snis"),
        json!({"name": "x.example.com"}),
    )
    .await;
    assert_eq!(status, 400);
    // Found by name; listed under their certificate.
    assert_eq!(
        fetch(&app, &format!("{base}/snis/api.example.net")).await,
        top
    );
    assert_eq!(
        ids(&fetch(&app, &format!("{base}/certificates/{one_id}/snis")).await),
        [nested["id"].as_str().unwrap()]
    );
    // Kong's certificates DAO deletes a certificate's SNIs with it.
    let status = app
        .delete(&format!("{base}/certificates/{one_id}"))
        .await
        .status();
    assert_eq!(status, 204);
    assert_eq!(
        ids(&fetch(&app, &format!("{base}/snis")).await),
        [top["id"].as_str().unwrap()]
    );
    app.shutdown().await;
}

async fn ca_certificates_must_be_cas_and_get_their_digest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let cas = format!("{base}/ca_certificates");
    let (ca, _) = pair(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    let created = create(&app, &cas, &json!({"cert": ca})).await;
    let digest = created["cert_digest"].as_str().unwrap();
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    // A given digest is replaced by the computed one (Kong's `on_write` transformation).
    let (status, error) = post(&app, &cas, json!({"cert": ca, "cert_digest": "x"})).await;
    assert_eq!(
        (status, error),
        (400, unique_violation("cert_digest", digest))
    );

    let (leaf, _) = ecdsa();
    assert_eq!(
        post(&app, &cas, json!({"cert": leaf})).await,
        (
            400,
            koko(
                "validation error",
                vec![entity_error(&[
                    "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint"
                ])]
            )
        )
    );
    assert_eq!(
        post(&app, &cas, json!({"cert": format!("{ca}{ca}")})).await,
        (
            400,
            koko(
                "validation error",
                vec![entity_error(&[
                    "please submit only one certificate at a time"
                ])]
            )
        )
    );

    // A CA certificate a service trusts cannot be deleted (Kong's ca_certificates DAO).
    let id = created["id"].as_str().unwrap();
    let service = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "s", "url": "https://backend.test", "ca_certificates": [id], "tls_verify": true}),
    )
    .await;
    let (status, error) = status_and_json(app.delete(&format!("{cas}/{id}")).await).await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "data constraint error",
                vec![reference_error(
                    None,
                    &[&format!(
                        "ca certificate {id} is still referenced by services (id = {})",
                        service["id"].as_str().unwrap()
                    )]
                )]
            )
        )
    );
    let status = app.delete(&format!("{base}/services/s")).await.status();
    assert_eq!(status, 204);
    assert_eq!(app.delete(&format!("{cas}/{id}")).await.status(), 204);
    app.shutdown().await;
}

/// `services.client_certificate` (and `upstreams.client_certificate`) must point at a
/// certificate of the control plane, which then cannot be deleted (Kong's default
/// `on_delete`, restrict).
async fn services_reference_real_certificates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "tls").await;
    let missing = "7d2f0a3b-8c2d-4e6f-a7b8-c9d0e1f2a3b4";
    let (status, error) = post(
        &app,
        &format!("{base}/services"),
        json!({"name": "s", "url": "https://backend.test", "client_certificate": {"id": missing}}),
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "data constraint error",
                vec![reference_error(
                    Some("client_certificate.id"),
                    &[&format!(
                        "the foreign key '{{id=\"{missing}\"}}' does not reference an existing 'certificates' entity."
                    )]
                )]
            )
        )
    );
    let (cert, key) = ecdsa();
    let certificate = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key}),
    )
    .await;
    let cert_id = certificate["id"].as_str().unwrap();
    create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "s", "url": "https://backend.test", "client_certificate": {"id": cert_id}}),
    )
    .await;
    create(
        &app,
        &format!("{base}/upstreams"),
        &json!({"name": "u", "client_certificate": {"id": cert_id}}),
    )
    .await;
    let (status, error) =
        status_and_json(app.delete(&format!("{base}/certificates/{cert_id}")).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["message"], "data constraint error");
    app.shutdown().await;
}

async fn certificates_are_served_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, _) = control_plane(&app, "tls").await;
    let (cert, key) = ecdsa();
    let (ca, _) = pair(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    for (i, family) in families(&cp).iter().enumerate() {
        let certificate = create(
            &app,
            &format!("{family}/certificates"),
            &json!({"cert": cert, "key": key}),
        )
        .await;
        let id = certificate["id"].as_str().unwrap();
        let sni = create(
            &app,
            &format!("{family}/certificates/{id}/snis"),
            &json!({"name": format!("h{i}.example.com")}),
        )
        .await;
        assert_eq!(sni["certificate"]["id"], certificate["id"]);
        assert_eq!(
            fetch(&app, &format!("{family}/snis")).await["data"]
                .as_array()
                .unwrap()
                .len(),
            i + 1
        );
        if i == 0 {
            create(
                &app,
                &format!("{family}/ca_certificates"),
                &json!({"cert": ca}),
            )
            .await;
        }
        assert_eq!(
            fetch(&app, &format!("{family}/ca_certificates")).await["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    app.shutdown().await;
}
