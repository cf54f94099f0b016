//! `x-request-id` from the caller: kept when sane, so a proxy's or a client's id ties
//! their logs to ours (issue 16), replaced when it could not be echoed safely.

use crate::both_backends;
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(a_sane_incoming_request_id_is_kept_and_an_insane_one_replaced);

async fn get_with_id(app: &TestApp, path: &str, id: &str) -> reqwest::Response {
    app.request(reqwest::Method::GET, path)
        .header("x-request-id", id)
        .send()
        .await
        .unwrap()
}

async fn a_sane_incoming_request_id_is_kept_and_an_insane_one_replaced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = "/v2/control-planes/00000000-0000-4000-8000-000000000000";

    let sane = "req-2f1c.client_7";
    let response = get_with_id(&app, missing, sane).await;
    assert_eq!(response.headers()["x-request-id"], sane);
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 404);
    assert_eq!(body["instance"], format!("konnektd:trace:{sane}"), "{body}");

    // Legacy bodies quote it in `request_id`.
    let cp = app
        .create_control_plane(&serde_json::json!({"name": "ids"}))
        .await;
    let path = format!(
        "/v2/control-planes/{}/core-entities/plugin-schemas/nothing",
        cp["id"].as_str().unwrap()
    );
    let (status, body) = status_and_json(get_with_id(&app, &path, sane).await).await;
    assert_eq!(status, 404);
    assert_eq!(body["request_id"], sane, "{body}");

    for insane in ["has space", "quo\"te", &"a".repeat(129), "</script>"] {
        let response = get_with_id(&app, missing, insane).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 32, "{insane:?} replaced by a new id, got {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        let (_, body) = status_and_json(response).await;
        assert_eq!(body["instance"], format!("konnektd:trace:{id}"), "{body}");
    }
    app.shutdown().await;
}
