//! Data-plane sync, from the outside: a fake Kong data plane (`harness::data_plane`, with
//! its own TLS, WebSocket, gzip and Kong-hash code and none of konnektd's cluster modules)
//! against the real cluster listener. One file per part of the protocol
//! (docs/clustering.md).

mod auth;
mod capacity;
mod compatibility;
mod credentials;
mod handshake;
mod incremental;
mod keys;
mod lb_tls;
mod neighbours;
mod public_url;
mod push;
mod reports;
mod restart;
mod server_certificate;
mod two_nodes;
