//! Assembles a running konnektd from its settings: store, bootstrap token, HTTP listener,
//! cluster listener.
//! `konnektd serve` and the integration tests start it the same way.

mod data_dir_lock;
mod open_files;

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api_listener::{self, ServerLimits};
use crate::app::{AppState, Settings};
use crate::cluster::certificates::{self, ServerCertificate, TlsFiles};
use crate::cluster::compat::KongVersion;
use crate::cluster::hub::Hub;
use crate::cluster::listener::ClusterConfig;
use crate::cluster::public_url;
use crate::cluster::session::SessionSettings;
use crate::cluster::tls;
use crate::command_line::ServeArgs;
use crate::domain::Timestamp;
use crate::domain::control_plane::Endpoints;
use crate::domain::token::{NewToken, TokenKind, TokenSecret};
use crate::lua::runner::LuaRunner;
use crate::lua::sandbox::Limits;
use crate::store::{Backend, Store, StoreError};

/// A started service. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// Where data planes connect.
    pub cluster_addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    cluster_task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, drains in-flight requests, closes data-plane sessions, closes
    /// the store.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.cluster_task.abort();
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops by itself (a signal, with [`start_with_signals`]).
    pub async fn wait(self) {
        let _ = self.task.await;
        self.cluster_task.abort();
    }
}

/// Starts konnektd; it stops when [`Running::shutdown`] is called.
pub async fn start(args: &ServeArgs) -> anyhow::Result<Running> {
    let (stop, stopped) = oneshot::channel::<()>();
    let mut running = start_until(args, async {
        let _ = stopped.await;
    })
    .await?;
    running.stop = Some(stop);
    Ok(running)
}

/// Starts konnektd; it stops on SIGINT or SIGTERM.
pub async fn start_with_signals(args: &ServeArgs) -> anyhow::Result<Running> {
    start_until(args, api_listener::shutdown_signal()).await
}

async fn start_until(
    args: &ServeArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    tls::install_crypto_provider();
    open_files::raise_and_log(args.cluster_max_connections as usize);
    let database_url = args.store.resolve_url()?;
    // Before the database is opened (and migrated): a second server on one SQLite file
    // is refused, not started alongside.
    let data_dir_lock = match Backend::of_url(&database_url) {
        Some(Backend::Sqlite) => data_dir_lock::lock(&args.store.data_dir)?,
        _ => None,
    };
    let store = Store::open_with(&database_url, args.database_acquire_timeout).await?;
    store.resume_deletions().await?;
    let control_plane_version =
        KongVersion::parse(&args.cluster_kong_version).ok_or_else(|| {
            anyhow::anyhow!(
                "--cluster-kong-version '{}' is not a Kong version",
                args.cluster_kong_version
            )
        })?;
    let cluster_listener = TcpListener::bind(args.cluster_listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.cluster_listen))?;
    let cluster_addr = cluster_listener.local_addr()?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // The bound port, so `--cluster-listen 127.0.0.1:0` (the tests) still names a real one.
    let public_url = public_url::resolve(args.cluster_public_url.as_deref(), cluster_addr);
    let tls_files = cluster_certificates(args, &public_url)?;
    let cluster_tls = tls::server_config(&tls_files)?;
    // Only now, with both ports ours and the certificates usable: a token logged by a
    // start that then failed would be shown once and never again (the next start finds
    // a token and says nothing).
    ensure_bootstrap_token(&store, args.bootstrap_token.as_deref()).await?;
    // The hub hears of changes from here on; then the other nodes' are listened to.
    let hub = Hub::new(store.clone());
    store
        .listen_to_other_nodes(database_url.clone(), std::time::Duration::from_secs(5))
        .await;
    let state = AppState::new(
        store,
        Settings {
            max_body_size: args.max_body_size,
            max_page_size: args.max_page_size,
            max_lua_schema_size: args.max_lua_schema_size,
            endpoints: Endpoints {
                control_plane: public_url.clone(),
                telemetry: public_url,
            },
        },
        LuaRunner::new(
            Limits {
                deadline: args.lua_timeout,
                memory_bytes: args.lua_memory_limit,
                pattern_steps: args.lua_pattern_steps,
            },
            args.lua_concurrency as usize,
        ),
        hub.clone(),
        tls_files.clone(),
    );
    let cluster_task = tokio::spawn(crate::cluster::listener::serve(
        cluster_listener,
        state.store.clone(),
        hub,
        ClusterConfig {
            tls: cluster_tls,
            settings: SessionSettings {
                ping_wait: args.cluster_ping_wait,
                write_timeout: args.cluster_write_timeout,
                control_plane_version,
                max_payload: args.cluster_max_payload,
            },
            max_inbound: args.cluster_max_inbound,
            max_connections: args.cluster_max_connections as usize,
        },
    ));
    let router = crate::http::router(state.clone());
    let limits = ServerLimits {
        header_read_timeout: args.header_read_timeout,
        shutdown_grace: args.shutdown_grace,
    };
    let serve_state = state.clone();
    let task = tokio::spawn(async move {
        // Data planes are told to go at once, while requests drain: both within one grace
        // period, and the data planes can move to another node without waiting for ours.
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(());
        };
        let hub = serve_state.cluster.clone();
        let sessions = async move {
            if stopped.await.is_ok() {
                hub.close_sessions(limits.shutdown_grace).await;
            }
        };
        tokio::join!(
            api_listener::serve(listener, router, serve_state.clone(), limits, shutdown),
            sessions
        );
        serve_state.store.close().await;
        drop(data_dir_lock);
    });
    tracing::info!(
        listen = %addr,
        backend = ?state.store.backend(),
        "konnektd listening on http://{addr}"
    );
    tracing::info!(cluster_listen = %cluster_addr, "data planes connect on {cluster_addr}");
    Ok(Running {
        addr,
        cluster_addr,
        state,
        stop: None,
        task,
        cluster_task,
    })
}

/// The cluster listener's certificate files: the ones given by flag (a warning when they
/// do not cover the public URL's host; they are the operator's to replace), or the
/// generated ones, reissued by the same CA when the public host is new to them.
fn cluster_certificates(args: &ServeArgs, public_url: &str) -> anyhow::Result<TlsFiles> {
    let host = public_url::public_host(public_url);
    if let (Some(cert), Some(key)) = (&args.cluster_cert, &args.cluster_cert_key) {
        let pem = std::fs::read_to_string(cert)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", cert.display()))?;
        if !certificates::uncovered(&pem, &[host.to_string()])?.is_empty() {
            tracing::warn!(
                cert = %cert.display(),
                host,
                "the cluster certificate {} does not cover {host}, the host of the cluster \
                 public URL: data planes connecting with server name {host} will refuse it",
                cert.display()
            );
        }
        return Ok(TlsFiles {
            ca_cert: args.cluster_ca_cert.clone().unwrap_or_else(|| cert.clone()),
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    let files = TlsFiles::in_data_dir(&args.store.data_dir);
    match certificates::ensure_generated(&files, &public_url::server_hosts(public_url))? {
        ServerCertificate::Kept => {}
        ServerCertificate::Created => tracing::info!(
            cert = %files.cert.display(),
            "made the cluster CA and server certificate for {host}"
        ),
        ServerCertificate::Regenerated { missing } => tracing::warn!(
            cert = %files.cert.display(),
            host,
            "the cluster server certificate did not cover {}: reissued it for {host}, \
             signed by the same CA ({}), so data planes keep trusting it",
            missing.join(", "),
            files.ca_cert.display()
        ),
        ServerCertificate::NotCovered { missing } => tracing::warn!(
            cert = %files.cert.display(),
            host,
            "the cluster server certificate does not cover {}, and the CA key {} is gone, \
             so it cannot be reissued: data planes connecting with server name {host} will \
             refuse it",
            missing.join(", "),
            files.ca_cert.with_extension("key").display()
        ),
    }
    Ok(files)
}

/// Makes sure someone can log in: the configured bootstrap token exists, or, on a store
/// with no token at all, a first admin token is created and shown once in the log.
pub async fn ensure_bootstrap_token(store: &Store, bootstrap: Option<&str>) -> anyhow::Result<()> {
    let now = Timestamp::now();
    if let Some(raw) = bootstrap.filter(|s| !s.is_empty()) {
        let secret = TokenSecret::parse(raw)
            .filter(|s| s.kind() == TokenKind::PersonalAccess)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "KONNEKTD_BOOTSTRAP_TOKEN must be kpat_ followed by 49 letters or digits"
                )
            })?;
        let digest = secret.digest();
        if store.token_by_digest(&digest).await?.is_some() {
            return Ok(());
        }
        // Named after its digest, so a changed bootstrap token never clashes with the old one.
        let name = format!("bootstrap-{}", &digest.0[..12]);
        let token = NewToken::new(&name, TokenKind::PersonalAccess, None, vec![])
            .map_err(anyhow::Error::msg)?
            .into_token(now);
        match store.insert_token(&token, &digest).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(token.name = name, "bootstrap token registered");
        return Ok(());
    }
    if store.count_tokens().await? > 0 {
        return Ok(());
    }
    let secret = TokenSecret::generate(TokenKind::PersonalAccess);
    let token = NewToken::new("admin", TokenKind::PersonalAccess, None, vec![])
        .map_err(anyhow::Error::msg)?
        .into_token(now);
    match store.insert_token(&token, &secret.digest()).await {
        Ok(()) => {
            // The one time a token is logged: nobody could log in otherwise.
            tracing::warn!(
                "no API token existed, so one was created; it is shown only this once: {}",
                secret.expose()
            );
            Ok(())
        }
        // Another node sharing this database created it first.
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
