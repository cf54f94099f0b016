//! Data-plane sync: Kong's hybrid protocol v1 over mutual TLS (docs/clustering.md).
//! `server` is the cluster listener, `session` one data plane's loop, `hub` builds one
//! snapshot per change and control plane, `export` and `hash` make the config and
//! Kong's hash, `compat` decides what each data plane may get, `tls` the cluster port's
//! rustls configuration, `certificates` the certificate files, `public_url` the host
//! names and the `docker run` from `--cluster-public-url`.

pub mod certificates;
pub mod client;
pub mod compat;
pub mod export;
pub mod hash;
pub mod hub;
pub mod provision;
pub mod public_url;
pub mod server;
pub mod session;
pub mod tls;
