//! The one home of the suite's test infrastructure. [`TestApp::spawn`] runs konnektd
//! in-process on 127.0.0.1:0 with a fresh database (a temp-file SQLite, or a new database
//! on the PostgreSQL of [`postgres`], which `tests/support/postgres_cluster.rs` starts and
//! the benches share), and [`both_backends!`] turns one `async fn(Backend)` into a test per
//! backend; [`process`] runs konnektd as a child process instead, for signals and the CLI.
//! [`core_entities`] holds the requests and Konnect error bodies the core-entity tests
//! share; [`data_plane`] is a fake Kong data plane written from Kong's side of the protocol,
//! with [`certificates`] for it, [`kong_hash`] to check its configs independently of
//! konnektd's code, and [`cluster_fixture`] for the control plane it talks to.

pub mod certificates;
pub mod cluster_fixture;
pub mod core_entities;
pub mod data_plane;
pub mod kong_hash;
pub mod postgres;
pub mod process;

use std::time::Duration;

use konnektd::command_line::{ServeArgs, StoreArgs};
use konnektd::domain::token::{TokenKind, TokenSecret};
use konnektd::startup::{self, Running};
use konnektd::store::Store;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test function per backend: `both_backends!(my_test);` for `async fn my_test(b: Backend)`.
/// The PostgreSQL one is ignored when built with `KONNEKTD_TEST_SKIP_POSTGRES=1` (build.rs);
/// a test that needs PostgreSQL alone carries the same `cfg_attr`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
            async fn postgres() {
                if $crate::harness::postgres::available() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            }
        }
    )*};
}

/// A fresh, empty database of `backend`; the directory holds SQLite's file and any
/// data dir the test wants.
pub async fn fresh_database(backend: Backend) -> (String, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        Backend::Postgres => postgres::create_database().await,
    };
    (url, dir)
}

/// Settings as `konnektd serve` would have them, on ephemeral ports, with `bootstrap` as
/// the admin token and a shorter shutdown grace.
pub fn serve_args(database_url: &str, dir: &TempDir, bootstrap: &TokenSecret) -> ServeArgs {
    let mut args = ServeArgs::with_defaults(StoreArgs {
        data_dir: dir.path().join("data"),
        database_url: Some(database_url.to_string()),
    });
    args.listen = "127.0.0.1:0".parse().unwrap();
    args.cluster_listen = "127.0.0.1:0".parse().unwrap();
    args.bootstrap_token = Some(bootstrap.expose().to_string());
    args.shutdown_grace = Duration::from_secs(5);
    args
}

/// Server logs go to the test's captured output, shown only when it fails.
fn init_test_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub struct TestApp {
    pub base: String,
    /// An admin token (the bootstrap token of this instance).
    pub token: String,
    pub database_url: String,
    pub backend: Backend,
    pub client: reqwest::Client,
    running: Option<Running>,
    pub dir: TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings changed by `tweak` first.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut ServeArgs)) -> Self {
        init_test_logging();
        let (database_url, dir) = fresh_database(backend).await;
        let bootstrap = TokenSecret::generate(TokenKind::PersonalAccess);
        let mut args = serve_args(&database_url, &dir, &bootstrap);
        tweak(&mut args);
        let running = startup::start(&args).await.expect("konnektd starts");
        TestApp {
            base: format!("http://{}", running.addr),
            token: bootstrap.expose().to_string(),
            database_url,
            backend,
            client: reqwest::Client::new(),
            running: Some(running),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("running").addr
    }

    /// Where data planes connect.
    pub fn cluster_addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("running").cluster_addr
    }

    /// The server's state (cluster hub, settings), for assertions on internals.
    pub fn state(&self) -> &konnektd::app::AppState {
        &self.running.as_ref().expect("running").state
    }

    /// The server's own store handle, for arranging state a test cannot reach by API.
    pub fn store(&self) -> &Store {
        &self.running.as_ref().expect("running").state.store
    }

    /// A request with the admin token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("request")
    }

    /// Creates a control plane and returns its body.
    pub async fn create_control_plane(&self, body: &Value) -> Value {
        let response = self.post_json("/v2/control-planes", body).await;
        assert_eq!(response.status(), 201, "creating {body}");
        response.json().await.unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// A file under `tests/fixtures/`.
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The `name`s of a list response's `data`, sorted.
pub fn sorted_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Status and JSON body of a response.
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, body)
}

/// A problem body with `instance` checked against the request id and then removed,
/// so tests can compare whole bodies.
pub async fn problem(response: Response) -> (u16, Value) {
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("every response has a request id")
        .to_str()
        .unwrap()
        .to_string();
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert_eq!(content_type, "application/problem+json");
    let (status, mut body) = status_and_json(response).await;
    let instance = body
        .as_object_mut()
        .and_then(|o| o.remove("instance"))
        .expect("problem bodies have an instance");
    assert_eq!(instance, format!("konnektd:trace:{request_id}"));
    (status, body)
}
