//! konnektd: a self-hosted control plane that speaks Kong Konnect's control-plane API.
//!
//! Start at [`commands::run`] for the commands, [`startup::start`] for a running service, [`api_listener::serve`] for the HTTP accept loop and
//! [`http::router`] for the API surface.

pub mod api_listener;
pub mod app;
pub mod cluster;
pub mod command_line;
pub mod commands;
pub mod domain;
pub mod entities;
pub mod error;
pub mod http;
pub mod lua;
pub mod lua_pattern;
pub mod metrics;
pub mod schema;
pub mod startup;
pub mod store;
