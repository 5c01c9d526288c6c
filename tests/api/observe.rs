//! What an operator sees: metrics, request ids and CORS.

use reqwest::header::{ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};

use crate::helpers::{DIAGNOSTICS, TestApp};

async fn metrics(app: &TestApp) -> String {
    let response = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

/// The value of the sample line starting with `series ` (name and labels).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_requests_statements_and_batches() {
    let app = TestApp::spawn().await;
    let before = metrics(&app).await;
    for _ in 0..3 {
        app.data(
            "query Hierarchy { authors { nodes { name books { title publishers { name } } } } }",
        )
        .await;
    }
    let after = metrics(&app).await;
    let statements = "bookgraph_sql_statements_total";
    assert_eq!(
        sample(&after, statements) - sample(&before, statements),
        6.0,
        "2 per request: the page with its authors' books, their publishers"
    );
    assert_eq!(
        sample(
            &after,
            r#"bookgraph_requests_total{operation="Hierarchy",outcome="ok"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(&after, "bookgraph_request_duration_seconds_count"),
        3.0
    );
    assert!(sample(&after, "bookgraph_dataloader_batch_size_count") >= 3.0);
    assert!(sample(&after, "bookgraph_database_size_bytes") > 0.0);
    assert!(
        after.contains("# TYPE bookgraph_db_connections_in_use gauge"),
        "{after}"
    );
}

#[tokio::test]
async fn metrics_count_write_transactions() {
    let app = TestApp::spawn().await;
    let transactions = "bookgraph_write_transactions_total";
    let before = sample(&metrics(&app).await, transactions);
    for title in ["Kindred", "Dawn", "Kindred"] {
        let added = app
            .data(&format!(
                r#"mutation {{ addBook(input: {{ authorFirstName: "Octavia", authorLastName: "Butler",
                    title: "{title}", publisherName: "Beacon" }}) {{ outcome }} }}"#
            ))
            .await;
        assert!(added["addBook"]["outcome"].is_string(), "{added}");
    }
    let after = sample(&metrics(&app).await, transactions);
    assert_eq!(
        after - before,
        3.0,
        "one each for writes made one after another, the one that changed nothing too"
    );
}

#[tokio::test]
async fn metrics_tell_failed_operations_apart() {
    let app = TestApp::spawn().await;
    app.post_graphql(
        r#"query Broken { author(id: "x") { name } }"#,
        serde_json::json!({}),
    )
    .await;
    app.post_graphql("query Invalid { nope }", serde_json::json!({}))
        .await;
    let after = metrics(&app).await;
    assert_eq!(
        sample(
            &after,
            r#"bookgraph_requests_total{operation="Broken",outcome="error"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"bookgraph_requests_total{operation="Invalid",outcome="rejected"}"#
        ),
        1.0
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let generated = app.client().get(app.url("/health")).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    let again = app.client().get(app.url("/health")).send().await.unwrap();
    assert_ne!(
        again.headers()["x-request-id"].to_str().unwrap(),
        id,
        "ids are unique"
    );

    let given = app
        .client()
        .get(app.url("/health"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        given.headers()["x-request-id"],
        "trace-42",
        "a client's id is kept"
    );
}

#[tokio::test]
async fn a_request_id_that_could_forge_log_fields_is_replaced_by_one_of_ours() {
    let app = TestApp::spawn().await;
    let unsafe_ids = [
        r#"abc"} injected=1"#.to_owned(),
        "a b".to_owned(),
        "id=1".to_owned(),
        "x".repeat(65),
    ];
    for sent in unsafe_ids {
        let response = app
            .client()
            .get(app.url("/health"))
            .header("x-request-id", &sent)
            .send()
            .await
            .unwrap();
        let used = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(used, sent, "an unsafe id is not echoed");
        assert!(
            !used.is_empty()
                && used
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte)),
            "{sent:?} was replaced by {used:?}, which has the safe shape"
        );
    }
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let open = TestApp::spawn_configured(|state| {
        state.with_cors_origins(vec!["https://app.example.com".parse().unwrap()])
    })
    .await;
    let closed = TestApp::spawn().await;
    for (app, origin, allowed) in [
        (&open, "https://app.example.com", true),
        (&open, "https://evil.example.com", false),
        (&closed, "https://app.example.com", false),
    ] {
        let preflight = app
            .client()
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        let header = preflight.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN);
        assert_eq!(
            header.is_some(),
            allowed,
            "{origin}: {:?}",
            preflight.headers()
        );
        if allowed {
            assert_eq!(header.unwrap(), origin);
        }
    }
}

#[tokio::test]
async fn a_page_of_an_allowed_origin_may_ask_for_diagnostics() {
    let app = TestApp::spawn_configured(|state| {
        state.with_cors_origins(vec!["https://app.example.com".parse().unwrap()])
    })
    .await;
    let preflight = app
        .client()
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header(ORIGIN, "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", DIAGNOSTICS)
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get(ACCESS_CONTROL_ALLOW_HEADERS)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(allowed.contains(DIAGNOSTICS), "{:?}", preflight.headers());
}
