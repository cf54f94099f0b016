//! Data-plane sync: Kong's hybrid protocol v1 over mutual TLS (clustering-protocol.md).
//! `server` is the cluster listener, `session` one data plane's loop, `hub` builds one
//! snapshot per change and control plane, `export` and `hash` make the config and
//! Kong's hash, `compat` decides what each data plane may get, `tls` the certificates.

pub mod client;
pub mod compat;
pub mod export;
pub mod hash;
pub mod hub;
pub mod provision;
pub mod server;
pub mod session;
pub mod tls;
