//! konnektd: a self-hosted control plane that speaks Kong Konnect's control-plane API.
//!
//! Start at [`cli::run`] for the commands, [`server::serve`] for the HTTP service and
//! [`http::router`] for the API surface.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod entities;
pub mod error;
pub mod http;
pub mod lua;
pub mod lua_pattern;
pub mod schema;
pub mod server;
pub mod service;
pub mod store;
