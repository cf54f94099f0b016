//! The authentication plugins.

use serde_json::json;

use super::{Expect, config, run};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::core_entities::field_error;

both_backends!(authentication_plugins_get_kongs_defaults_and_kongs_errors);

async fn authentication_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    run(
        backend,
        vec![
            // developer.konghq.com, key-auth configuration reference (Kong 3.10).
            config(
                "key-auth",
                json!({}),
                Expect::Stored(json!({
                    "key_names": ["apikey"], "hide_credentials": false, "anonymous": null,
                    "key_in_header": true, "key_in_query": true, "key_in_body": false,
                    "run_on_preflight": true, "realm": null
                })),
            ),
            // Kong's `typedefs.header_name` validator (`kong/db/schema/typedefs.lua`).
            config(
                "key-auth",
                json!({"key_names": ["bad name"], "hide_credentials": "yes"}),
                Expect::Refused(vec![
                    field_error("config.hide_credentials", &["expected a boolean"]),
                    field_error(
                        "config.key_names[0]",
                        &["bad header name 'bad name', allowed characters are A-Z, a-z, 0-9, '_', and '-'"],
                    ),
                ]),
            ),
        ],
    )
    .await;
}
