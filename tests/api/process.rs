//! The real `bookgraph serve` binary as a child process: killed mid-write, stopped with
//! SIGTERM while a request waits, and probed after its database file is damaged. All but
//! the last run on PostgreSQL too when the suite does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestDatabase, WriteLock, any_pool};

const ADD_BOOK: &str = "mutation($input: AddBookInput!) {
    addBook(input: $input) { outcome book { title } }
}";

use crate::server::Server;

fn sqlite_url(database: &Path) -> String {
    format!("sqlite:{}", database.display())
}

/// A temporary directory and the database file path inside it.
fn database_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("x.db");
    (dir, file)
}

/// A temporary directory and a database of the suite's backend.
async fn fresh_database() -> (tempfile::TempDir, TestDatabase) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = TestDatabase::new(dir.path()).await;
    (dir, database)
}

fn add_book_request(title: &str) -> Value {
    json!({ "query": ADD_BOOK, "variables": { "input": {
        "authorFirstName": "Durable", "authorLastName": "Writer",
        "title": title, "publisherName": "Crash House",
    } } })
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let (_dir, database) = fresh_database().await;
    let mut server = Server::start(&database.url);
    let client = reqwest::Client::new();

    // One writer streams addBook calls and remembers each one answered 200 without errors.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/graphql"));
        let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let title = format!("Survivor {n:05}");
                n += 1;
                let Ok(response) = client
                    .post(&url)
                    .json(&add_book_request(&title))
                    .send()
                    .await
                else {
                    continue;
                };
                if response.status() != 200 {
                    continue;
                }
                let Ok(body) = response.json::<Value>().await else {
                    continue;
                };
                if body.get("errors").is_none() && body["data"]["addBook"]["outcome"] == "CREATED" {
                    acknowledged.lock().unwrap().push(title);
                }
            }
        }
    });

    // Killed mid-stream: once 200 writes are acknowledged, or after a second with at least
    // ten (a slow machine gets up to 30 s to reach them).
    let started = Instant::now();
    loop {
        let count = acknowledged.lock().unwrap().len();
        let elapsed = started.elapsed();
        if count >= 200
            || (count >= 10 && elapsed >= Duration::from_secs(1))
            || elapsed >= Duration::from_secs(30)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().expect("SIGKILL the server");
    server.child.wait().expect("reap the server");
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer task");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "only {} writes acknowledged before the kill; stderr:\n{}",
        acknowledged.len(),
        server.log()
    );

    // The restarted server recovers (SQLite: from its write-ahead log) and finds every
    // acknowledged book.
    let server = Server::start(&database.url);
    let pool = any_pool(&database.url).await;
    if database.url.starts_with("sqlite:") {
        let integrity: Vec<String> = sqlx::query_scalar("pragma integrity_check")
            .fetch_all(&pool)
            .await
            .expect("integrity check");
        assert_eq!(integrity, ["ok"]);
    }
    let stored: std::collections::HashSet<String> =
        sqlx::query_scalar("select title from book where title like 'Survivor %'")
            .fetch_all(&pool)
            .await
            .expect("read back the titles")
            .into_iter()
            .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|title| !stored.contains(*title))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    pool.close().await;

    // The restarted server answers for them too.
    let body: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query":
            r#"{ books(filter: {titleContains: "Survivor "}) { totalCount } }"# }))
        .send()
        .await
        .expect("query the restarted server")
        .json()
        .await
        .expect("JSON response");
    let total = body["data"]["books"]["totalCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("totalCount in {body}"));
    assert!(
        total >= acknowledged.len() as u64,
        "{total} books after restart, {} acknowledged",
        acknowledged.len()
    );
}

#[tokio::test]
async fn sigterm_lets_a_slow_request_finish_and_exits_zero() {
    let (_dir, database) = fresh_database().await;
    let mut server = Server::start(&database.url);

    // Another process holds the write lock, so the mutation waits for it.
    let lock = WriteLock::take(&database.url).await;
    let request = tokio::spawn(
        reqwest::Client::new()
            .post(server.url("/graphql"))
            .json(&add_book_request("Finished After SIGTERM"))
            .send(),
    );
    // Let the request reach the server and queue on the lock: /metrics shows the writer
    // connection busy then; give it 5 s in any case.
    let metrics = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let busy = match metrics.get(server.url("/metrics")).send().await {
            Ok(response) => response
                .text()
                .await
                .unwrap_or_default()
                .contains("bookgraph_db_connections_in_use{pool=\"writer\"} 1"),
            Err(_) => false,
        };
        if busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !request.is_finished(),
        "the mutation did not wait for the lock"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM failed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().expect("poll the server").is_none(),
        "the server exited with a request in flight; stderr:\n{}",
        server.log()
    );

    lock.release().await;
    let response = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the mutation finishes once the lock is free")
        .expect("request task")
        .expect("the mutation gets a response");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON response");
    assert!(body.get("errors").is_none(), "errors in {body}");
    assert_eq!(body["data"]["addBook"]["outcome"], "CREATED", "{body}");

    let status = server.wait_for_exit(Duration::from_secs(5));
    assert!(
        status.is_some_and(|status| status.code() == Some(0)),
        "exit status {status:?}; stderr:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn ready_turns_unhealthy_when_the_database_file_is_damaged() {
    let (_dir, database) = database_file();
    // Created and closed by a first server: one that has just loaded the catalogue copies
    // the load's pages from SQLite's log into the file within 100 ms, page 1 and its header
    // among them, which would mend the damage below before the probe sees it. The second
    // server commits nothing, so it copies nothing.
    Server::start(&sqlite_url(&database)).stop();
    let server = Server::start(&sqlite_url(&database));
    let client = reqwest::Client::new();
    let probe = |path: &'static str| {
        let request = client.get(server.url(path)).send();
        async move {
            let response = request.await.expect("probe answers");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON probe"))
        }
    };
    assert_eq!(probe("/ready").await, (200, json!({ "status": "ready" })));

    // Garbage over SQLite's header: the server's open connections would not notice.
    let header = b"SQLite format 3\0";
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&database)
        .expect("open the database file");
    std::io::Write::write_all(&mut file, b"this is no db!!!").expect("damage the header");
    drop(file);
    assert_eq!(
        probe("/ready").await,
        (503, json!({ "status": "unavailable" }))
    );
    assert_eq!(probe("/health").await, (200, json!({ "status": "ok" })));

    // The header back: ready again.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&database)
        .expect("open the database file");
    std::io::Write::write_all(&mut file, header).expect("restore the header");
    drop(file);
    assert_eq!(probe("/ready").await, (200, json!({ "status": "ready" })));

    // The file deleted and a directory in its place.
    std::fs::remove_file(&database).expect("delete the database file");
    std::fs::create_dir(&database).expect("a directory in its place");
    assert_eq!(
        probe("/ready").await,
        (503, json!({ "status": "unavailable" }))
    );
    assert_eq!(probe("/health").await, (200, json!({ "status": "ok" })));
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_with_its_id_and_operation() {
    let (_dir, database) = fresh_database().await;
    let mut server = Server::start_with(&database.url, &["--log-format", "json"]);
    let response = reqwest::Client::new()
        .post(server.url("/graphql"))
        .header("x-request-id", "probe-1")
        .json(&serde_json::json!({ "query": "query Probe { authors { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Stopped, so that everything it wrote to stderr has been read.
    let log = server.stop();
    let request_lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap_or_else(|_| panic!("not JSON: {line}"))
        })
        .filter(|line| line["fields"]["message"] == "request")
        .collect();
    assert_eq!(request_lines.len(), 1, "{log}");
    let line = &request_lines[0];
    assert_eq!(line["fields"]["operation"], "Probe", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
    assert!(line["fields"]["duration_ms"].is_number(), "{line}");
    assert_eq!(line["span"]["id"], "probe-1", "{line}");
}

#[tokio::test]
async fn sigterm_closes_websockets_with_going_away_and_exits_zero() {
    use crate::subscriptions::{ARRIVAL, Received, Socket, TRANSPORT_WS};

    let (_dir, database) = fresh_database().await;
    // The idle socket must still be open when SIGTERM comes, however slow the machine.
    let mut server = Server::start_with(&database.url, &["--websocket-init-timeout", "60"]);
    let mut idle = Socket::connect(server.address(), TRANSPORT_WS).await;
    let mut subscribed = Socket::open(server.address(), TRANSPORT_WS, json!({})).await;
    subscribed
        .subscribe(TRANSPORT_WS, "1", "subscription { bookAdded { title } }")
        .await;
    // The subscription is running once a ping sent after it is answered.
    subscribed.send(json!({ "type": "ping" })).await;
    assert_eq!(subscribed.next_message().await, json!({ "type": "pong" }));

    let kill = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -TERM failed");

    for (name, socket) in [("subscribed", &mut subscribed), ("idle", &mut idle)] {
        match socket.receive(ARRIVAL).await {
            Some(Received::Closed(Some((1001, _)))) => {}
            other => panic!("{name} socket: expected close 1001, got {other:?}"),
        }
    }
    let status = server.wait_for_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|status| status.code() == Some(0)),
        "exit status {status:?}; stderr:\n{}",
        server.log()
    );
}
