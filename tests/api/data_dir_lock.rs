//! One `serve` per SQLite data dir: a second is refused with the data dir and the first
//! one's pid, and may start once the first has gone (the OS drops the lock with it).

use crate::harness::process::{ServerProcess, konnektd};
use crate::harness::{Backend, fresh_database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_data_dir_is_refused() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let data_dir = dir.path().join("data");
    let first = ServerProcess::start(konnektd(&url, &data_dir))
        .await
        .unwrap_or_else(|log| panic!("the first konnektd did not start: {log:#?}"));
    let pid = first.child.id().unwrap();

    let log = match ServerProcess::start(konnektd(&url, &data_dir)).await {
        Ok(second) => panic!(
            "a second server started on {}: {}",
            data_dir.display(),
            second.base
        ),
        Err(log) => log.join("\n"),
    };
    assert!(log.contains(&data_dir.display().to_string()), "{log}");
    assert!(log.contains(&format!("pid {pid}")), "{log}");
    assert!(log.contains("already serving the data dir"), "{log}");

    // The first still answers.
    let status = reqwest::get(first.url("/status")).await.unwrap().status();
    assert_eq!(status, 200);
    first.signal(9);
    first.wait().await;
    let again = ServerProcess::start(konnektd(&url, &data_dir))
        .await
        .unwrap_or_else(|log| panic!("no start after the first died: {log:#?}"));
    again.signal(15);
    again.wait().await;
}
