//! Vault references in plugin configs, as Kong 3.10 checks them when a control plane
//! writes: their syntax only. In `Schema:validate_field` (kong/db/schema/init.lua), a
//! string of a `referenceable` field that `kong.vault.is_reference` accepts
//! (kong/pdk/vault.lua: `{vault://` ... `}`, case-sensitive) is valid and skips the
//! field's validators; anything else is validated as the field says. Kong never asks
//! whether a vault with the reference's prefix is configured: references are resolved
//! only off control planes (`process_auto_fields`: "We don't want to resolve references
//! on control planes"), where an unknown one is `vault not found` at run time
//! (`kong.vault.get`). So a reference is stored and sent to data planes as written.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::core_entities::{control_plane, create, field_error, koko};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_reference_to_any_vault_prefix_is_stored_as_written_where_the_field_is_referenceable,
    what_is_not_a_reference_is_validated_as_its_field_says,
);

fn datadog(host: &str) -> Value {
    json!({"name": "datadog", "config": {"host": host}})
}

async fn a_reference_to_any_vault_prefix_is_stored_as_written_where_the_field_is_referenceable(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "vault-refs").await;
    create(
        &app,
        &format!("{base}/vaults"),
        &json!({"name": "env", "prefix": "configured", "config": {"prefix": "DD_"}}),
    )
    .await;
    let plugins = format!("{base}/plugins");
    // A configured prefix, a bundled vault's name, a prefix nothing configures, and
    // `{vault://}`, which `is_reference` accepts though no vault could resolve it.
    for reference in [
        "{vault://configured/host}",
        "{vault://env/DD_HOST}",
        "{vault://no-such-vault/host/key?version=2#1}",
        "{vault://}",
    ] {
        // datadog's `host` is `typedefs.host { referenceable = true }`: the reference is
        // no host name, and is not held to the host validator.
        let plugin = create(&app, &plugins, &datadog(reference)).await;
        assert_eq!(plugin["config"]["host"], reference);
        let deleted = app
            .delete(&format!("{plugins}/{}", plugin["id"].as_str().unwrap()))
            .await;
        assert_eq!(deleted.status(), 204);
    }
    // Referenceable map values (http-log's `headers`) and a required referenceable
    // string (http-log's `http_endpoint`, `typedefs.url`).
    let http_log = create(
        &app,
        &plugins,
        &json!({"name": "http-log", "config": {
            "http_endpoint": "{vault://no-such-vault/endpoint}",
            "headers": {"X-Token": "{vault://no-such-vault/token}"}}}),
    )
    .await;
    assert_eq!(
        http_log["config"]["http_endpoint"],
        "{vault://no-such-vault/endpoint}"
    );
    // Data planes get the reference to resolve themselves.
    let table = konnektd::cluster::export::export_config(app.store(), cp.parse().unwrap())
        .await
        .unwrap();
    let exported = &table["plugins"][0]["config"];
    assert_eq!(
        exported["http_endpoint"],
        "{vault://no-such-vault/endpoint}"
    );
    assert_eq!(
        exported["headers"]["X-Token"],
        "{vault://no-such-vault/token}"
    );
    app.shutdown().await;
}

async fn what_is_not_a_reference_is_validated_as_its_field_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "vault-refs").await;
    let plugins = format!("{base}/plugins");
    let refused = |config: Value, field: &str, message: String| {
        let (app, plugins) = (&app, &plugins);
        let field = field.to_string();
        async move {
            assert_eq!(
                status_and_json(app.post_json(plugins, &config).await).await,
                (
                    400,
                    koko("validation error", vec![field_error(&field, &[&message])])
                ),
                "{config}"
            );
        }
    };
    // Near misses of `{vault://...}` are plain strings, held to `typedefs.host`.
    for near_miss in [
        "{vault:/env/host}",
        "{Vault://env/host}",
        "vault://env/host",
        "{vault://env/host",
    ] {
        refused(
            datadog(near_miss),
            "config.host",
            format!("invalid value: {near_miss}"),
        )
        .await;
    }
    // A field that is not referenceable takes a reference as a plain string (http-log's
    // `method`, a `one_of`).
    refused(
        json!({"name": "http-log", "config": {
            "http_endpoint": "http://logs.example.com", "method": "{vault://env/method}"}}),
        "config.method",
        "expected one of: POST, PUT, PATCH".to_string(),
    )
    .await;
    app.shutdown().await;
}
