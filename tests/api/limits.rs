//! Explicit limits: body size, header-read timeout (docs/threat-model.md, limits; OWASP API
//! Security Top 10 2023, API4 Unrestricted Resource Consumption).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};

both_backends!(
    a_body_over_the_limit_is_refused_with_413_before_it_is_read,
    a_chunked_body_over_the_limit_is_refused_with_413,
    a_client_that_does_not_finish_its_headers_is_cut_off,
);

/// The limit is a setting; a body one byte over it gets 413 without being parsed, one
/// at it is handled normally.
async fn a_body_over_the_limit_is_refused_with_413_before_it_is_read(backend: Backend) {
    let limit = 4096;
    let app = TestApp::spawn_with(backend, |a| a.max_body_size = limit).await;
    // `{"name":"big"}` padded with whitespace, which JSON ignores, to exactly `len` bytes.
    let body = |len: usize| {
        let mut s = json!({"name": "big"}).to_string();
        s.push_str(&" ".repeat(len - s.len()));
        s
    };
    let send = |b: String| {
        app.request(reqwest::Method::POST, "/v2/control-planes")
            .header("content-type", "application/json")
            .body(b)
            .send()
    };
    let (status, body_json) = problem(send(body(limit + 1)).await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(
        body_json,
        json!({"status": 413, "title": "Payload Too Large", "type": "https://httpstatuses.com/413",
               "detail": "Request body is larger than the limit of 4096 bytes"})
    );
    let (_, list) = status_and_json(app.get("/v2/control-planes").await).await;
    assert_eq!(list["meta"]["page"]["total"], 0);
    assert_eq!(send(body(limit)).await.unwrap().status(), 201);
    app.shutdown().await;
}

/// Without a Content-Length the limit still holds while the body streams in.
async fn a_chunked_body_over_the_limit_is_refused_with_413(backend: Backend) {
    let app = TestApp::spawn_with(backend, |a| a.max_body_size = 1024).await;
    let mut stream = TcpStream::connect(app.addr()).await.unwrap();
    let chunk = format!("{{\"name\": \"{}\"}}", "n".repeat(2000));
    let request = format!(
        "POST /v2/control-planes HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.token,
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(
        response.contains("larger than the limit of 1024 bytes"),
        "{response}"
    );
    app.shutdown().await;
}

/// Slowloris: a connection that sends part of its headers is closed once the
/// header-read timeout passes, while other clients are served meanwhile.
async fn a_client_that_does_not_finish_its_headers_is_cut_off(backend: Backend) {
    let timeout = Duration::from_millis(800);
    let app = TestApp::spawn_with(backend, |a| a.header_read_timeout = timeout).await;
    let mut slow = TcpStream::connect(app.addr()).await.unwrap();
    slow.write_all(b"GET /status HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (status, _) =
        status_and_json(app.client.get(app.url("/status")).send().await.unwrap()).await;
    assert_eq!(status, 200, "others are served while one client dawdles");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    let elapsed = started.elapsed();
    assert!(read.is_ok(), "the server closed the connection");
    assert!(
        elapsed >= timeout - Duration::from_millis(100),
        "not before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_secs(3),
        "soon after the timeout: {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("200 OK"),
        "the half request was never answered: {text}"
    );
    app.shutdown().await;
}
