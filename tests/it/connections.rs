//! Slow clients: a connection that trickles its headers or its body is
//! closed after `server.request_timeout`, so such clients cannot pile up
//! until no connection is left for anyone (slowloris).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Reads until the server closes the connection; returns what it sent.
/// The outer timeout only keeps a broken server from hanging the suite.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut received))
        .await
        .expect("the server never closed the connection")
        .unwrap();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let server = TestServer::start_with(|config| config.server.request_timeout = Duration::from_secs(1)).await;
    let address = server.base.trim_start_matches("http://").to_string();

    // Headers that never end.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey\r\nX-Slow: 1\r\n").await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // A body that never arrives in full.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /token HTTP/1.1\r\nHost: latchkey\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");

    // Ordinary clients are unaffected, and keep-alive still works.
    let client = http();
    for _ in 0..3 {
        assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    }
    server.stop().await;
}
