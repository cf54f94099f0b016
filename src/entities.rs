//! The core-entity workflow every resource shares (services, routes, consumers, consumer
//! groups, plugins): resolve the path's id or name, pick the entity's schema, validate
//! with Kong's semantics (on the Lua pool when the schema has functions), apply the
//! kind's own rules, write through the store, and answer Konnect's bare object with
//! unset fields left out. It knows nothing of HTTP: it answers [`EntityError`], which
//! `src/error.rs` words.
//!
//! - [`workflow`]: create, put, patch, get, delete, list ([`Entities`]).
//! - [`schema_choice`]: which schema validates an entity, and where it runs.
//! - [`record`]: what the store keeps, how its refusals read, what the API answers.
//! - [`kinds`]: the entity kinds, with the hooks of [`plugins`] and [`routes`].

mod certificate_snis;
pub mod consumer_group_members;
pub mod credentials;
mod error;
mod keys;
pub mod kinds;
mod list;
pub mod plugins;
mod reads;
mod record;
mod routes;
mod schema_choice;
mod tls;
mod upstreams;
mod workflow;

pub use error::EntityError;
pub use kinds::EntityKind;
pub use list::ListRequest;
pub use reads::Presented;
pub use workflow::{Entities, Listing, Parent, Scope};
