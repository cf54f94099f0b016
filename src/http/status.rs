//! `GET /status`: liveness and database reachability, without a token, in the shape of
//! Kong's status API (`{"database": {"reachable": ...}, "server": {...}}`), plus the
//! data planes connected to this node.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::http::Method;
use serde_json::{Value, json};

use super::Api;
use crate::app::AppState;

pub fn routes(api: Api) -> Api {
    api.at(Method::GET, "/status", get_status)
}

/// Kong: `GET /status` (kong/api/routes/health.lua) answers 200 and reports reachability.
async fn get_status(state: AppState) -> Json<Value> {
    let stats = &state.stats;
    Json(json!({
        "database": {
            "reachable": state.store.is_reachable().await,
            "backend": format!("{:?}", state.store.backend()).to_lowercase(),
        },
        "server": {
            "connections_accepted": stats.connections_accepted.load(Ordering::Relaxed),
            "connections_active": stats.connections_active.load(Ordering::Relaxed),
            "total_requests": stats.total_requests.load(Ordering::Relaxed),
        },
        "cluster": {
            "connected_data_planes": state.cluster.connected_data_planes_total(),
        },
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
