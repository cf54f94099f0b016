//! The command line. Every setting is a flag and an environment variable; every limit is
//! a named setting with its default here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::store::default_database_url;

#[derive(Debug, Parser)]
#[command(
    name = "konnektd",
    version,
    about = "A self-hosted control plane that speaks Kong Konnect's API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// How the log is written: `serve` may ask for JSON; every other command logs text.
    pub fn log_format(&self) -> LogFormat {
        match &self.command {
            Command::Serve(args) => args.log_format,
            _ => LogFormat::Text,
        }
    }
}

/// The log's shape on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layer), for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(Box<ServeArgs>),
    /// Manage API tokens (works while `serve` runs on the same store).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Data planes: make one for a control plane, or act as one.
    #[command(subcommand)]
    Dataplane(DataplaneCommand),
}

#[derive(Debug, Subcommand)]
pub enum DataplaneCommand {
    /// The guide's "New Data Plane Node": a key and certificate pinned to the control
    /// plane, and the `docker run` that connects it (printed on stdout).
    New {
        #[command(flatten)]
        store: StoreArgs,
        /// Id of the control plane the data plane serves; the certificate is pinned to it.
        #[arg(long = "control-plane")]
        control_plane: Uuid,
        /// The URL data planes use to reach the cluster listener; when unset,
        /// `https://localhost:<port of --cluster-listen>`. Set it to a host a container
        /// can reach: inside one, `localhost` is the container itself.
        #[arg(long, env = "KONNEKTD_CLUSTER_PUBLIC_URL")]
        cluster_public_url: Option<String>,
        /// The server's cluster listener, whose port the public URL takes when
        /// `--cluster-public-url` is unset.
        #[arg(
            long,
            env = "KONNEKTD_CLUSTER_LISTEN",
            default_value = "127.0.0.1:8005"
        )]
        cluster_listen: SocketAddr,
        /// The CA data planes trust; `<data-dir>/tls/cluster-ca.crt` when unset.
        #[arg(long, env = "KONNEKTD_CLUSTER_CA_CERT")]
        cluster_ca_cert: Option<PathBuf>,
        /// Also write `cluster.crt`, `cluster.key` and `cluster-ca.crt` into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A small data plane: connects, prints each config it receives (`config <hash>
    /// <type>=<count>...` on stdout), pings with its hash, and reconnects when the
    /// connection drops. Exits 0 after `--exit-after` configs, non-zero on a refusal that
    /// retrying cannot fix (a 4xx at the upgrade such as 401 for an unpinned certificate,
    /// or a 1008 close such as `kong_version_incompatible`) or on Ctrl-C.
    Connect {
        /// `host:port` of the cluster listener.
        #[arg(long, default_value = "localhost:8005")]
        address: String,
        /// TLS server name; the host of `--address` when unset.
        #[arg(long)]
        server_name: Option<String>,
        /// Client certificate (PEM), `cluster.crt` from `dataplane new --out`.
        #[arg(long)]
        cert: PathBuf,
        /// Private key (PEM) of `--cert`, `cluster.key` from `dataplane new --out`.
        #[arg(long)]
        key: PathBuf,
        /// CA (PEM) the cluster listener's certificate must chain to, `cluster-ca.crt`
        /// from `dataplane new --out`.
        #[arg(long)]
        ca_cert: PathBuf,
        /// Node id; a new one when unset.
        #[arg(long)]
        node_id: Option<Uuid>,
        /// Host name reported to the control plane (shown by the nodes API).
        #[arg(long, default_value = "konnektd-dataplane")]
        hostname: String,
        /// The Kong version to claim.
        #[arg(long, default_value = "3.10.0.0")]
        version: String,
        /// Plugins to announce in `basic_info` (comma-separated); `bundled` stands for
        /// Kong 3.10's 45 open-source plugins, as in Kong's `KONG_PLUGINS`. A plugin the
        /// control plane's config uses but this list lacks means no config is sent.
        #[arg(long, value_delimiter = ',', default_value = "bundled,ping-auth")]
        plugins: Vec<String>,
        /// Time between pings carrying the config hash (Kong's data planes ping every 30 s).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        ping_interval: Duration,
        /// Exit after this many configs.
        #[arg(long)]
        exit_after: Option<usize>,
        /// Also print each config received: the whole inflated `reconfigure` message
        /// (`config_table`, `config_hash`, `hashes`) as one line of compact JSON, on the
        /// line after its `config <hash> ...` line.
        #[arg(long)]
        print_config: bool,
        /// After the connection drops, wait a random time between this and twice this
        /// before reconnecting (Kong's data plane waits 5 to 10 s).
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        reconnect_delay: Duration,
    },
}

/// Where state lives; shared by every command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the embedded database and generated files. `serve` creates it;
    /// the other commands use the one `serve` made and refuse a missing one.
    #[arg(long, env = "KONNEKTD_DATA_DIR", default_value = "./konnektd-data")]
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; unset means a SQLite file in the data dir.
    /// Only `serve` creates or migrates the database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// The database URL given by flag or environment; `None` means the SQLite file in
    /// the data dir.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref().filter(|url| !url.is_empty())
    }

    /// The URL `serve` opens, creating the data dir for the embedded default. The other
    /// commands never create it (`cli::open_store`).
    pub fn resolve_url(&self) -> anyhow::Result<String> {
        match self.database_url() {
            Some(url) => Ok(url.to_string()),
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    anyhow::anyhow!("cannot create data dir {}: {e}", self.data_dir.display())
                })?;
                Ok(default_database_url(&self.data_dir))
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address of the HTTP API.
    #[arg(long, env = "KONNEKTD_LISTEN", default_value = "127.0.0.1:8001")]
    pub listen: SocketAddr,
    /// The log's format on stderr: `text`, or `json` (one object per line). What is
    /// logged is set by `RUST_LOG` (default `info`).
    #[arg(long, env = "KONNEKTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The URL data planes use to reach the cluster listener (`control_plane_endpoint`,
    /// `telemetry_endpoint`, the `docker run`); when unset,
    /// `https://localhost:<port of --cluster-listen>`. The generated server certificate
    /// is reissued (same CA) to cover its host.
    #[arg(long, env = "KONNEKTD_CLUSTER_PUBLIC_URL")]
    pub cluster_public_url: Option<String>,
    /// Address of the cluster listener data planes connect to (mutual TLS).
    #[arg(
        long,
        env = "KONNEKTD_CLUSTER_LISTEN",
        default_value = "127.0.0.1:8005"
    )]
    pub cluster_listen: SocketAddr,
    /// Server certificate (PEM) of the cluster listener; generated under
    /// `<data-dir>/tls/` when unset.
    #[arg(long, env = "KONNEKTD_CLUSTER_CERT", requires = "cluster_cert_key")]
    pub cluster_cert: Option<PathBuf>,
    /// Private key (PEM) of `--cluster-cert`.
    #[arg(long, env = "KONNEKTD_CLUSTER_CERT_KEY", requires = "cluster_cert")]
    pub cluster_cert_key: Option<PathBuf>,
    /// CA certificate data planes should trust, printed by `dataplane new`.
    #[arg(long, env = "KONNEKTD_CLUSTER_CA_CERT")]
    pub cluster_ca_cert: Option<PathBuf>,
    /// A data plane that sends no ping for this long is disconnected (Kong's PING_WAIT).
    #[arg(long, env = "KONNEKTD_CLUSTER_PING_WAIT", default_value = "45s", value_parser = humantime::parse_duration)]
    pub cluster_ping_wait: Duration,
    /// A config or RPC reply that a data plane does not take in this long (it stopped
    /// reading and its TCP window is full) ends its session (Kong's socket timeout,
    /// `CLUSTERING_TIMEOUT`).
    #[arg(long, env = "KONNEKTD_CLUSTER_WRITE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub cluster_write_timeout: Duration,
    /// Largest configuration sent to a data plane, compressed (Kong's `cluster_max_payload`).
    #[arg(long, env = "KONNEKTD_CLUSTER_MAX_PAYLOAD", default_value_t = 16 << 20)]
    pub cluster_max_payload: usize,
    /// Largest frame and message a data plane may send (its hello, pings and error
    /// reports are small); a larger one closes the session with 1009 (docs/threat-model.md, data planes).
    #[arg(long, env = "KONNEKTD_CLUSTER_MAX_INBOUND", default_value_t = 1 << 20)]
    pub cluster_max_inbound: usize,
    /// Data-plane connections (WebSocket sessions on `/v1/outlet` and `/v2/outlet`; a
    /// 3.10 data plane holds one of each) this node serves at once; one more is refused
    /// with 503 before the upgrade, and goes to another node. `serve` raises its open-file
    /// limit to the hard limit at start and warns when that is below this.
    #[arg(long, env = "KONNEKTD_CLUSTER_MAX_CONNECTIONS", default_value_t = 32_768, value_parser = clap::value_parser!(u32).range(1..))]
    pub cluster_max_connections: u32,
    /// The Kong version konnektd acts as for data planes: their major must match and
    /// their minor must not be newer.
    #[arg(
        long,
        env = "KONNEKTD_CLUSTER_KONG_VERSION",
        default_value = "3.10.0.0"
    )]
    pub cluster_kong_version: String,
    /// A `kpat_` token that must exist after start (created if absent).
    #[arg(long, env = "KONNEKTD_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,
    /// Largest request body accepted, in bytes; larger ones get 413 unread.
    #[arg(long, env = "KONNEKTD_MAX_BODY_SIZE", default_value_t = 1024 * 1024)]
    pub max_body_size: usize,
    /// Largest `page[size]` / `size` a list accepts.
    #[arg(long, env = "KONNEKTD_MAX_PAGE_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_page_size: u32,
    /// A client that has not sent its request headers within this time is cut off.
    #[arg(long, env = "KONNEKTD_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Largest `lua_schema` accepted, in bytes; larger ones get 400 before any Lua runs.
    #[arg(long, env = "KONNEKTD_MAX_LUA_SCHEMA_SIZE", default_value_t = crate::domain::plugin_schema::DEFAULT_MAX_LUA_SCHEMA_BYTES)]
    pub max_lua_schema_size: usize,
    /// Wall-clock limit of one Lua evaluation (a schema upload, a validator call).
    #[arg(long, env = "KONNEKTD_LUA_TIMEOUT", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub lua_timeout: Duration,
    /// Memory limit of one Lua VM, in bytes.
    #[arg(long, env = "KONNEKTD_LUA_MEMORY_LIMIT", default_value_t = 64 << 20)]
    pub lua_memory_limit: usize,
    /// Steps one Lua pattern match may take before it fails with "pattern too complex".
    #[arg(long, env = "KONNEKTD_LUA_PATTERN_STEPS", default_value_t = 1_000_000)]
    pub lua_pattern_steps: u64,
    /// Lua evaluations run at once; more wait briefly, then get 503.
    #[arg(long, env = "KONNEKTD_LUA_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub lua_concurrency: u32,
    /// How long in-flight requests may run on after SIGTERM/SIGINT.
    #[arg(long, env = "KONNEKTD_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// How long a request waits for a database connection before it gets 503 (the
    /// database is down, or every connection stays busy).
    #[arg(long, env = "KONNEKTD_DATABASE_ACQUIRE_TIMEOUT", default_value = "1500ms", value_parser = humantime::parse_duration)]
    pub database_acquire_timeout: Duration,
}

impl ServeArgs {
    /// `konnektd serve` with every setting at its default above (flags and environment
    /// ignored), on `store`: where tests and benches start, changing only what they need.
    pub fn with_defaults(store: StoreArgs) -> ServeArgs {
        use clap::FromArgMatches;
        let command =
            ServeArgs::augment_args(clap::Command::new("serve")).mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(["serve"])
            .expect("every serve setting has a default");
        let mut args = ServeArgs::from_arg_matches(&matches).expect("defaults parse");
        args.store = store;
        args
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, alone, on stdout. It is never shown again.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Name of the token, unique among active tokens; `token revoke` takes it.
        #[arg(long)]
        name: String,
        /// Lifetime in days (1 to 365); no expiry when omitted.
        #[arg(long)]
        ttl_days: Option<u32>,
        /// Make a system-account (`spat_`) token instead of a personal one (`kpat_`).
        #[arg(long)]
        system_account: bool,
        /// Limit a system-account token to this control plane (repeatable); an id that
        /// names no control plane is refused.
        #[arg(long = "control-plane", requires = "system_account")]
        control_planes: Vec<Uuid>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke the active token of this name; effective on the next request.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// Name of the token to revoke, as `token list` shows it.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_acquire_timeout_flag_defaults_to_the_stores_own_default() {
        assert_eq!(
            serve_args(&[]).database_acquire_timeout,
            crate::store::DEFAULT_ACQUIRE_TIMEOUT
        );
    }

    /// Every flag and argument of every command shows a line in `--help`, and a file a
    /// help text cites is one in this repository (an operator has no other).
    #[test]
    fn every_argument_has_help_that_cites_only_files_in_the_repository() {
        use clap::CommandFactory;
        fn walk(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            let mut texts: Vec<String> = command
                .get_about()
                .map(|a| a.to_string())
                .into_iter()
                .collect();
            if command.get_about().is_none() && path != "konnektd" {
                problems.push(format!("`{path}` has no about"));
            }
            for arg in command.get_arguments() {
                if matches!(arg.get_id().as_str(), "help" | "version") {
                    continue;
                }
                match arg.get_help().or(arg.get_long_help()) {
                    Some(help) => texts.push(help.to_string()),
                    None => {
                        problems.push(format!("`{path}` argument {} has no help", arg.get_id()))
                    }
                }
            }
            for text in texts {
                for word in text.split(|c: char| c.is_whitespace() || "`(),;\"'".contains(c)) {
                    let word = word.trim_end_matches(['.', ':']);
                    let cites_a_file = [".md", ".rs", ".lua", ".toml", ".sql"]
                        .iter()
                        .any(|ext| word.ends_with(ext));
                    if cites_a_file
                        && !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join(word)
                            .is_file()
                    {
                        problems.push(format!(
                            "`{path}` cites {word}, not a file of the repository"
                        ));
                    }
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, path.trim_start(), problems);
            }
        }
        let mut problems = Vec::new();
        walk(&Cli::command(), "", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["konnektd", "serve"].iter().chain(args)).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve parses as serve");
        };
        *args
    }

    #[test]
    fn log_format_is_text_unless_serve_asks_for_json() {
        assert_eq!(serve_args(&[]).log_format, LogFormat::Text);
        let cli = Cli::try_parse_from(["konnektd", "serve", "--log-format", "json"]).unwrap();
        assert_eq!(cli.log_format(), LogFormat::Json);
        assert!(Cli::try_parse_from(["konnektd", "serve", "--log-format", "xml"]).is_err());
        let cli = Cli::try_parse_from(["konnektd", "token", "list"]).unwrap();
        assert_eq!(cli.log_format(), LogFormat::Text);
    }

    #[test]
    fn with_defaults_is_serve_without_flags() {
        let parsed = serve_args(&[]);
        let built = ServeArgs::with_defaults(parsed.store.clone());
        assert_eq!(format!("{built:?}"), format!("{parsed:?}"));
    }

    /// The benches and the sandbox's own tests use `Limits::default()`: it must be what
    /// `serve` runs with.
    #[test]
    fn the_sandboxs_default_limits_are_serves_defaults() {
        let args = serve_args(&[]);
        let limits = crate::lua::sandbox::Limits::default();
        assert_eq!(limits.deadline, args.lua_timeout);
        assert_eq!(limits.memory_bytes, args.lua_memory_limit);
        assert_eq!(limits.pattern_steps, args.lua_pattern_steps);
    }

    /// Kong's socket timeout, `CLUSTERING_TIMEOUT = 5000` ms (kong/constants.lua).
    #[test]
    fn the_cluster_write_timeout_defaults_to_kongs_socket_timeout() {
        assert_eq!(
            serve_args(&[]).cluster_write_timeout,
            Duration::from_secs(5)
        );
        assert_eq!(
            serve_args(&["--cluster-write-timeout", "250ms"]).cluster_write_timeout,
            Duration::from_millis(250)
        );
    }
}
