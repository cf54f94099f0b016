//! Plain types and rules of the control plane: tokens, control planes, paging, points in
//! time and the field errors that input validation produces. Nothing here knows about
//! HTTP or storage.

pub mod bundled_plugins;
pub mod control_plane;
pub mod entity_kind;
pub mod field_error;
pub mod json_input;
pub mod key_material;
pub mod paging;
pub mod plugin_schema;
pub mod time;
pub mod token;

pub use time::Timestamp;
