//! Both migration folders must build the same tables and columns.

use std::collections::BTreeSet;

use sqlx::Connection;

use crate::harness::{Backend, fresh_database, postgres};

async fn sqlite_columns() -> BTreeSet<(String, String)> {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    konnektd::store::Store::open(&url)
        .await
        .unwrap()
        .close()
        .await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

async fn postgres_columns() -> BTreeSet<(String, String)> {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    konnektd::store::Store::open(&url)
        .await
        .unwrap()
        .close()
        .await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// The SQLite and PostgreSQL schemas have the same tables and columns.
#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "KONNEKTD_TEST_SKIP_POSTGRES=1")]
async fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = sqlite_columns().await;
    assert!(sqlite.contains(&("tokens".into(), "digest".into())));
    if !postgres::available() {
        return;
    }
    let postgres = postgres_columns().await;
    assert_eq!(sqlite, postgres);
}

/// Each migration exists in both folders under the same version and name.
#[test]
fn both_migration_folders_list_the_same_migrations() {
    let list = |backend: &str| -> Vec<String> {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list("sqlite"), list("postgres"));
}
