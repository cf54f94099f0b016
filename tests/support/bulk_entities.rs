//! Fills a control plane with many core entities straight through SQL, in one
//! transaction, far faster than the API could: a quarter each of services, routes (each
//! pointing at a service), consumers (each with its `username` key) and plugins (each
//! scoped to a consumer, with its scope key), every one tagged. Rows have the shape the
//! store writes (`core_entities`, `core_entity_keys`, `core_entity_refs`,
//! `core_entity_tags`). Shared by the test harness and the benches (`#[path]`-included).

use sqlx::{AnyConnection, Connection};

/// Rows per multi-row INSERT: 500 rows of 7 columns stay under both backends' limits on
/// bound parameters.
const BATCH: usize = 500;

/// Adds `count` entities (a multiple of 4) to control plane `cp` of the database at
/// `url`, which konnektd has migrated.
pub async fn fill(url: &str, cp: &str, count: usize) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("connect");
    if url.starts_with("sqlite:") {
        sqlx::raw_sql("PRAGMA foreign_keys = ON")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let mut tx = conn.begin().await.expect("begin");
    let quarter = count / 4;
    let id = |kind: u8, i: usize| format!("{kind:02x}000000-0000-4000-8000-{i:012x}");
    let mut entities = Vec::with_capacity(count);
    let mut keys = Vec::new();
    let mut refs = Vec::new();
    for i in 0..quarter {
        let (service, route, consumer, plugin) = (id(1, i), id(2, i), id(3, i), id(4, i));
        let name = format!("s{i}");
        entities.push(("services", service.clone(), Some(name.clone()), format!(r#"{{"id":"{service}","name":"{name}","host":"h","port":80,"protocol":"http","tags":["bulk"]}}"#)));
        keys.push(("services", service.clone(), "name", name));
        entities.push(("routes", route.clone(), None, format!(r#"{{"id":"{route}","paths":["/r{i}"],"service":{{"id":"{service}"}},"tags":["bulk"]}}"#)));
        refs.push(("routes", route, "service", "services", service));
        let username = format!("u{i}");
        entities.push((
            "consumers",
            consumer.clone(),
            Some(username.clone()),
            format!(r#"{{"id":"{consumer}","username":"{username}","tags":["bulk"]}}"#),
        ));
        keys.push(("consumers", consumer.clone(), "username", username));
        entities.push(("plugins", plugin.clone(), Some("key-auth".into()), format!(r#"{{"id":"{plugin}","name":"key-auth","consumer":{{"id":"{consumer}"}},"config":{{}},"tags":["bulk"]}}"#)));
        keys.push((
            "plugins",
            plugin.clone(),
            "scope",
            format!("key-auth:{consumer}"),
        ));
        refs.push(("plugins", plugin, "consumer", "consumers", consumer));
    }
    for chunk in entities.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO core_entities (control_plane_id, entity_type, id, name, body, created_at, updated_at) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 7);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, name, body) in chunk {
            query = query
                .bind(cp)
                .bind(*kind)
                .bind(id.as_str())
                .bind(name.clone())
                .bind(body.as_str())
                .bind(1_700_000_000_i64)
                .bind(1_700_000_000_i64);
        }
        query.execute(&mut *tx).await.expect("insert entities");
        let mut sql = String::from(
            "INSERT INTO core_entity_tags (control_plane_id, entity_type, id, tag) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 4);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, _, _) in chunk {
            query = query.bind(cp).bind(*kind).bind(id.as_str()).bind("bulk");
        }
        query.execute(&mut *tx).await.expect("insert tags");
    }
    for chunk in keys.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO core_entity_keys (control_plane_id, entity_type, key_name, key_value, id) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 5);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, key, value) in chunk {
            query = query
                .bind(cp)
                .bind(*kind)
                .bind(*key)
                .bind(value.as_str())
                .bind(id.as_str());
        }
        query.execute(&mut *tx).await.expect("insert keys");
    }
    for chunk in refs.chunks(BATCH) {
        let mut sql = String::from(
            "INSERT INTO core_entity_refs (control_plane_id, entity_type, id, field, target_type, target_id) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 6);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, id, field, target, target_id) in chunk {
            query = query
                .bind(cp)
                .bind(*kind)
                .bind(id.as_str())
                .bind(*field)
                .bind(*target)
                .bind(target_id.as_str());
        }
        query.execute(&mut *tx).await.expect("insert refs");
    }
    tx.commit().await.expect("commit");
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` placeholders.
fn push_rows(sql: &mut String, rows: usize, columns: usize) {
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            n += 1;
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
}
