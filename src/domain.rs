//! Plain types and rules of the control plane: tokens, control planes, paging and the
//! field errors that input validation produces. Nothing here knows about HTTP or storage.

pub mod bundled_plugins;
pub mod control_plane;
pub mod entity_kind;
pub mod field_error;
pub mod json_input;
pub mod paging;
pub mod plugin_schema;
pub mod token;

/// Milliseconds since the Unix epoch: the one clock every stored timestamp uses.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Seconds since the Unix epoch, to the millisecond, as Kong's `ngx.now()` gives them.
pub fn now_seconds() -> f64 {
    now_millis() as f64 / 1000.0
}
