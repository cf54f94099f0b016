//! The HTTP edge: one route table, the middleware around it, and one file per resource.
//!
//! Routes are grouped by the error family their bodies use (docs/api.md, "Error bodies") and by
//! whether they need a token. [`route_table`] lists every method and path served, and a
//! test holds `openapi.yaml` to it.

mod auth;
mod certificates;
mod consumer_groups;
mod consumers;
mod control_planes;
mod core_entities;
mod credentials;
mod data_planes;
mod entity_list;
pub mod extract;
mod keys;
mod metrics;
mod plugin_schemas;
mod plugins;
mod routes;
mod services;
mod status;
mod ui_assets;
pub mod ui_session;
mod upstreams;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_http::limit::RequestBodyLimitLayer;

use crate::app::AppState;
use crate::error::{ApiError, BodyLimit, ErrorFamily, RequestId, render_errors};

/// A router that remembers the method and path of every route it serves.
pub struct Api {
    router: Router<AppState>,
    routes: Vec<(Method, String)>,
}

impl Api {
    fn new() -> Self {
        Api {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn at<H, T>(self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = on(method_filter(&method), handler);
        self.add(method, path, route)
    }

    fn add(mut self, method: Method, path: &str, route: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, route);
        self.routes.push((method, path.to_string()));
        self
    }

    /// Like [`Api::at`], for a route whose errors take another family than its group's.
    fn at_in_family<H, T>(self, method: Method, path: &str, family: ErrorFamily, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = on(method_filter(&method), handler)
            .layer(middleware::from_fn_with_state(family, render_errors));
        self.add(method, path, route)
    }
}

fn method_filter(method: &Method) -> MethodFilter {
    MethodFilter::try_from(method.clone()).expect("a standard method")
}

/// Routes that share an error family and an authentication rule.
struct Group {
    family: ErrorFamily,
    public: bool,
    /// Whether a control plane being deleted answers 404 here before the handler runs.
    /// Not on the control planes' own routes: their store reads leave it out already and
    /// answer their own 404.
    hides_deleting: bool,
    api: Api,
}

fn groups() -> Vec<Group> {
    vec![
        Group {
            family: ErrorFamily::Problem,
            public: true,
            hides_deleting: false,
            api: metrics::routes(status::routes(Api::new())),
        },
        Group {
            family: ErrorFamily::Problem,
            public: false,
            hides_deleting: false,
            api: control_planes::routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Problem,
            public: false,
            hides_deleting: true,
            api: plugin_schemas::list_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Problem,
            public: true,
            hides_deleting: false,
            api: ui_session::routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Problem,
            public: false,
            hides_deleting: true,
            api: ui_session::session_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Legacy,
            public: false,
            hides_deleting: true,
            api: plugin_schemas::routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Legacy,
            public: false,
            hides_deleting: true,
            api: data_planes::certificate_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Problem,
            public: false,
            hides_deleting: true,
            api: data_planes::node_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Koko,
            public: false,
            hides_deleting: true,
            api: plugin_schemas::schema_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Problem,
            public: false,
            hides_deleting: true,
            api: upstreams::target_list_routes(Api::new()),
        },
        Group {
            family: ErrorFamily::Koko,
            public: false,
            hides_deleting: true,
            api: [
                services::routes,
                routes::routes,
                consumers::routes,
                consumer_groups::routes,
                plugins::routes,
                credentials::routes,
                upstreams::routes,
                certificates::routes,
                keys::routes,
            ]
            .into_iter()
            .fold(Api::new(), |api, mount| mount(api)),
        },
    ]
}

/// Every `(method, path)` the API serves, in axum's path syntax (the web UI's static
/// files at `/` and `/assets/...` aside).
pub fn route_table() -> Vec<(Method, String)> {
    groups().into_iter().flat_map(|g| g.api.routes).collect()
}

/// The web UI's embedded files and their sizes.
pub fn ui_files() -> Vec<(String, usize)> {
    ui_assets::files()
}

/// The whole API, ready to serve.
pub fn router(state: AppState) -> Router {
    let max_body_size = state.settings.max_body_size;
    let mut router = Router::new();
    for group in groups() {
        let mut routes = group
            .api
            .router
            .route_layer(middleware::from_fn(extract::refuse_nul_in_uri));
        if group.hides_deleting {
            // Inside the token check, so a token's 401 or 403 comes first.
            routes = routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::hide_deleting_control_planes,
            ));
        }
        if !group.public {
            routes = routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_token,
            ));
        }
        router =
            router.merge(routes.layer(middleware::from_fn_with_state(group.family, render_errors)));
    }
    router
        .merge(ui_assets::router())
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        // Bodies are refused before any handler parses them: by Content-Length at once,
        // and while streaming for chunked uploads.
        .layer(DefaultBodyLimit::max(max_body_size))
        .layer(RequestBodyLimitLayer::new(max_body_size))
        .layer(middleware::from_fn_with_state(
            ErrorFamily::Problem,
            render_errors,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), tag_request))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .with_state(state)
}

/// Gives each request its id (`x-request-id`: the caller's when sane, so a proxy's or a
/// client's id ties their logs to ours), counts it and logs its outcome.
///
/// By hand rather than tower-http's `SetRequestIdLayer`: that layer keeps any incoming
/// value, and this one must be vetted before it reaches the log and the error bodies.
async fn tag_request(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    state.stats.total_requests.fetch_add(1, Ordering::Relaxed);
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string);
    request.extensions_mut().insert(RequestId(id.clone()));
    request
        .extensions_mut()
        .insert(BodyLimit(state.settings.max_body_size));
    let token_name = auth::TokenName::default();
    request.extensions_mut().insert(token_name.clone());
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let mut response = next.run(request).await;
    tracing::info!(
        request.id = id,
        client.address = client.map(tracing::field::display),
        token.name = token_name.get(),
        http.method = %method,
        http.path = path,
        http.status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// An id safe to echo in a header, a log line and a JSON string without escaping: 1 to
/// 128 of `[A-Za-z0-9._-]` (a UUID, a 32-hex id, `req-...`, a trace id all fit).
fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::is_sane_request_id;

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert!(is_sane_request_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(is_sane_request_id("req_1.a"));
        assert!(is_sane_request_id(&"a".repeat(128)));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("a\"quote"));
        assert!(!is_sane_request_id("x\u{e9}"));
    }
}
