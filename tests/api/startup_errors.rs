//! A database konnektd cannot use at startup: one line on stderr with the cause and where
//! it looked (issue 16), never sqlx's "pool timed out" nor a password.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use tokio::process::Command;

use crate::both_backends;
use crate::harness::process::{BINARY, run};
use crate::harness::{Backend, fresh_database};

both_backends!(a_database_konnektd_cannot_use_is_named_with_the_cause,);

/// `konnektd serve`'s command with this store. With `drop_root`, a test run as root runs
/// it as nobody (65534) through setpriv, since file permissions do not stop root; `None`
/// when that cannot be arranged.
fn serve_command(
    database_url: &str,
    data_dir: &std::path::Path,
    drop_root: bool,
) -> Option<Command> {
    let root = std::fs::metadata(data_dir).ok()?.uid() == 0;
    let mut command = if root && drop_root {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BINARY]);
        c
    } else {
        Command::new(BINARY)
    };
    command
        .env_remove("KONNEKTD_BOOTSTRAP_TOKEN")
        .env_remove("KONNEKTD_LISTEN")
        .env("DATABASE_URL", database_url)
        .env("KONNEKTD_DATA_DIR", data_dir)
        .env("KONNEKTD_CLUSTER_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .kill_on_drop(true);
    Some(command)
}

/// Runs `serve`, which must fail; returns its stderr.
async fn failed_start(command: Command) -> String {
    let (ok, _, stderr) = tokio::time::timeout(
        Duration::from_secs(60),
        run(command, &["serve", "--listen", "127.0.0.1:0"]),
    )
    .await
    .expect("konnektd gives up in time");
    assert!(!ok, "konnektd started: {stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
    assert!(
        !stderr.contains("sqlx"),
        "one line, no sqlx retries: {stderr}"
    );
    stderr
}

/// The last line of `stderr`, which must be konnektd's error.
fn error_line(stderr: &str) -> &str {
    let line = stderr.lines().last().unwrap_or("");
    assert!(line.starts_with("konnektd: "), "{stderr}");
    line
}

async fn a_database_konnektd_cannot_use_is_named_with_the_cause(backend: Backend) {
    match backend {
        Backend::Sqlite => read_only_sqlite_paths_name_the_path_and_the_os_error().await,
        Backend::Postgres => postgresql_refusals_name_the_cause_without_the_password().await,
    }
}

/// A read-only directory (no database yet) and a read-only database file.
async fn read_only_sqlite_paths_name_the_path_and_the_os_error() {
    let top = tempfile::tempdir().unwrap();
    std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let dir = top.path().join("read-only-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let db = dir.join("konnektd.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let Some(command) = serve_command(&url, &dir, true) else {
        eprintln!("skipped: running as root without setpriv");
        return;
    };
    let stderr = failed_start(command).await;
    assert_eq!(
        error_line(&stderr),
        format!(
            "konnektd: cannot open SQLite database {}: its directory {} is not writable: Permission denied (os error 13)",
            db.display(),
            dir.display()
        )
    );

    let dir = top.path().join("read-only-file");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("konnektd.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let stderr = failed_start(serve_command(&url, &dir, true).unwrap()).await;
    assert_eq!(
        error_line(&stderr),
        format!(
            "konnektd: cannot open SQLite database {}: the file is not writable: Permission denied (os error 13)",
            db.display()
        )
    );
}

/// `url` with this user and password in place of its own userinfo.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}{path}")
}

/// A closed port, an unknown database and an unknown role on the test server: each
/// names the URL (password masked) and PostgreSQL's or the OS's own reason.
async fn postgresql_refusals_name_the_cause_without_the_password() {
    let password = "hunter2-MARKER-8c1d";
    let data = tempfile::tempdir().unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://konnektd:{password}@127.0.0.1:{port}/konnektd");
    let stderr = failed_start(serve_command(&url, data.path(), false).unwrap()).await;
    assert!(!stderr.contains(password), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.starts_with(&format!(
            "konnektd: cannot connect to PostgreSQL at postgres://konnektd:***@127.0.0.1:{port}/konnektd: "
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");

    let (good, _dir) = fresh_database(Backend::Postgres).await;
    let (base, _) = good.rsplit_once('/').unwrap();
    let url = format!("{base}/konnektd_no_such_database");
    let stderr = failed_start(serve_command(&url, data.path(), false).unwrap()).await;
    assert!(
        error_line(&stderr).ends_with("database \"konnektd_no_such_database\" does not exist"),
        "{stderr}"
    );

    let url = with_credentials(&good, "konnektd_no_such_role", password);
    let stderr = failed_start(serve_command(&url, data.path(), false).unwrap()).await;
    assert!(!stderr.contains(password), "{stderr}");
    let line = error_line(&stderr);
    assert!(line.contains("konnektd_no_such_role:***@"), "{line}");
    assert!(
        line.contains("role \"konnektd_no_such_role\" does not exist")
            || line.contains("authentication failed"),
        "{line}"
    );
}
