//! The first start's admin token is created only once the ports are bound: a start that
//! cannot listen shows no token, so the next one, which can, still shows one (issue 16).

use crate::both_backends;
use crate::harness::process::{ServerProcess, konnektd, run};
use crate::harness::{Backend, fresh_database};

both_backends!(a_start_that_cannot_bind_creates_no_token_and_the_next_shows_one);

fn tokens_in<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .flat_map(str::split_whitespace)
        .filter(|w| w.starts_with("kpat_"))
        .map(|w| w.trim_matches('"').to_string())
        .collect()
}

async fn a_start_that_cannot_bind_creates_no_token_and_the_next_shows_one(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = occupied.local_addr().unwrap().to_string();

    let (ok, _, stderr) = run(konnektd(&url, dir.path()), &["serve", "--listen", &port]).await;
    assert!(!ok, "started on an occupied port: {stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {port}")),
        "{stderr}"
    );
    assert!(tokens_in(stderr.lines()).is_empty(), "{stderr}");
    drop(occupied);

    let server = ServerProcess::start(konnektd(&url, dir.path()))
        .await
        .unwrap_or_else(|log| panic!("konnektd did not start: {log:#?}"));
    let tokens = tokens_in(server.log.iter().map(String::as_str));
    assert_eq!(tokens.len(), 1, "{:#?}", server.log);
    let response = reqwest::Client::new()
        .get(server.url("/v2/control-planes"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.signal(15);
    server.wait().await;
}
