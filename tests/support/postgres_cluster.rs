//! A throwaway PostgreSQL cluster from the machine's binaries (`/usr/lib/postgresql/*/bin`,
//! initdb + pg_ctl in a temp dir, as `postgres` when run as root), shared by the test
//! harness and the benches (`#[path]`-included by both). It is stopped and its files
//! removed when the process that launched it is gone.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sqlx::Connection;

/// A throwaway PostgreSQL cluster: the suite's shared one, one a test has for itself so
/// that it may stop and start it, or a bench's.
pub struct Cluster {
    /// The `postgres` database's URL.
    pub url: String,
    bin: PathBuf,
    dir: PathBuf,
    root: bool,
    options: String,
}

impl Cluster {
    pub fn launch() -> Result<Cluster, String> {
        // The suite needs speed, not durability of its throwaway data; kill -9 tests kill
        // konnektd, never this server.
        Cluster::launch_with("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    }

    /// A cluster with PostgreSQL's default durability (`fsync`, `synchronous_commit` on),
    /// for benches whose floor is a durable write.
    #[allow(dead_code)] // only the write benches want it
    pub fn launch_durable() -> Result<Cluster, String> {
        Cluster::launch_with("")
    }

    fn launch_with(durability: &str) -> Result<Cluster, String> {
        let bin = bin_dir()?;
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("konnektd-pg-")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?
            .keep();
        if root {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown",
            )?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut initdb = pg_command(&bin.join("initdb"), root);
        initdb.arg("-D").arg(dir.join("data")).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} {durability} -c max_connections=400",
            dir.display()
        );
        let cluster = Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            root,
            options,
        };
        cluster.start()?;
        spawn_reaper(&cluster.bin, &cluster.dir, root);
        Ok(cluster)
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let mut start = pg_command(&self.bin.join("pg_ctl"), self.root);
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &self.options, "start"]);
        run(start, "pg_ctl start")
    }

    /// `pg_ctl stop -m <mode>` (`fast`: sessions are ended; `immediate`: no shutdown at all).
    pub fn stop(&self, mode: &str) -> Result<(), String> {
        let mut stop = pg_command(&self.bin.join("pg_ctl"), self.root);
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", mode, "stop"]);
        run(stop, "pg_ctl stop")
    }
}

/// Creates an empty database on the server of `admin_url` and returns its URL.
pub async fn create_database(admin_url: &str, prefix: &str) -> Result<String, String> {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|e| format!("connect to PostgreSQL: {e}"))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("create database: {e}"))?;
    let _ = conn.close().await;
    Ok(replace_database(admin_url, &name))
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql ({e})"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary, as `postgres` when we are root (initdb refuses root).
fn pg_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .current_dir("/tmp")
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A watcher that stops the cluster and removes its files once this process is gone,
/// since Rust runs no destructors for statics.
fn spawn_reaper(bin: &Path, dir: &Path, as_postgres: bool) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if as_postgres {
        format!(
            "runuser -u postgres -- {} -D {}/data stop -m immediate",
            pg_ctl.display(),
            dir.display()
        )
    } else {
        format!(
            "{} -D {}/data stop -m immediate",
            pg_ctl.display(),
            dir.display()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
