//! One data plane's v1 session, as Kong's `kong/clustering/control_plane.lua`
//! `handle_cp_websocket` runs it (see docs/clustering.md): `basic_info` first, then a
//! loop over new snapshots, the data plane's pings (pongs go back automatically) and
//! its error reports, until it goes quiet for longer than the ping wait. Who the data
//! plane is was settled by [`super::admission`], which the loop asks again when pinned
//! certificates change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use prometheus_client::metrics::histogram::Histogram;
use serde_json::{Value, json};
use uuid::Uuid;

use super::admission::{self, DataPlane, NODE_ID_TAKEN, SHUTTING_DOWN};
use super::compat::{self, KongVersion};
use super::export::Snapshot;
use super::hash::ZERO_HASH;
use super::hub::Hub;
use super::sync_state::LiveNode;
use super::websocket::{
    CLUSTERING_TIMEOUT, GOING_AWAY, POLICY_VIOLATION, UNSUPPORTED_DATA, close, close_too_big,
    is_too_big, send_within,
};
use crate::domain::Timestamp;
use crate::store::Store;
use crate::store::data_planes::Node;

/// Read buffer of a data plane's WebSocket; larger frames still arrive, in more reads.
/// A data plane sends pings (32 bytes) and, once, its `basic_info` (a few KiB with Kong's
/// bundled plugins listed, which grows the buffer to fit); every KiB here is 10 MiB at
/// 10,000 idle data planes.
const READ_BUFFER: usize = 2 * 1024;

/// Same-hash pings are written at most this often; changes are written at once.
const STATUS_WRITE_INTERVAL: Duration = Duration::from_secs(10);
/// A live session re-checks its certificate whenever pinned certificates change (here or
/// on another node), and at least this often; expiry is checked locally as often.
const CERT_RECHECK: Duration = Duration::from_secs(60);
/// Error reports larger than this are cut before they are stored.
const MAX_ERROR_REPORT: usize = 64 * 1024;

/// Settings of every session.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub ping_wait: Duration,
    /// A send not taken in this long ends the session (`--cluster-write-timeout`).
    pub write_timeout: Duration,
    pub control_plane_version: KongVersion,
    /// Largest frame a data plane accepts (Kong's `cluster_max_payload`).
    pub max_payload: usize,
}

struct Session {
    store: Store,
    hub: Arc<Hub>,
    max_payload: usize,
    write_timeout: Duration,
    node: Node,
    control_plane: Uuid,
    dp_version: KongVersion,
    plugins: Vec<String>,
    /// Configured plugins this data plane lacks, as last logged.
    missing_plugins: Vec<String>,
    last_write: Instant,
    /// This data plane in the hub's sync figures, while the session lives.
    live: LiveNode,
    /// Its control plane's push latencies (`/metrics`).
    push_seconds: Histogram,
}

/// `basic_info`: the plugin names and labels, or why the first message is refused.
fn parse_basic_info(message: Option<Message>) -> Result<(Vec<String>, Value), String> {
    let Some(Message::Binary(bytes)) = message else {
        return Err("the first message must be a binary basic_info".into());
    };
    let info: Value =
        serde_json::from_slice(&bytes).map_err(|_| "basic_info is not JSON".to_string())?;
    if info["type"] != "basic_info" {
        return Err("the first message must be basic_info".into());
    }
    let Some(plugins) = info["plugins"].as_array() else {
        return Err("basic_info has no plugins list".into());
    };
    let names = plugins
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .take(10_000)
        .collect();
    let labels = match &info["labels"] {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    Ok((names, labels))
}

/// Takes an admitted `/v1/outlet` upgrade; the session runs as one of the hub's.
pub(super) fn accept(
    upgrade: WebSocketUpgrade,
    hub: Arc<Hub>,
    store: Store,
    settings: SessionSettings,
    max_inbound: usize,
    data_plane: DataPlane,
    slot: admission::ConnectionSlot,
) -> Response {
    upgrade
        .max_message_size(max_inbound)
        .max_frame_size(max_inbound)
        // A data plane sends a few small frames; tungstenite's 128 KiB default read
        // buffer, zero-filled at the first read, would be most of an idle session's memory.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let session = run(socket, hub.clone(), store, settings, data_plane);
            // The slot goes when the session ends, however it ends.
            hub.track_session(async move {
                session.await;
                drop(slot);
            })
        })
}

async fn run(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    store: Store,
    settings: SessionSettings,
    mut data_plane: DataPlane,
) {
    let cp = data_plane.control_plane;
    let closing = hub.closing();
    let first = tokio::select! {
        first = tokio::time::timeout(CLUSTERING_TIMEOUT, socket.recv()) => first,
        _ = closing.cancelled() => {
            close(socket, GOING_AWAY, SHUTTING_DOWN).await;
            return;
        }
    };
    let first = match first {
        Ok(Some(Ok(message))) => Some(message),
        Ok(Some(Err(e))) if is_too_big(&e) => {
            close_too_big(socket).await;
            return;
        }
        _ => None,
    };
    let (plugins, labels) = match parse_basic_info(first) {
        Ok(info) => info,
        Err(reason) => {
            tracing::info!(cp.id = %cp, dp.node_id = data_plane.node_id, reason, "data plane refused");
            close(socket, POLICY_VIOLATION, &reason).await;
            return;
        }
    };
    let previous = data_plane.previous.take();
    let now = Timestamp::now();
    let mut node = Node {
        id: data_plane.node_id.clone(),
        hostname: data_plane.hostname.clone(),
        version: data_plane.version.clone(),
        config_hash: ZERO_HASH.into(),
        labels,
        compatibility: compat::compatibility(Vec::new()),
        last_error: previous.as_ref().and_then(|p| p.last_error.clone()),
        cert_fingerprint: data_plane.certificate.fingerprint.clone(),
        cert_expiry: data_plane.certificate.not_after,
        last_ping: now,
        created_at: previous.as_ref().map_or(now, |p| p.created_at),
        updated_at: now,
    };
    let dp_version = match compat::check_version(
        settings.control_plane_version,
        &data_plane.version,
    ) {
        Ok(v) => v,
        Err(reason) => {
            node.compatibility = compat::compatibility(vec![compat::issue(
                "kong_version_incompatible",
                reason.clone(),
                "Run a data plane whose major version equals the control plane's.",
            )]);
            let _ = store.upsert_node(cp, &node).await;
            tracing::info!(cp.id = %cp, dp.node_id = node.id, reason, "data plane version refused");
            close(socket, POLICY_VIOLATION, "kong_version_incompatible").await;
            return;
        }
    };
    match store.upsert_node(cp, &node).await {
        Ok(true) => {}
        // Another data plane took the id with its own certificate since the handshake.
        Ok(false) => {
            tracing::info!(cp.id = %cp, dp.node_id = node.id, "data plane refused: node id taken");
            close(socket, POLICY_VIOLATION, NODE_ID_TAKEN).await;
            return;
        }
        Err(e) => tracing::warn!(cp.id = %cp, error = %e, "cannot record data plane"),
    }
    tracing::info!(cp.id = %cp, dp.node_id = node.id, dp.version = node.version, "data plane connected");
    let live = hub.live_node(cp, &node);
    let mut session = Session {
        store,
        hub: hub.clone(),
        max_payload: settings.max_payload,
        write_timeout: settings.write_timeout,
        node,
        control_plane: cp,
        dp_version,
        plugins,
        missing_plugins: Vec::new(),
        last_write: Instant::now(),
        live,
        push_seconds: hub.push_histogram(cp),
    };
    let mut snapshots = hub.subscribe(cp);
    // A newly connected data plane gets the current config at once.
    let initial = snapshots.borrow_and_update().clone();
    if let Some(snapshot) = initial
        && !session.offer(&mut socket, &snapshot, false).await
    {
        return;
    }
    let mut deadline = tokio::time::Instant::now() + settings.ping_wait;
    // Sessions that connected together (a restart, a fleet rollout) re-check at spread
    // times, not in one burst a minute.
    let first = CERT_RECHECK.mul_f64(rand::random_range(0.5..=1.0));
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + first, CERT_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut certificate_changes = hub.certificate_changes();
    // Certificates are valid to the second: through the whole second of `not_after`.
    let not_after = data_plane.certificate.not_after.seconds();
    let expires_in = Duration::from_secs((not_after - Timestamp::now().seconds()).max(0) as u64);
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            _ = closing.cancelled() => {
                close(socket, GOING_AWAY, SHUTTING_DOWN).await;
                break;
            }
            _ = &mut expiry => {
                tracing::info!(cp.id = %cp, dp.node_id = session.node.id, "data plane certificate expired");
                close(socket, POLICY_VIOLATION, "the certificate has expired").await;
                break;
            }
            _ = async {
                tokio::select! {
                    _ = recheck.tick() => {}
                    _ = certificate_changes.changed() => {}
                }
            } => {
                let revoked =
                    !admission::still_admitted(&hub, &session.store, &data_plane.certificate, cp)
                        .await;
                let expired = Timestamp::now().seconds() > not_after;
                if revoked || expired {
                    tracing::info!(cp.id = %cp, dp.node_id = session.node.id, "data plane certificate no longer valid");
                    close(socket, POLICY_VIOLATION, "the certificate is no longer pinned or has expired").await;
                    break;
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break;
                }
                let snapshot = snapshots.borrow_and_update().clone();
                if let Some(snapshot) = snapshot
                    && !session.offer(&mut socket, &snapshot, true).await
                {
                    break;
                }
            }
            message = tokio::time::timeout_at(deadline, socket.recv()) => {
                let message = match message {
                    Err(_) => {
                        tracing::info!(cp.id = %cp, dp.node_id = session.node.id, "data plane stopped pinging");
                        close(socket, GOING_AWAY, "no ping within the ping wait").await;
                        break;
                    }
                    Ok(Some(Err(e))) => {
                        if is_too_big(&e) {
                            tracing::info!(cp.id = %cp, dp.node_id = session.node.id, "data plane sent an oversized message");
                            close_too_big(socket).await;
                        }
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Ok(message))) => message,
                };
                match message {
                    Message::Ping(payload) => {
                        deadline = tokio::time::Instant::now() + settings.ping_wait;
                        session.ping(&payload).await;
                    }
                    Message::Binary(bytes) => {
                        if !session.report(&bytes).await {
                            close(socket, POLICY_VIOLATION, "unknown message type").await;
                            break;
                        }
                    }
                    Message::Close(_) => break,
                    Message::Pong(_) => {}
                    Message::Text(_) => {
                        close(socket, UNSUPPORTED_DATA, "text frames are not part of the protocol").await;
                        break;
                    }
                }
            }
        }
    }
    session.write_status(true).await;
    tracing::info!(cp.id = %cp, dp.node_id = session.node.id, "data plane disconnected");
}

impl Session {
    /// Sends the snapshot if the data plane can load it, else records why not (Kong
    /// keeps such data planes connected and sends nothing). False when the socket died.
    /// `pushed`: the snapshot was published while this session listened, so its write
    /// counts as a push (a newly connected data plane's first config does not: the change
    /// may be hours old).
    async fn offer(&mut self, socket: &mut WebSocket, snapshot: &Snapshot, pushed: bool) -> bool {
        let missing = compat::missing_plugins(&snapshot.plugins, &self.plugins);
        let issues: Vec<Value> = missing
            .iter()
            .map(|name| {
                compat::issue(
                    "plugin_set_incompatible",
                    format!("plugin '{name}' is configured but not installed on the data plane"),
                    "Install the plugin on the data plane and add it to KONG_PLUGINS, or remove it from the configuration.",
                )
            })
            .collect();
        let compatible = issues.is_empty();
        let compatibility = compat::compatibility(issues);
        let missing: Vec<String> = missing.into_iter().cloned().collect();
        if missing != self.missing_plugins {
            self.log_missing_plugins(&missing);
            self.missing_plugins = missing;
        }
        if compatibility != self.node.compatibility {
            self.node.compatibility = compatibility;
            self.write_status(true).await;
        }
        if !compatible {
            return true;
        }
        let payload = snapshot.payload_for(self.dp_version);
        if payload.len() > self.max_payload {
            // A data plane drops the connection on a frame over its limit; keep it
            // connected on its old config and say why on the node.
            tracing::error!(
                cp.id = %self.control_plane,
                bytes = payload.len(),
                "the config is larger than the cluster payload limit"
            );
            let issue = compat::issue(
                "payload_too_large",
                format!(
                    "the compressed config is {} bytes, over the limit of {} bytes",
                    payload.len(),
                    self.max_payload
                ),
                "Raise --cluster-max-payload and the data plane's cluster_max_payload, or shrink the configuration.",
            );
            self.node.compatibility = compat::compatibility(vec![issue]);
            self.write_status(true).await;
            return true;
        }
        match send_within(socket, Message::Binary(payload), self.write_timeout).await {
            Ok(sent) => {
                if sent
                    && pushed
                    && let Some(changed_at) = snapshot.changed_at
                {
                    self.push_seconds
                        .observe(changed_at.elapsed().as_secs_f64());
                }
                sent
            }
            Err(_) => {
                tracing::info!(
                    cp.id = %self.control_plane,
                    dp.node_id = self.node.id,
                    "data plane took no config within the write timeout"
                );
                false
            }
        }
    }

    /// Logged once per change of the set, not per snapshot or ping: the data plane itself
    /// is told nothing (the v1 protocol has no message for it), so the operator learns it
    /// here and from the node's compatibility_status. Kong's control plane warns likewise
    /// ("configured <name> plugin is missing from data plane",
    /// `kong/clustering/compat/init.lua` `check_configuration_compatibility`).
    fn log_missing_plugins(&self, missing: &[String]) {
        if missing.is_empty() {
            tracing::info!(
                cp.id = %self.control_plane,
                dp.node_id = self.node.id,
                dp.hostname = self.node.hostname,
                "data plane now has every configured plugin; it gets the config"
            );
        } else {
            tracing::warn!(
                cp.id = %self.control_plane,
                dp.node_id = self.node.id,
                dp.hostname = self.node.hostname,
                missing_plugins = missing.join(","),
                "data plane lacks configured plugins and gets no config until it has them \
                 (install them and add them to KONG_PLUGINS, or remove them from the configuration)"
            );
        }
    }

    /// A ping carries the data plane's current hash: a claim, recorded as status only.
    async fn ping(&mut self, payload: &[u8]) {
        let hash = std::str::from_utf8(payload).unwrap_or("");
        let valid = hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return;
        }
        let changed = self.node.config_hash != hash;
        self.node.config_hash = hash.to_ascii_lowercase();
        self.node.last_ping = Timestamp::now();
        self.write_status(changed).await;
    }

    /// A binary frame after `basic_info`: only Konnect-mode error reports are known.
    async fn report(&mut self, bytes: &[u8]) -> bool {
        // The frame is bounded by the WebSocket limit; what is kept is bounded here.
        let Ok(message) = serde_json::from_slice::<Value>(bytes) else {
            return false;
        };
        if message["type"] != "error" {
            return false;
        }
        let mut error = message.get("error").cloned().unwrap_or(Value::Null);
        if error.to_string().len() > MAX_ERROR_REPORT {
            // Too large to keep whole (a big config's flattened errors): keep its summary.
            error = json!({
                "name": error["name"],
                "message": error["message"].as_str().map(|m| m.chars().take(4096).collect::<String>()),
                "config_hash": error["config_hash"],
                "truncated": true,
            });
        }
        tracing::info!(
            cp.id = %self.control_plane,
            dp.node_id = self.node.id,
            error.name = error["name"].as_str().unwrap_or(""),
            "data plane reported a config error"
        );
        let reported_at = Timestamp::now().seconds();
        self.node.last_error = Some(json!({"reported_at": reported_at, "error": error}));
        self.write_status(true).await;
        true
    }

    /// Writes the node row now if `urgent`, else at most every few seconds.
    async fn write_status(&mut self, urgent: bool) {
        if !urgent && self.last_write.elapsed() < STATUS_WRITE_INTERVAL {
            return;
        }
        self.node.updated_at = Timestamp::now();
        // Every change of hash or compatibility is urgent, so it reaches this line.
        self.live.update(self.control_plane, &self.node);
        self.hub
            .record_status(self.control_plane, self.node.clone());
        self.last_write = Instant::now();
    }
}
