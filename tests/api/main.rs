//! The integration suite: the real server on an ephemeral port, over real HTTP, on
//! SQLite and on a real PostgreSQL. One binary, one module per resource.

mod bundled_plugins;
mod harness;
mod kong_bundled;

mod auth;
mod auth_log;
mod certificates;
mod cli_missing_store;
mod cluster;
mod consumer_group_members;
mod consumer_groups;
mod consumers;
mod contract;
mod control_planes;
mod credentials;
mod data_dir_lock;
mod dataplane_cli;
mod deletes;
mod entity_reads;
mod error_messages;
mod first_start;
mod keys;
mod kong_parity;
mod lifecycle;
mod limits;
mod metrics;
mod migrations;
mod openapi;
mod openapi_properties;
mod plugin_schemas;
mod plugins;
mod request_ids;
mod request_log;
mod robustness;
mod routes;
mod services;
mod startup_errors;
mod status;
mod tokens_cli;
mod ui;
mod upstreams;
mod writes;
