//! Data-plane sync: Kong's hybrid protocol v1 over mutual TLS. `hash` is Kong's config
//! hash, `export` builds the `config_table` a data plane loads.

pub mod export;
pub mod hash;
pub mod tls;
