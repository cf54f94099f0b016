//! Kong's plugin-schema language, in Rust: the value tree a `schema.lua` evaluates to,
//! Kong's metaschema checks on it, and its JSON rendering. Nothing here runs Lua or
//! knows about HTTP or storage; the `lua` module produces the tree.

pub mod definition;
pub mod errors;
pub mod filled;
pub mod merge;
pub mod metaschema;
pub mod pcre;
pub mod plugin_entity;
pub mod render;
pub mod validate;
pub mod value;
