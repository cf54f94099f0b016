//! Data-plane sync: Kong's hybrid protocol v1 over mutual TLS (docs/clustering.md).
//!
//! - `listener`: the cluster listener (accept loop, TLS handshake, the two outlets' routes).
//! - `admission`: whether a connecting data plane is let in and as whom (the control plane
//!   its certificate reaches, its node id), and the refusals' texts.
//! - `session`: one data plane's v1 loop (`basic_info`, configs, pings, error reports).
//! - `rpc_shim`: `/v2/outlet`, answered so that 3.10+ data planes fall back to v1.
//! - `websocket`: sends with a timeout, close frames and codes, the too-big check.
//! - `hub` builds one snapshot per change and control plane; `export` and `hash` make the
//!   config and Kong's hash; `compat` decides what each data plane may get.
//! - `tls`: the cluster port's rustls configuration and the client-certificate check;
//!   `certificates`: the CA, server and data plane certificates and PEM helpers;
//!   `public_url`: host names, address and `docker run` from `--cluster-public-url`.
//! - `provision`: a new data plane (certificate pinned, `docker run`); `client`: the small
//!   data plane of `konnektd dataplane connect`.
//!
//! Imports run one way, from the listener down:
//! - `listener` → `admission`, `session`, `rpc_shim`, `tls`; nothing imports `listener`.
//! - `session` → `admission`, `websocket`, `hub`, `export`, `compat`, `hash`.
//! - `rpc_shim` → `admission`, `websocket`, `hub`.
//! - `admission` → `tls`, `certificates`, `hub`; `tls` → `certificates`.
//! - `provision` → `certificates`, `public_url`, `tls`; `client` → `tls`, `hash`.
//! - `hub` → `export`, `hash`; `export` → `compat`, `hash`.
//! - `websocket`, `certificates`, `public_url`, `compat` and `hash` import nothing of
//!   `cluster`.

pub mod admission;
pub mod certificates;
pub mod client;
pub mod compat;
pub mod export;
mod export_state;
mod gzip_segments;
pub mod hash;
pub mod hub;
pub mod listener;
pub mod provision;
pub mod public_url;
mod rpc_shim;
pub mod session;
pub mod snapshot_metrics;
pub mod sync_state;
pub mod tls;
mod websocket;
