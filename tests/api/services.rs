//! Services under `/core-entities/services`, with Kong 3.10's rules
//! (kong/db/schema/entities/services.lua, src/lua/entities/NOTES.md) and Konnect's
//! Koko-shaped errors (docs/api.md, "Error bodies").

mod lists;
mod lookup_and_delete;
mod url_families;
mod writes;

use serde_json::{Value, json};

/// A service with Kong's defaults for everything not given.
fn service_defaults(overrides: Value) -> Value {
    let mut service = json!({
        "protocol": "http",
        "port": 80,
        "retries": 5,
        "connect_timeout": 60000,
        "read_timeout": 60000,
        "write_timeout": 60000,
        "enabled": true,
    });
    for (k, v) in overrides.as_object().unwrap() {
        service[k] = v.clone();
    }
    service
}
