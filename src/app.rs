//! The state every request handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::cluster::certificates::TlsFiles;
use crate::cluster::hub::Hub;
use crate::domain::control_plane::Endpoints;
use crate::entities::Entities;
use crate::lua::runner::LuaRunner;
use crate::lua::schema_cache::SchemaCache;
use crate::metrics::HttpMetrics;
use crate::store::Store;

/// Page size of a list request that names none (Konnect's default).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Distinct schemas (core entities and every control plane's custom plugins) kept ready.
const MAX_CACHED_SCHEMAS: usize = 512;

/// Settings the API needs at request time.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_body_size: usize,
    pub max_page_size: u32,
    pub max_lua_schema_size: usize,
    pub endpoints: Endpoints,
}

/// Counters shown by `/status`, as Kong's status API shows its server counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_accepted: AtomicU64,
    pub connections_active: AtomicU64,
    pub total_requests: AtomicU64,
}

#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub settings: Settings,
    /// Where Lua runs (schema uploads, and validation through [`App::entities`]).
    pub lua: Arc<LuaRunner>,
    /// The core-entity workflow.
    pub entities: Entities,
    /// Config snapshots for the data planes; the store tells it of every committed
    /// change.
    pub cluster: Arc<Hub>,
    /// The cluster certificate files (the CA is what data planes trust).
    pub cluster_tls: TlsFiles,
    pub stats: ServerStats,
    /// Request counts and latencies for `GET /metrics`.
    pub http_metrics: HttpMetrics,
    /// The key that signs web UI sessions, read from the database on first use.
    pub ui_sessions: crate::http::ui_session::SessionKeys,
}

/// What handlers take: `state: AppState`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    pub fn new(
        store: Store,
        settings: Settings,
        lua: LuaRunner,
        cluster: Arc<Hub>,
        cluster_tls: TlsFiles,
    ) -> Self {
        // One idle VM per Lua worker is enough for each schema to never wait on another.
        let schemas = Arc::new(SchemaCache::new(MAX_CACHED_SCHEMAS, lua.concurrency()));
        let lua = Arc::new(lua);
        let entities = Entities::new(store.clone(), lua.clone(), schemas);
        AppState(Arc::new(App {
            store,
            settings,
            lua,
            entities,
            cluster,
            cluster_tls,
            stats: ServerStats::default(),
            http_metrics: HttpMetrics::default(),
            ui_sessions: Default::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl axum::extract::FromRequestParts<AppState> for AppState {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(state.clone())
    }
}
