//! `GET` of one core entity, which reads the entity and its control plane in one query
//! and answers from the stored text (`src/entities/reads.rs`): the answer is the write's,
//! and every missing piece (control plane, entity, a hidden or deleted control plane) is
//! a 404 of its own, by id and by name, on every URL family.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::both_backends;
use crate::harness::core_entities::{control_plane, create, families, fetch, not_found};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_get_answers_what_the_write_answered_by_id_and_by_name_on_every_family,
    a_missing_entity_is_404_by_id_and_by_name_on_every_family,
    a_hidden_or_deleted_control_plane_hides_its_entities,
    a_name_where_only_ids_fit_is_400_after_the_control_planes_404,
    a_ui_session_past_half_its_life_is_renewed_on_a_read,
);

/// Koko's 404 for a missing control plane.
fn control_plane_not_found() -> Value {
    json!({"code": 5, "message": "control plane not found", "details": []})
}

async fn a_get_answers_what_the_write_answered_by_id_and_by_name_on_every_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "reads").await;
    let service = create(
        &app,
        &format!("{base}/services"),
        &json!({"name": "s", "host": "s.internal", "tags": ["a"]}),
    )
    .await;
    let consumer = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "u"}),
    )
    .await;
    // A plugin keeps the nulls of its config; an upstream's healthchecks hold nested
    // nulls that are dropped (the answer built through the tree).
    let plugin = create(
        &app,
        &format!("{base}/plugins"),
        &json!({"name": "key-auth"}),
    )
    .await;
    // key-auth's `anonymous` has no default (Kong's key-auth schema.lua).
    assert_eq!(
        plugin["config"].get("anonymous"),
        Some(&Value::Null),
        "{plugin}"
    );
    let upstream = create(&app, &format!("{base}/upstreams"), &json!({"name": "up"})).await;
    // A certificate is answered with its SNIs' names, read from their own rows.
    let (cert, key) = crate::certificates::ecdsa();
    let certificate = create(
        &app,
        &format!("{base}/certificates"),
        &json!({"cert": cert, "key": key, "snis": ["r.example.com"]}),
    )
    .await;
    assert_eq!(certificate["snis"], json!(["r.example.com"]));
    let cases = [
        ("services", &service, Some("s")),
        ("consumers", &consumer, Some("u")),
        ("plugins", &plugin, None),
        ("upstreams", &upstream, Some("up")),
        ("certificates", &certificate, None),
    ];
    for family in families(&cp) {
        for (collection, written, name) in &cases {
            let id = written["id"].as_str().unwrap();
            let response = app.get(&format!("{family}/{collection}/{id}")).await;
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "application/json",
                "{family}/{collection}"
            );
            let (status, read) = status_and_json(response).await;
            assert_eq!(
                (status, &read),
                (200, *written),
                "{family}/{collection}/{id}"
            );
            if let Some(name) = name {
                let read = fetch(&app, &format!("{family}/{collection}/{name}")).await;
                assert_eq!(&read, *written, "{family}/{collection}/{name}");
            }
        }
    }
    // A null left out at every depth outside config.
    let text = app
        .get(&format!("{base}/upstreams/up"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!text.contains("null"), "{text}");
    app.shutdown().await;
}

async fn a_missing_entity_is_404_by_id_and_by_name_on_every_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "missing").await;
    let service = create(&app, &format!("{base}/services"), &json!({"host": "h"})).await;
    let service_id = service["id"].as_str().unwrap();
    let gone = create(
        &app,
        &format!("{base}/consumers"),
        &json!({"username": "gone"}),
    )
    .await;
    let gone_id = gone["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("{base}/consumers/{gone_id}"))
            .await
            .status(),
        204
    );
    let missing = "1b6c9a44-3f0e-4d0a-9d55-0e4c1f2a7b10";
    for family in families(&cp) {
        for path in [
            format!("{family}/services/{missing}"),
            format!("{family}/services/nobody"),
            // An id of another kind, and a deleted entity by id and by name.
            format!("{family}/routes/{service_id}"),
            format!("{family}/consumers/{gone_id}"),
            format!("{family}/consumers/gone"),
            format!("{family}/plugins/{missing}"),
        ] {
            let (status, body) = status_and_json(app.get(&path).await).await;
            assert_eq!((status, body), (404, not_found()), "{path}");
        }
    }
    app.shutdown().await;
}

async fn a_hidden_or_deleted_control_plane_hides_its_entities(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut reads = Vec::new();
    for name in ["hidden", "deleted"] {
        let (cp, base) = control_plane(&app, name).await;
        let service = create(
            &app,
            &format!("{base}/services"),
            &json!({"name": "kept", "host": "h"}),
        )
        .await;
        let plugin = create(
            &app,
            &format!("{base}/plugins"),
            &json!({"name": "correlation-id"}),
        )
        .await;
        for family in families(&cp) {
            reads.push(format!(
                "{family}/services/{}",
                service["id"].as_str().unwrap()
            ));
            reads.push(format!("{family}/services/kept"));
            reads.push(format!(
                "{family}/plugins/{}",
                plugin["id"].as_str().unwrap()
            ));
        }
        if name == "hidden" {
            // What the first transaction of a chunked delete leaves (SQLite): the control
            // plane hidden, its entities still there.
            let mut conn = sqlx::AnyConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query("UPDATE control_planes SET deleting = 1, name = 'gone' WHERE id = $1")
                .bind(&cp)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        } else {
            let response = app.delete(&format!("/v2/control-planes/{cp}")).await;
            assert_eq!(response.status(), 204);
        }
    }
    for path in reads {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!((status, body), (404, control_plane_not_found()), "{path}");
    }
    app.shutdown().await;
}

/// Plugins have no endpoint key: a name is a 400 (Kong/koko reads them by id only),
/// but a missing control plane is the 404 it would be for an id.
async fn a_name_where_only_ids_fit_is_400_after_the_control_planes_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "ids").await;
    let (status, body) = status_and_json(app.get(&format!("{base}/plugins/ping-auth")).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "'ping-auth' is not a valid uuid: plugins are addressed by id only"
    );
    let missing = cp.replace(|c: char| c.is_ascii_hexdigit(), "7");
    for family in families(&missing) {
        let (status, body) =
            status_and_json(app.get(&format!("{family}/plugins/ping-auth")).await).await;
        assert_eq!((status, body), (404, control_plane_not_found()), "{family}");
    }
    app.shutdown().await;
}

/// The web UI's session is renewed on any authenticated request once past half its life
/// (docs/ui.md), a read answered from the stored text included; a fresh one is not.
async fn a_ui_session_past_half_its_life_is_renewed_on_a_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "session").await;
    let service = create(&app, &format!("{base}/services"), &json!({"host": "h"})).await;
    let item = format!("{base}/services/{}", service["id"].as_str().unwrap());
    let (cookie, _) = crate::ui::sign_in(&app, &app.token).await;
    let read = |cookie: String| {
        app.client
            .request(Method::GET, app.url(&item))
            .header(COOKIE, cookie)
            .send()
    };
    let fresh = read(cookie.clone()).await.unwrap();
    assert_eq!(fresh.status(), 200);
    assert!(!fresh.headers().contains_key(SET_COOKIE));

    // The same session, issued 40 minutes ago (of its 60), signed with the server's key.
    let (name, jwt) = cookie.split_once('=').unwrap();
    let secret = app.store().server_key("ui-session-hs256").await.unwrap();
    let mut claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_secret(&secret).unwrap(),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .unwrap()
    .claims;
    claims["iat"] = json!(claims["iat"].as_i64().unwrap() - 2400);
    let aged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
    )
    .unwrap();
    let renewed = read(format!("{name}={aged}")).await.unwrap();
    assert_eq!(renewed.status(), 200);
    let set_cookie = renewed.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with(&format!("{name}=")), "{set_cookie}");
    assert_eq!(renewed.json::<Value>().await.unwrap(), service);
    app.shutdown().await;
}
