//! A PostgreSQL for the suite: `KONNEKTD_TEST_POSTGRES_URL` if given (a server where the
//! tests may create databases), otherwise a throwaway cluster started from the machine's
//! PostgreSQL binaries (initdb + pg_ctl in a temp dir, as `postgres` when run as root)
//! and stopped when the test process exits. Each test gets its own database.
//!
//! Outside CI, `KONNEKTD_TEST_SKIP_POSTGRES=1` skips the PostgreSQL half of the suite:
//! built with it, those tests are ignored (build.rs); a binary built without it but run
//! with it returns early from them and prints "PostgreSQL tests skipped". Under `CI=true`
//! the variable is disregarded, and a missing PostgreSQL fails the run.

use std::sync::OnceLock;

#[path = "../../support/postgres_cluster.rs"]
mod postgres_cluster;
pub use postgres_cluster::Cluster;

static SERVER: OnceLock<Option<String>> = OnceLock::new();

/// Whether the PostgreSQL tests should run.
pub fn available() -> bool {
    admin_url().is_some()
}

fn admin_url() -> Option<&'static str> {
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("KONNEKTD_TEST_POSTGRES_URL") {
                return Some(url);
            }
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
            if !in_ci && std::env::var("KONNEKTD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                eprintln!("PostgreSQL tests skipped (KONNEKTD_TEST_SKIP_POSTGRES=1)");
                return None;
            }
            Some(Cluster::launch().map(|c| c.url).unwrap_or_else(|e| {
                panic!(
                    "cannot start a PostgreSQL for the tests: {e}; set KONNEKTD_TEST_POSTGRES_URL"
                )
            }))
        })
        .as_deref()
}

/// Creates an empty database and returns its URL.
pub async fn create_database() -> String {
    let admin = admin_url().expect("PostgreSQL is available");
    postgres_cluster::create_database(admin, "konnektd_test")
        .await
        .expect("create test database")
}
