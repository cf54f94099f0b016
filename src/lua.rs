//! The sandboxed Lua VM that evaluates uploaded `schema.lua` files and runs their
//! validator functions. Uploaded Lua is hostile: see `sandbox` for the layers.

pub mod entities;
mod json_args;
pub mod limits_hit;
pub mod load;
pub mod lua_syntax;
pub mod modules;
pub mod plugins;
pub mod runner;
pub mod sandbox;
pub mod schema_cache;
pub mod strlib;
#[cfg(test)]
mod tests;
