//! Automatic persisted queries (Apollo's protocol) and trusted-documents mode.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

const QUERY: &str = "{ publishers(first: 1) { nodes { name } } }";
const ANSWER: &str = r#"{"publishers":{"nodes":[{"name":"Berkley"}]}}"#;

fn sha256(text: &str) -> String {
    Sha256::digest(text)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` as a client preferring graphql-response+json, as Apollo Client does.
async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app
        .client()
        .post(app.url("/graphql"))
        .header(
            "accept",
            "application/graphql-response+json,application/json;q=0.9",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// GETs with `params` in the query string, as Apollo Client and urql send hashed queries.
async fn get(app: &TestApp, params: &[(&str, String)]) -> (StatusCode, Value) {
    let response = app
        .client()
        .get(app.url("/graphql"))
        .query(params)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn assert_answered(reply: &(StatusCode, Value), what: &str) {
    assert_eq!(reply.0, StatusCode::OK, "{what}: {}", reply.1);
    assert_eq!(
        reply.1["data"],
        serde_json::from_str::<Value>(ANSWER).unwrap(),
        "{what}"
    );
}

fn assert_error(reply: &(StatusCode, Value), status: StatusCode, code: &str, what: &str) {
    assert_eq!(reply.0, status, "{what}: {}", reply.1);
    assert_eq!(
        reply.1["errors"][0]["extensions"]["code"], code,
        "{what}: {}",
        reply.1
    );
    assert!(
        reply.1.get("data").is_none(),
        "{what}: no data: {}",
        reply.1
    );
}

#[tokio::test]
async fn a_persisted_query_misses_then_registers_then_hits_over_post() {
    let app = TestApp::spawn().await;
    let hash = sha256(QUERY);
    let miss = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_error(&miss, StatusCode::OK, "PERSISTED_QUERY_NOT_FOUND", "miss");
    assert_eq!(miss.1["errors"][0]["message"], "PersistedQueryNotFound");

    assert_answered(
        &post(
            &app,
            json!({ "query": QUERY, "extensions": persisted(&hash) }),
        )
        .await,
        "register",
    );
    assert_answered(
        &post(&app, json!({ "extensions": persisted(&hash) })).await,
        "hit",
    );
}

#[tokio::test]
async fn a_persisted_query_works_over_get_as_clients_send_it() {
    let app = TestApp::spawn().await;
    let hash = sha256(QUERY);
    let extensions = persisted(&hash).to_string();
    let hashed = [
        ("variables", "{}".to_owned()),
        ("extensions", extensions.clone()),
    ];
    assert_error(
        &get(&app, &hashed).await,
        StatusCode::OK,
        "PERSISTED_QUERY_NOT_FOUND",
        "miss",
    );
    let with_query = [
        ("query", QUERY.to_owned()),
        ("variables", "{}".to_owned()),
        ("extensions", extensions),
    ];
    assert_answered(&get(&app, &with_query).await, "register over GET");
    assert_answered(&get(&app, &hashed).await, "hit over GET");
}

#[tokio::test]
async fn a_hash_that_is_not_its_querys_is_refused() {
    let app = TestApp::spawn().await;
    let wrong = sha256("{ authors { totalCount } }");
    let reply = post(
        &app,
        json!({ "query": QUERY, "extensions": persisted(&wrong) }),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "PERSISTED_QUERY_HASH_MISMATCH",
        "mismatch",
    );
    let miss = post(&app, json!({ "extensions": persisted(&wrong) })).await;
    assert_error(
        &miss,
        StatusCode::OK,
        "PERSISTED_QUERY_NOT_FOUND",
        "nothing was registered",
    );
}

#[tokio::test]
async fn a_persisted_mutation_is_refused_over_get() {
    let app = TestApp::spawn().await;
    let mutation = r#"mutation { addBook(input: {title: "T", authorFirstName: "A", authorLastName: "B", publisherName: "P"}) { outcome } }"#;
    let hash = sha256(mutation);
    let (status, _) = post(
        &app,
        json!({ "query": mutation, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let reply = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(reply.0, StatusCode::METHOD_NOT_ALLOWED, "{}", reply.1);
}

#[tokio::test]
async fn trusted_documents_mode_runs_listed_hashes_only() {
    let hash = sha256(QUERY);
    let app = TestApp::spawn_trusted(HashMap::from([(
        format!("sha256:{hash}"),
        QUERY.to_owned(),
    )]))
    .await;
    assert_answered(
        &post(&app, json!({ "extensions": persisted(&hash) })).await,
        "listed hash",
    );
    assert_answered(
        &post(&app, json!({ "documentId": hash })).await,
        "listed documentId",
    );
    assert_answered(
        &get(&app, &[("documentId", hash.clone())]).await,
        "listed hash over GET",
    );

    let unlisted = "{ authors { totalCount } }";
    let cases = [
        json!({ "query": unlisted }),
        json!({ "query": unlisted, "extensions": persisted(&sha256(unlisted)) }),
        json!({ "extensions": persisted(&sha256(unlisted)) }),
    ];
    for body in cases {
        let reply = post(&app, body.clone()).await;
        assert_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "PERSISTED_QUERY_NOT_TRUSTED",
            &body.to_string(),
        );
    }
}

#[tokio::test]
async fn trusted_documents_mode_refuses_websocket_operations() {
    let hash = sha256(QUERY);
    let app = TestApp::spawn_trusted(HashMap::from([(hash, QUERY.to_owned())])).await;
    let upgrade = app
        .client()
        .get(app.url("/graphql/ws"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), StatusCode::FORBIDDEN);
}
