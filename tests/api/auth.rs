//! Write access: a bearer token guards mutations, read-only mode refuses them, queries stay
//! open, and `serve` will not listen beyond loopback with writes open to anyone.

use std::process::Command;

use bookgraph::http::{WriteAccess, WriteToken};
use reqwest::header::{ACCEPT, AUTHORIZATION, HOST, ORIGIN, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::server::Server;

const TOKEN: &str = "correct-horse-battery-staple";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const ADD_BOOK: &str = "mutation AddIt($input: AddBookInput!) {
    addBook(input: $input) { outcome book { title } }
}";

async fn spawn_with_token() -> TestApp {
    let token = WriteToken::new(TOKEN).expect("valid token");
    TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::Token(token))).await
}

fn add_book_body(title: &str) -> Value {
    json!({ "query": ADD_BOOK, "variables": { "input": {
        "authorFirstName": "Guarded", "authorLastName": "Writer",
        "title": title, "publisherName": "Locked House",
    } } })
}

/// POSTs `addBook` for `title` with `authorization` (if any), as a graphql-response+json
/// client; returns the status, the `WWW-Authenticate` header and the body.
async fn add_book_as(
    app: &TestApp,
    authorization: Option<&str>,
    title: &str,
) -> (u16, Option<String>, Value) {
    let mut request = app
        .client()
        .post(app.url("/graphql"))
        .header(ACCEPT, GRAPHQL_RESPONSE_JSON)
        .json(&add_book_body(title));
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|value| value.to_str().expect("ASCII header").to_owned());
    (status, challenge, response.json().await.expect("JSON body"))
}

/// How many books have `title`, asked without any credentials.
async fn books_titled(app: &TestApp, title: &str) -> u64 {
    let data = app
        .data_with(
            "query($title: String!) { books(filter: {titleContains: $title}) { totalCount } }",
            json!({ "title": title }),
        )
        .await;
    data["books"]["totalCount"].as_u64().expect("totalCount")
}

fn assert_refused(reply: &(u16, Option<String>, Value), status: u16, code: &str, what: &str) {
    let (actual, _, body) = reply;
    assert_eq!(*actual, status, "{what}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], code,
        "{what}: {body}"
    );
    assert!(body.get("data").is_none(), "{what}: data in {body}");
}

#[tokio::test]
async fn a_mutation_without_a_token_is_a_401_and_changes_nothing() {
    let app = spawn_with_token().await;
    let reply = add_book_as(&app, None, "No Header").await;
    assert_refused(&reply, 401, "UNAUTHENTICATED", "no Authorization header");
    assert_eq!(reply.1.as_deref(), Some("Bearer realm=\"bookgraph\""));
    assert_eq!(books_titled(&app, "No Header").await, 0);
}

#[tokio::test]
async fn a_wrong_token_is_a_401_whatever_its_length() {
    let app = spawn_with_token().await;
    let shorter = &TOKEN[..TOKEN.len() - 1];
    let longer = format!("{TOKEN}x");
    let same_length_wrong = TOKEN.replace('c', "k");
    let wrong = [
        ("a different token", "Bearer not-the-token".to_owned()),
        ("one character short", format!("Bearer {shorter}")),
        ("one character long", format!("Bearer {longer}")),
        ("same length, wrong", format!("Bearer {same_length_wrong}")),
        (
            "wrong letter case",
            format!("Bearer {}", TOKEN.to_uppercase()),
        ),
        ("no space after Bearer", format!("Bearer{TOKEN}")),
        ("another scheme", format!("Basic {TOKEN}")),
        ("no scheme", TOKEN.to_owned()),
        ("an empty token", "Bearer ".to_owned()),
    ];
    for (what, authorization) in wrong {
        let reply = add_book_as(&app, Some(&authorization), "Wrong Token").await;
        assert_refused(&reply, 401, "UNAUTHENTICATED", what);
        assert!(
            reply
                .1
                .is_some_and(|challenge| challenge.starts_with("Bearer")),
            "{what}: no Bearer challenge"
        );
    }
    assert_eq!(books_titled(&app, "Wrong Token").await, 0);
}

#[tokio::test]
async fn the_right_token_runs_the_mutation_however_bearer_is_spelled() {
    let app = spawn_with_token().await;
    let spellings = [
        format!("Bearer {TOKEN}"),
        format!("bearer {TOKEN}"),
        format!("BEARER {TOKEN}"),
        format!("Bearer    {TOKEN}"),
        format!("  Bearer\t{TOKEN}  "),
    ];
    for (n, authorization) in spellings.iter().enumerate() {
        let title = format!("Authorised {n}");
        let (status, _, body) = add_book_as(&app, Some(authorization), &title).await;
        assert_eq!(status, 200, "{authorization:?}: {body}");
        assert_eq!(
            body["data"]["addBook"],
            json!({ "outcome": "CREATED", "book": { "title": title } }),
            "{authorization:?}"
        );
    }
    assert_eq!(books_titled(&app, "Authorised").await, 5);
}

#[tokio::test]
async fn queries_need_no_token() {
    let app = spawn_with_token().await;
    let data = app.data("{ authors(first: 1) { totalCount } }").await;
    assert_eq!(data["authors"]["totalCount"], 7);
    // A document holding a mutation is fine as long as the query is the one selected.
    let response = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({
            "query": format!("query Count {{ books {{ totalCount }} }} {ADD_BOOK}"),
            "operationName": "Count",
        }))
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["books"]["totalCount"], 10, "{body}");
}

#[tokio::test]
async fn a_json_only_client_is_refused_with_the_same_status() {
    let app = spawn_with_token().await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .header(ACCEPT, "application/json")
        .json(&add_book_body("Json Client"))
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn read_only_mode_refuses_add_book_and_still_serves_queries() {
    let app =
        TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::ReadOnly)).await;
    for authorization in [None, Some("Bearer anything")] {
        let reply = add_book_as(&app, authorization, "Read Only").await;
        assert_refused(&reply, 403, "FORBIDDEN", "read-only");
        let message = reply.2["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("read-only"), "{message}");
    }
    assert_eq!(books_titled(&app, "Read Only").await, 0);
    let data = app
        .data("{ publishers(first: 1) { nodes { name } totalCount } }")
        .await;
    assert_eq!(data["publishers"]["totalCount"], 4);
}

/// POSTs `addBook` for `title` addressed to `host` (the `Host` header), as a page served
/// from that host would; returns the status and the body.
async fn add_book_addressed_to(app: &TestApp, host: &str, title: &str) -> (u16, Value) {
    let response = app
        .client()
        .post(app.url("/graphql"))
        .header(HOST, host)
        .header(ORIGIN, format!("http://{host}"))
        .header(ACCEPT, GRAPHQL_RESPONSE_JSON)
        .json(&add_book_body(title))
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn by_default_only_requests_addressed_to_this_machine_may_write() {
    let app = TestApp::spawn().await;
    let port = app.address.port();
    // A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding) is
    // same-origin with itself, so no CORS rule stops it; its Host header gives it away.
    let rebound = format!("evil.example:{port}");
    let (status, body) = add_book_addressed_to(&app, &rebound, "Rebound").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("--write-token")),
        "{body}"
    );
    assert_eq!(books_titled(&app, "Rebound").await, 0);

    for (host, title) in [
        (format!("localhost:{port}"), "By Name"),
        (format!("127.0.0.1:{port}"), "By IPv4"),
        (format!("[::1]:{port}"), "By IPv6"),
        ("localhost".to_owned(), "Without Port"),
    ] {
        let (status, body) = add_book_addressed_to(&app, &host, title).await;
        assert_eq!(status, 200, "{host}: {body}");
        assert_eq!(
            body["data"]["addBook"]["outcome"], "CREATED",
            "{host}: {body}"
        );
    }
}

#[tokio::test]
async fn with_anonymous_writes_allowed_any_host_name_may_write() {
    let app = TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::Open)).await;
    let host = format!("books.example:{}", app.address.port());
    let (status, body) = add_book_addressed_to(&app, &host, "From Afar").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["addBook"]["outcome"], "CREATED", "{body}");
}

/// `--database sqlite:<dir>/x.db` arguments over a fresh directory.
fn fresh_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("x.db").display());
    (dir, url)
}

#[test]
fn serve_refuses_to_listen_openly_beyond_loopback() {
    let (dir, database) = fresh_database();
    let serve = Server::spawn(&["--listen", "0.0.0.0:0", "--database", &database], "info");
    let (code, log) = serve.exit();
    let lines: Vec<&str> = log.lines().collect();
    assert!(code.is_some_and(|code| code != 0), "exit code {code:?}");
    assert_eq!(lines.len(), 1, "stderr: {lines:#?}");
    for flag in ["--write-token", "--read-only", "--allow-anonymous-writes"] {
        assert!(
            lines[0].contains(flag),
            "{flag} not named in {:?}",
            lines[0]
        );
    }
    assert!(
        !dir.path().join("x.db").exists(),
        "a refused start created the database"
    );
}

#[test]
fn serve_listens_beyond_loopback_with_a_token_or_when_told_to() {
    let cases: [&[&str]; 3] = [
        &["--allow-anonymous-writes"],
        &["--write-token", "x"],
        &["--read-only"],
    ];
    for flags in cases {
        let (_dir, database) = fresh_database();
        let mut args = vec!["--listen", "0.0.0.0:0", "--database", &database];
        args.extend(flags);
        let mut serve = Server::spawn(&args, "info");
        serve.wait_until_listening();
        serve.stop();
    }
}

#[tokio::test]
async fn the_token_never_appears_in_the_servers_log() {
    let token = "tok-5f1c9a7e-never-logged";
    let (_dir, database) = fresh_database();
    let mut serve = Server::spawn(
        &[
            "--listen",
            "0.0.0.0:0",
            "--database",
            &database,
            "--write-token",
            token,
        ],
        "debug",
    );
    serve.wait_until_listening();
    let client = reqwest::Client::new();
    let url = serve.url("/graphql");
    for authorization in [format!("Bearer {token}"), format!("Bearer {token}-wrong")] {
        client
            .post(&url)
            .header(AUTHORIZATION, authorization)
            .json(&add_book_body("Logged Carefully"))
            .send()
            .await
            .expect("request reaches the server");
    }
    let body: Value = client
        .post(&url)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(&add_book_body("Logged Carefully Again"))
        .send()
        .await
        .expect("request reaches the server")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["data"]["addBook"]["outcome"], "CREATED", "{body}");

    let log = serve.stop();
    assert!(
        log.contains("DEBUG"),
        "RUST_LOG=debug logged no debug lines:\n{log}"
    );
    assert!(!log.contains("5f1c9a7e"), "the token is in the log:\n{log}");
}

#[test]
fn help_never_shows_the_token_from_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_bookgraph"))
        .args(["serve", "--help"])
        .env("BOOKGRAPH_WRITE_TOKEN", "tok-from-the-environment")
        .output()
        .expect("run bookgraph serve --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("BOOKGRAPH_WRITE_TOKEN"), "{help}");
    assert!(!help.contains("tok-from-the-environment"), "{help}");
}

#[tokio::test]
async fn serve_without_write_flags_takes_mutations_addressed_to_loopback_only() {
    let (_dir, database) = fresh_database();
    let server = Server::start(&database);
    let port = server.address().rsplit(':').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let mut outcomes = Vec::new();
    for host in [format!("evil.example:{port}"), format!("localhost:{port}")] {
        let response = client
            .post(server.url("/graphql"))
            .header(HOST, &host)
            .json(&add_book_body(&format!("Via {host}")))
            .send()
            .await
            .expect("request reaches the server");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON body");
        outcomes.push((status, body["errors"][0]["extensions"]["code"].clone()));
    }
    assert_eq!(
        outcomes,
        [(403, json!("FORBIDDEN")), (200, Value::Null)],
        "refused when addressed elsewhere, run when addressed to localhost"
    );
}
