//! What each command does: `serve` runs the service, `token` manages API tokens,
//! `dataplane` makes data planes or acts as one.

mod open_store;

use chrono::{SecondsFormat, TimeZone, Utc};
use tracing_subscriber::EnvFilter;

use crate::cluster::client::{Event, NO_CONFIG_NOTICE};
use crate::command_line::{Cli, Command, DataplaneCommand, LogFormat, TokenCommand};
use crate::domain::Timestamp;
use crate::domain::bundled_plugins::KONG_OPEN_SOURCE_PLUGINS;
use crate::domain::token::{NewToken, TokenKind, TokenSecret};
use crate::startup;
use crate::store::StoreError;
use open_store::open;

/// Logs go to stderr, so `token create` can print the token alone on stdout.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // Fields at the top level, next to `timestamp`, `level` and `message`, as log
        // collectors index them.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            startup::start_with_signals(&args).await?.wait().await;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Token(command) => run_token(command).await,
        Command::Dataplane(command) => run_dataplane(command).await,
    }
}

async fn run_dataplane(command: DataplaneCommand) -> anyhow::Result<()> {
    match command {
        DataplaneCommand::New {
            store,
            control_plane,
            cluster_public_url,
            cluster_listen,
            cluster_ca_cert,
            out,
        } => {
            let cluster_public_url =
                crate::cluster::public_url::resolve(cluster_public_url.as_deref(), cluster_listen);
            let ca = cluster_ca_cert.unwrap_or_else(|| {
                crate::cluster::certificates::TlsFiles::in_data_dir(&store.data_dir).ca_cert
            });
            let db = open(&store).await?;
            anyhow::ensure!(
                db.control_plane_exists(control_plane).await?,
                "no control plane {control_plane}"
            );
            let new = crate::cluster::provision::new_data_plane(
                &db,
                control_plane,
                &ca,
                &cluster_public_url,
            )
            .await?;
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("cluster.crt"), &new.certificate.cert)?;
                crate::cluster::certificates::write_private(&dir.join("cluster.key"), &new.key)?;
                std::fs::write(dir.join("cluster-ca.crt"), &new.ca_cert)?;
                eprintln!(
                    "wrote cluster.crt, cluster.key and cluster-ca.crt to {}",
                    dir.display()
                );
            }
            // On stderr: the script on stdout stays runnable, and the note still shows
            // when stdout goes to a file.
            if let Some(note) = &new.note {
                eprintln!("{note}");
            }
            println!("{}", new.docker_run);
            Ok(())
        }
        DataplaneCommand::Connect {
            address,
            server_name,
            cert,
            key,
            ca_cert,
            node_id,
            hostname,
            version,
            plugins,
            ping_interval,
            exit_after,
            print_config,
            reconnect_delay,
        } => {
            let server_name = server_name
                .unwrap_or_else(|| crate::cluster::public_url::host_of(&address).to_string());
            let options = crate::cluster::client::ConnectOptions {
                address,
                server_name,
                cert,
                key,
                ca_cert,
                node_id: node_id.unwrap_or_else(uuid::Uuid::new_v4),
                hostname,
                version,
                plugins: expand_bundled(plugins),
                ping_interval,
                exit_after,
                reconnect_delay,
            };
            let node_id = options.node_id;
            let report = |event: Event<'_>| match event {
                Event::Config(config) => {
                    println!("{config}");
                    if print_config {
                        println!("{}", config.message);
                    }
                }
                // The v1 protocol gives a data plane no reason; the node row has it.
                Event::NoConfig => eprintln!(
                    "no config: the control plane did not send one within {}s; the node's \
                     compatibility_status (GET /v2/control-planes/<id>/nodes/{node_id}) says \
                     why, e.g. a configured plugin missing from --plugins",
                    NO_CONFIG_NOTICE.as_secs()
                ),
                Event::Retrying { reason, delay } => eprintln!(
                    "disconnected: {reason}; reconnecting in {:.1}s",
                    delay.as_secs_f64()
                ),
            };
            tokio::select! {
                ended = crate::cluster::client::connect(&options, report) => {
                    ended?;
                }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("interrupted");
                    // 128 + SIGINT, as a shell reports a process a Ctrl-C stopped.
                    std::process::exit(130);
                }
            }
            Ok(())
        }
    }
}

async fn run_token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            store,
            name,
            ttl_days,
            system_account,
            control_planes,
        } => {
            let kind = if system_account {
                TokenKind::SystemAccount
            } else {
                TokenKind::PersonalAccess
            };
            let request =
                NewToken::new(&name, kind, ttl_days, control_planes).map_err(anyhow::Error::msg)?;
            let store = open(&store).await?;
            // A token scoped to a control plane that is not there would open nothing; the
            // id is more likely a typo or another store's.
            for id in request.control_planes.iter().flatten() {
                anyhow::ensure!(
                    store.control_plane_exists(*id).await?,
                    "no control plane {id} in this store: `GET /v2/control-planes` on the \
                     server lists the ids"
                );
            }
            let secret = TokenSecret::generate(kind);
            let token = request.into_token(Timestamp::now());
            match store.insert_token(&token, &secret.digest()).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    anyhow::bail!("an active token named {:?} already exists", token.name)
                }
                Err(e) => return Err(e.into()),
            }
            println!("{}", secret.expose());
            Ok(())
        }
        TokenCommand::List { store } => {
            let store = open(&store).await?;
            let now = Timestamp::now();
            println!("NAME\tKIND\tSTATE\tCREATED\tEXPIRES\tLAST_USED\tCONTROL_PLANES");
            for t in store.list_tokens().await? {
                let scope = match &t.control_planes {
                    None => "all".to_string(),
                    Some(ids) => ids
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.name,
                    t.kind.as_str(),
                    t.state(now).as_str(),
                    iso(Some(t.created_at.millis())),
                    iso(t.expires_at.map(Timestamp::millis)),
                    iso(t.last_used_at.map(Timestamp::millis)),
                    scope
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { store, name } => {
            let store = open(&store).await?;
            if store.revoke_token(&name, Timestamp::now()).await? {
                eprintln!("revoked token {name:?}");
                Ok(())
            } else {
                anyhow::bail!("no active token named {name:?}")
            }
        }
    }
}

fn iso(millis: Option<i64>) -> String {
    millis
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_string())
}

/// `--plugins` as Kong reads `KONG_PLUGINS`: `bundled` is every plugin bundled with Kong
/// 3.10 open source; `off` announces none.
fn expand_bundled(plugins: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for plugin in plugins {
        match plugin.trim() {
            "bundled" => out.extend(KONG_OPEN_SOURCE_PLUGINS.iter().map(|p| p.to_string())),
            "off" | "" => {}
            name => out.push(name.to_string()),
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_expands_to_kongs_open_source_plugins_as_kong_plugins_does() {
        let plugins = expand_bundled(vec!["bundled".into(), "ping-auth".into()]);
        assert_eq!(plugins.len(), 46);
        assert_eq!(plugins[0], "jwt");
        assert_eq!(plugins[45], "ping-auth");
        assert!(plugins.contains(&"key-auth".to_string()));
        assert_eq!(expand_bundled(vec!["off".into()]), Vec::<String>::new());
        assert_eq!(expand_bundled(vec![" x ".into()]), ["x"]);
    }
}
