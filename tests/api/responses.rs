//! What a response holds is bounded while it is built: every parent's list and every alias
//! count, however few distinct rows the database read for them.

use async_graphql::Request;
use bookgraph::graphql::limits::Limits;
use bookgraph::graphql::{build_schema, execute};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn the_same_rows_repeated_under_many_parents_are_refused_whole() {
    let mut csv = Vec::new();
    bookgraph::generate::generate_csv(2000, 1, &mut csv).unwrap();
    let app = TestApp::spawn_with_csv(std::str::from_utf8(&csv).unwrap()).await;
    // Each publisher's authors with all their books: about 300,000 books in the response,
    // though the database reads each author's books once (about 11,000 rows).
    let query = "{ publishers(first: 100) { nodes { authors { books { title } } } } }";
    let response = app.post_graphql(query, json!({})).await;
    assert!(response["data"].is_null(), "a half-built response");
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("250000 values"), "{message}");

    let still = app.data("{ __typename authors { totalCount } }").await;
    assert_eq!(still["authors"]["totalCount"], 2000);
}

/// Runs `query` on the app's catalogue under a schema allowing `max_response_values`.
async fn run_with_budget(app: &TestApp, max_response_values: u64, query: &str) -> Value {
    let limits = Limits {
        max_response_values,
        ..Limits::default()
    };
    let schema = build_schema(limits);
    let operation = schema.operation(Request::new(query));
    let response = execute(&schema, &app.db, operation).await;
    serde_json::to_value(response).unwrap()
}

#[tokio::test]
async fn a_response_holds_exactly_its_budget_of_values_and_not_one_more() {
    let app = TestApp::spawn().await;
    // The tutorial's 12 book–publisher links are 12 items of publishers' `books`; each
    // item counts itself and every field it selects, inside nested objects too.
    let cases = [
        (
            "item, title, author and its name",
            "{ publishers { nodes { books { title author { name } } } } }",
            48,
        ),
        (
            "two aliases of the same list",
            "{ publishers { nodes { a: books { title } b: books { title } } } }",
            48,
        ),
        (
            "fields through a fragment",
            "{ publishers { nodes { books { ...B } } } } fragment B on Book { id title }",
            36,
        ),
        (
            "each level of nested lists",
            "{ publishers { nodes { books { publishers { name } } } } }",
            12 * 2 + 16 * 2,
        ),
    ];
    for (what, query, values) in cases {
        let within = run_with_budget(&app, values, query).await;
        assert!(within.get("errors").is_none(), "{what}: {within}");
        let beyond = run_with_budget(&app, values - 1, query).await;
        assert_eq!(beyond["data"], Value::Null, "{what}: {beyond}");
        assert_eq!(
            beyond["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
            "{what}: {beyond}"
        );
    }
}
