//! `GET /metrics`: Prometheus's text format (OpenMetrics), without a token like
//! `/status`, and the middleware that counts every request by its route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Api;
use crate::app::AppState;
use crate::metrics::{ControlPlaneLabels, HttpLabels};

/// OpenMetrics text, which Prometheus asks for first and parses.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Requests that matched no route share one label, so scanners cannot grow the set.
const UNMATCHED: &str = "unmatched";

pub fn routes(api: Api) -> Api {
    api.at(Method::GET, "/metrics", scrape)
}

/// Counts the request under its route template (`MatchedPath`, never the raw path) and
/// times it.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let method = method_label(request.method()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = HttpLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state
        .http_metrics
        .observe(labels, started.elapsed().as_secs_f64());
    response
}

/// Any method outside the standard ones shares one label, as unmatched routes do.
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    STANDARD
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncStateLabels {
    control_plane_id: String,
    state: &'static str,
}

/// Builds the scrape: the kept HTTP and Lua figures, and what the hub and the pool say
/// now (read here rather than kept, so they cannot drift from the truth).
async fn scrape(state: AppState) -> Response {
    let mut registry = Registry::with_prefix("konnektd");
    state.http_metrics.register(&mut registry);
    state.lua.register_metrics(&mut registry);

    let connected = Family::<ControlPlaneLabels, Gauge>::default();
    for (cp, count) in state.cluster.connected_data_planes() {
        let labels = ControlPlaneLabels {
            control_plane_id: cp.to_string(),
        };
        connected
            .get_or_create(&labels)
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    registry.register(
        "data_planes_connected",
        "Data planes receiving a control plane's config now",
        connected,
    );
    let by_state = Family::<SyncStateLabels, Gauge>::default();
    for (cp, counts) in state.cluster.data_plane_states() {
        for (sync, count) in counts {
            let labels = SyncStateLabels {
                control_plane_id: cp.to_string(),
                state: sync.label(),
            };
            by_state
                .get_or_create(&labels)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
    registry.register(
        "data_planes",
        "Connected data planes by state: in_sync (their last ping reported the expected \
         config hash), out_of_sync, incompatible (they get no config)",
        by_state,
    );
    state.cluster.snapshot_metrics().register(&mut registry);

    let (open, idle) = state.store.pool_connections();
    let in_use = Gauge::<i64>::default();
    in_use.set(i64::from(open) - i64::try_from(idle).unwrap_or(0));
    let idle_gauge = Gauge::<i64>::default();
    idle_gauge.set(i64::try_from(idle).unwrap_or(i64::MAX));
    registry.register(
        "db_pool_connections_in_use",
        "Database connections checked out of the pool now",
        in_use,
    );
    registry.register(
        "db_pool_connections_idle",
        "Database connections idle in the pool now",
        idle_gauge,
    );
    registry.register(
        "db_pool_acquire_wait_seconds",
        "Time each query waited for a pooled database connection",
        state.store.acquire_waits(),
    );

    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => ([(CONTENT_TYPE, CONTENT)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
