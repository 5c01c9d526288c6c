//! Real GraphQL clients and tools, run with Node.js against a live server: graphql-http's
//! GraphQL-over-HTTP audits, Apollo Client's normalised cache, graphql-js introspection, and
//! Node's own `fetch` and `http.request` posting a body over the limit.

use crate::helpers::{ClientNeeds, TestApp, run_node};

/// Runs `node clients/<script> <args…>` off the async runtime, so the server keeps
/// answering, and fails the test with the script's output unless it succeeds. `None` when
/// the machine has no Node.js (the test is skipped; see `run_node`).
async fn run_client(script: &'static str, args: Vec<String>) -> Option<String> {
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_node(script, &args, ClientNeeds::Node)
    })
    .await
    .expect("the Node.js script runs to completion")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`node clients/{script}` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
    );
    Some(stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_http_audits_pass_at_must_level() {
    let app = TestApp::spawn().await;
    let Some(stdout) = run_client("audit.mjs", vec![app.url("/graphql")]).await else {
        return;
    };
    assert!(stdout.contains("compliant"), "audit output:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn apollo_client_reads_an_added_book_back_from_its_cache() {
    let app = TestApp::spawn().await;
    let Some(stdout) = run_client("apollo.mjs", vec![app.url("/graphql")]).await else {
        return;
    };
    assert!(stdout.starts_with("ok:"), "apollo output:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_round_trips_to_the_committed_schema() {
    let app = TestApp::spawn().await;
    let sdl = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    run_client(
        "introspection.mjs",
        vec![app.url("/graphql"), sdl.to_owned()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_fetch_and_http_request_read_the_413_of_a_body_over_the_limit() {
    let app = TestApp::spawn().await;
    run_client("oversized.mjs", vec![app.url("/graphql")]).await;
}
