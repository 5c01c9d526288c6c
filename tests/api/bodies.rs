//! Bodies over the limit: every client reads a GraphQL-shaped 413, even one that writes
//! its whole body before reading anything, as Node's `http.request` and `fetch` do.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::TestApp;
use crate::http::{MIB, padded_request};

/// A response read off a raw connection: status and body, the connection left open.
pub async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.expect("read the response");
        assert!(
            read > 0,
            "the connection closed before a response: {received:?}"
        );
        received.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |length| length.trim().parse().expect("a content length"));
    let mut body = received[head_end..].to_vec();
    body.resize(length, 0);
    let already = received.len() - head_end;
    stream
        .read_exact(&mut body[already..])
        .await
        .expect("read the response body");
    (status, String::from_utf8(body).expect("a UTF-8 body"))
}

fn assert_graphql_413(status: u16, body: &str, what: &str) {
    assert_eq!(status, 413, "{what}: {body}");
    let body: Value =
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{what}: {error}: {body}"));
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{what}: {body}"
    );
    assert!(body["errors"][0]["message"].is_string(), "{what}: {body}");
    assert!(body.get("data").is_none(), "{what}: {body}");
}

#[tokio::test]
async fn a_client_writing_its_whole_oversized_body_before_reading_gets_the_413() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    // Larger than loopback's socket buffers take without the server reading.
    let body = padded_request(8 * MIB);
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         accept: application/graphql-response+json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(body.as_bytes())
        .await
        .expect("the server reads the whole body (no broken pipe)");
    let (status, reply) = read_response(&mut stream).await;
    assert_graphql_413(status, &reply, "raw client");

    // The body was read to its end, so the connection serves the next request.
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = read_response(&mut stream).await;
    assert_eq!(status, 200, "the same connection goes on serving");
}

#[tokio::test]
async fn reqwest_reads_a_graphql_shaped_413_for_a_body_over_the_limit() {
    let app = TestApp::spawn().await;
    for size in [MIB + 1, 8 * MIB] {
        let response = app
            .client()
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(padded_request(size))
            .send()
            .await
            .unwrap_or_else(|error| panic!("{size} bytes: {error}"));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_graphql_413(status, &body, &format!("{size} bytes"));
    }
}

#[tokio::test]
async fn a_declared_length_far_over_the_limit_is_refused_before_the_body_is_sent() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        100 * MIB
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("answered without waiting for the body");
    assert_graphql_413(answered.0, &answered.1, "100 MiB declared");
}
