//! Commands other than `serve` act on the server's store and never make one: a data dir
//! or database that is not there is refused with where it was looked for, the flag and
//! variable that set it and what to do, and nothing is created.

use std::path::Path;

use sqlx::Connection;

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd, run};
use crate::harness::{Backend, fresh_database};

/// Every command that opens the store.
fn store_commands() -> Vec<Vec<String>> {
    let cp = uuid::Uuid::new_v4().to_string();
    [
        vec!["token", "create", "--name", "ci"],
        vec!["token", "list"],
        vec!["token", "revoke", "ci"],
        vec!["dataplane", "new", "--control-plane", &cp],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

/// The command on the default store: the SQLite file in the data dir.
fn on_data_dir(data_dir: &Path) -> tokio::process::Command {
    let mut command = konnektd("", data_dir);
    command.env_remove("DATABASE_URL");
    command
}

async fn refused(command: tokio::process::Command, args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = run(command, &args).await;
    assert!(!ok, "{args:?} must fail: {stdout}");
    assert!(stdout.is_empty(), "{args:?} printed {stdout:?}");
    stderr
}

/// The case: a command run from another directory looked in `./konnektd-data`
/// there, created it, and printed a token the running server had never heard of.
#[tokio::test]
async fn a_missing_data_dir_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("absent");
    for args in store_commands() {
        let stderr = refused(on_data_dir(&data_dir), &args).await;
        for said in [
            &format!("no konnektd data dir at {}", data_dir.display()),
            "--data-dir",
            "KONNEKTD_DATA_DIR",
            "konnektd serve --data-dir",
        ] {
            assert!(stderr.contains(said), "{args:?}: {said:?} not in {stderr}");
        }
        assert!(
            !data_dir.exists(),
            "{args:?} created {}",
            data_dir.display()
        );
    }

    // The default `./konnektd-data` is in the directory the command runs in.
    let mut command = konnektd("", &data_dir);
    command
        .env_remove("DATABASE_URL")
        .env_remove("KONNEKTD_DATA_DIR")
        .current_dir(dir.path());
    let stderr = refused(command, &store_commands()[1]).await;
    let default = dir.path().join("konnektd-data");
    assert!(stderr.contains(&default.display().to_string()), "{stderr}");
    assert!(!default.exists());

    // A data dir without the database in it: the file it looked for is named.
    std::fs::create_dir(&data_dir).unwrap();
    for args in store_commands() {
        let stderr = refused(on_data_dir(&data_dir), &args).await;
        let file = data_dir.join("konnektd.db");
        assert!(
            stderr.contains(&format!("no SQLite database at {}", file.display())),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("KONNEKTD_DATA_DIR"), "{stderr}");
        let left: Vec<_> = std::fs::read_dir(&data_dir).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }

    // What the message says to do works: `serve` makes the store, then the command runs.
    std::fs::remove_dir(&data_dir).unwrap();
    let server = ServerProcess::start(on_data_dir(&data_dir))
        .await
        .unwrap_or_else(|log| panic!("serve starts on a new data dir: {log:#?}"));
    assert!(data_dir.join("konnektd.db").is_file());
    let (ok, stdout, stderr) =
        run(on_data_dir(&data_dir), &["token", "create", "--name", "ci"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("kpat_"), "{stdout}");
    server.signal(15);
    server.wait().await;
}

both_backends!(
    a_database_url_naming_no_database_is_refused,
    a_database_without_konnektd_tables_is_refused_not_migrated
);

/// `--database-url` / `DATABASE_URL` pointing at a database that does not exist.
async fn a_database_url_naming_no_database_is_refused(backend: Backend) {
    let (existing, dir) = fresh_database(backend).await;
    let (url, password, shown) = match backend {
        Backend::Sqlite => {
            let file = dir.path().join("absent.db");
            let url = format!("sqlite://{}?mode=rwc", file.display());
            (url, None, file.display().to_string())
        }
        Backend::Postgres => {
            let (url, password) = with_password(&existing);
            let (server, _) = url.rsplit_once('/').unwrap();
            let url = format!("{server}/konnektd_absent_{}", uuid::Uuid::new_v4().simple());
            let database = url.rsplit_once('/').unwrap().1.to_string();
            (url, Some(password), database)
        }
    };
    let data_dir = dir.path().join("data");
    for args in store_commands() {
        let stderr = refused(konnektd(&url, &data_dir), &args).await;
        for said in [&shown, "--database-url", "DATABASE_URL", "konnektd serve"] {
            assert!(stderr.contains(said), "{args:?}: {said:?} not in {stderr}");
        }
        if let Some(password) = &password {
            assert!(!stderr.contains(password.as_str()), "{stderr}");
        }
    }
    match backend {
        Backend::Sqlite => assert!(!dir.path().join("absent.db").exists()),
        Backend::Postgres => {
            let e = sqlx::PgConnection::connect(&url).await.unwrap_err();
            let code = e.as_database_error().and_then(|e| e.code());
            assert_eq!(code.as_deref(), Some("3D000"), "{e}");
        }
    }
    assert!(!data_dir.exists());
}

/// An existing database that `serve` never migrated (an empty one, another
/// application's) is refused like a missing one: migrating is `serve`'s job.
async fn a_database_without_konnektd_tables_is_refused_not_migrated(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let has_migrations = match backend {
        Backend::Sqlite => "SELECT count(*) FROM sqlite_master WHERE name = '_sqlx_migrations'",
        Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'"
        }
    };
    // The empty database, made the way an operator would.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let data_dir = dir.path().join("data");
    for args in store_commands() {
        let stderr = refused(konnektd(&url, &data_dir), &args).await;
        assert!(
            stderr.contains("has no konnektd tables"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("DATABASE_URL"), "{stderr}");
        let migrated: i64 = sqlx::query_scalar(has_migrations)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(migrated, 0, "{args:?} migrated the database");
    }
    conn.close().await.unwrap();
}

/// `url` with a password in its user info, and the password.
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').expect("the test URL names a user");
    match userinfo.split_once(':') {
        Some((_, password)) => (url.to_string(), password.to_string()),
        // The test cluster trusts local connections, so any password does.
        None => {
            let password = "pw-never-shown".to_string();
            (format!("{scheme}://{userinfo}:{password}@{host}"), password)
        }
    }
}
