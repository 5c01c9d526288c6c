//! Faults of the database under a running server: a full disk, a file deleted or replaced
//! while serving, a file that cannot be written. Each costs clients a clear error, never
//! the service or acknowledged data, and the server says so on `/ready`.

use bookgraph::db::OpenOptions;
use serde_json::{Value, json};

use crate::helpers::{TEST_POOL, TestApp, assert_counts_match_rows, postgres_admin_url};
use crate::server::Server;

const ADD_BOOK: &str = "mutation($input: AddBookInput!) {
    addBook(input: $input) { outcome book { id } }
}";

/// SQLite's own faults (page limits, files) have no PostgreSQL counterpart to provoke.
fn sqlite_only(test: &str) -> bool {
    if postgres_admin_url().is_some() {
        eprintln!("skipped on PostgreSQL: {test} provokes a fault of an SQLite file");
        return false;
    }
    true
}

/// `addBook` of a long title numbered `n`, so each one takes room in the file.
async fn add_numbered_book(app: &TestApp, n: usize) -> Value {
    let title = format!("{n:06} {}", "a long title that takes room ".repeat(17));
    app.post_graphql(
        ADD_BOOK,
        json!({ "input": {
            "authorFirstName": "Space", "authorLastName": "Filler",
            "title": title.trim_end(), "publisherName": "Full House",
        } }),
    )
    .await
}

fn sqlite_file(app: &TestApp) -> std::path::PathBuf {
    app.database_url
        .strip_prefix("sqlite:")
        .expect("an SQLite URL")
        .into()
}

async fn ready_status(app: &TestApp) -> u16 {
    app.client()
        .get(app.url("/ready"))
        .send()
        .await
        .expect("/ready answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_full_database_answers_unavailable_and_writes_again_once_space_is_freed() {
    if !sqlite_only("a full database") {
        return;
    }
    let app = TestApp::spawn_opened(OpenOptions {
        max_size: Some(512 << 10),
        ..TEST_POOL
    })
    .await;

    let mut added = Vec::new();
    let refused = loop {
        let response = add_numbered_book(&app, added.len()).await;
        if let Some(errors) = response.get("errors") {
            break errors[0].clone();
        }
        added.push(response["data"]["addBook"]["book"]["id"].clone());
        assert!(added.len() < 5_000, "512 KiB never filled up");
    };
    assert_eq!(refused["extensions"]["code"], "UNAVAILABLE", "{refused}");
    assert_eq!(refused["extensions"]["retryable"], true, "{refused}");
    assert!(
        refused["message"].as_str().unwrap_or("").contains("full"),
        "{refused}"
    );

    // The failed write left the writer clean: the next one fails for the same reason,
    // not for a transaction left open, and /ready tells load balancers.
    let again = add_numbered_book(&app, added.len()).await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{again}"
    );
    assert_eq!(ready_status(&app).await, 503);

    for id in added.drain(..added.len() / 2) {
        app.data_with(
            "mutation($id: ID!) { deleteBook(input: { id: $id }) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
    }
    let response = add_numbered_book(&app, 1_000_000).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(response["data"]["addBook"]["outcome"], "CREATED");
    assert_eq!(ready_status(&app).await, 200);
    assert_counts_match_rows(&app).await;
}

#[tokio::test]
async fn a_database_file_deleted_while_serving_refuses_writes_until_restarted() {
    if !sqlite_only("a deleted file") {
        return;
    }
    let app = TestApp::spawn().await;
    let file = sqlite_file(&app);
    std::fs::remove_file(&file).expect("delete the database file");

    for attempt in 0..2 {
        let response = add_numbered_book(&app, attempt).await;
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["code"], "UNAVAILABLE", "{response}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or("")
                .contains("deleted or replaced"),
            "{response}"
        );
    }
    assert_eq!(ready_status(&app).await, 503);
    assert!(!file.exists(), "a write recreated the file");
}

#[tokio::test]
async fn a_database_file_replaced_while_serving_refuses_writes() {
    if !sqlite_only("a replaced file") {
        return;
    }
    let app = TestApp::spawn().await;
    let file = sqlite_file(&app);
    let copy = app.temp_path("copy.db");
    std::fs::copy(&file, &copy).expect("copy the database file");
    std::fs::rename(&copy, &file).expect("replace the database file");

    let response = add_numbered_book(&app, 0).await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{response}"
    );
    assert_eq!(ready_status(&app).await, 503);
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_served_read_only_and_says_so() {
    if !sqlite_only("a read-only file") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("catalogue.db");
    let url = format!("sqlite:{}", file.display());
    // A first start creates, migrates and seeds the catalogue; then it is opened read-only.
    Server::start(&url).stop();
    let mut server = Server::start(&format!("{url}?mode=ro"));

    let client = reqwest::Client::new();
    let ready = client
        .get(server.url("/ready"))
        .send()
        .await
        .expect("/ready");
    assert_eq!(ready.status(), 200, "reads are served");
    let authors: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": "{ authors(first: 1) { totalCount } }" }))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("JSON");
    assert!(
        authors["data"]["authors"]["totalCount"].as_u64() > Some(0),
        "{authors}"
    );
    let refused = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": ADD_BOOK, "variables": { "input": {
            "authorFirstName": "Read", "authorLastName": "Only",
            "title": "Never Written", "publisherName": "Nowhere",
        } } }))
        .send()
        .await
        .expect("mutation");
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    let log = server.stop();
    assert!(log.contains("serving it read-only"), "{log}");
}
