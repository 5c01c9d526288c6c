//! Hostile and malformed requests: each gets the right status and error, and the server
//! goes on answering everyone else.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const RESPONSE_JSON: &str = "application/graphql-response+json";

/// A request to send: content type and body.
struct Hostile {
    what: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    status: StatusCode,
    /// The `extensions.code` of the first error, when the response is GraphQL JSON.
    code: Option<&'static str>,
}

fn graphql(query: &str) -> Vec<u8> {
    json!({ "query": query }).to_string().into_bytes()
}

fn hostile_requests() -> Vec<Hostile> {
    let deep = format!(
        "{{ {}name{} }}",
        "author(id: 1) { books { author { ".repeat(20),
        " } } }".repeat(20)
    );
    let aliases: String = (0..10_000).map(|n| format!("a{n}: name ")).collect();
    let alias_bomb = format!("{{ authors {{ nodes {{ {aliases} }} }} }}");
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    // Each fragment spreads the next twice: 2^40 fields once expanded.
    let mut fragment_bomb = String::from("query { ...F0 }");
    for level in 0..40 {
        fragment_bomb.push_str(&format!(
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    fragment_bomb.push_str(" fragment F40 on Query { __typename }");
    let huge_first = "{ authors(first: 1000000) { nodes { books(first: 1000000) { publishers(first: 1000000) { name } } } } }";
    let batch = Value::Array(vec![json!({ "query": "{ authors { totalCount } }" }); 1000]);
    let too_complex = Some("QUERY_TOO_COMPLEX");
    let bad_request = Some("BAD_REQUEST");
    vec![
        Hostile {
            what: "depth 60",
            content_type: "application/json",
            body: graphql(&deep),
            status: StatusCode::BAD_REQUEST,
            code: too_complex,
        },
        Hostile {
            what: "10,000 aliases",
            content_type: "application/json",
            body: graphql(&alias_bomb),
            status: StatusCode::BAD_REQUEST,
            code: too_complex,
        },
        Hostile {
            what: "fragment cycle",
            content_type: "application/json",
            body: graphql(cycle),
            status: StatusCode::BAD_REQUEST,
            code: None,
        },
        Hostile {
            what: "first 1000000 everywhere",
            content_type: "application/json",
            body: graphql(huge_first),
            status: StatusCode::BAD_REQUEST,
            code: too_complex,
        },
        Hostile {
            what: "5 MB body",
            content_type: "application/json",
            body: vec![b' '; 5 * 1024 * 1024],
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: bad_request,
        },
        Hostile {
            what: "invalid UTF-8",
            content_type: "application/json",
            body: b"{\"query\": \"{ \xff\xfe }\"}".to_vec(),
            status: StatusCode::BAD_REQUEST,
            code: bad_request,
        },
        Hostile {
            what: "wrong content type",
            content_type: "text/plain",
            body: graphql("{ authors { totalCount } }"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: bad_request,
        },
        Hostile {
            what: "a batch of 1,000 operations",
            content_type: "application/json",
            body: batch.to_string().into_bytes(),
            status: StatusCode::BAD_REQUEST,
            code: bad_request,
        },
        Hostile {
            what: "empty body",
            content_type: "application/json",
            body: Vec::new(),
            status: StatusCode::BAD_REQUEST,
            code: bad_request,
        },
        Hostile {
            what: "whitespace-only query",
            content_type: "application/json",
            body: graphql("   \n\t "),
            status: StatusCode::BAD_REQUEST,
            code: None,
        },
    ]
}

#[tokio::test]
async fn every_hostile_request_is_refused_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    for hostile in hostile_requests() {
        let what = hostile.what;
        let response = app
            .client()
            .post(app.url("/graphql"))
            .header("content-type", hostile.content_type)
            .header("accept", RESPONSE_JSON)
            .body(hostile.body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(response.status(), hostile.status, "{what}");
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert!(body["errors"][0]["message"].is_string(), "{what}: {body}");
        assert!(body.get("data").is_none(), "{what}: {body}");
        if let Some(code) = hostile.code {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], code,
                "{what}: {body}"
            );
        }
        let still = app.data("{ authors { totalCount } }").await;
        assert_eq!(still["authors"]["totalCount"], 7, "after {what}");
    }
}

#[tokio::test]
async fn introspection_is_not_limited() {
    let app = TestApp::spawn().await;
    let of_type = format!("{}name{}", "ofType { ".repeat(10), " }".repeat(10));
    let query =
        format!("{{ __schema {{ types {{ name fields {{ name type {{ {of_type} }} }} }} }} }}");
    let data = app.data(&query).await;
    assert!(
        data["__schema"]["types"]
            .as_array()
            .is_some_and(|types| !types.is_empty())
    );
}

#[tokio::test]
async fn a_request_over_its_time_limit_is_stopped_and_writes_nothing() {
    let app =
        TestApp::spawn_configured(|state| state.with_request_timeout(Duration::from_secs(1))).await;
    // Another process holds the write lock, so addBook waits for it past the limit.
    let lock = app.hold_write_lock().await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({ "query": r#"mutation { addBook(input: {title: "Late", authorFirstName: "Ann", authorLastName: "Late", publisherName: "Slow"}) { outcome } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");
    lock.release().await;

    let data = app
        .data(r#"{ books(filter: {titleContains: "late"}) { totalCount } }"#)
        .await;
    assert_eq!(data["books"]["totalCount"], 0);
    let added = crate::helpers::add_book(&app, "Ann", "Late", "On Time", "Slow").await;
    assert_eq!(added["outcome"], "CREATED", "the writer recovered");
}

#[tokio::test]
async fn a_query_fanning_out_over_the_catalogue_is_refused() {
    let mut csv = Vec::new();
    bookgraph::generate::generate_csv(2000, 1, &mut csv).unwrap();
    let app = TestApp::spawn_with_csv(std::str::from_utf8(&csv).unwrap()).await;
    // Within the cost estimate (nested lists count as 20), yet every publisher's books'
    // publishers' books: the same rows read over and over.
    let query = "{ publishers(first: 20, orderBy: {field: BOOK_COUNT, direction: DESC}) {
        nodes { books { publishers { books { title } } } } } }";
    assert_eq!(app.error_codes(query).await, ["QUERY_TOO_COMPLEX"]);
    let still = app.data("{ authors { totalCount } }").await;
    assert_eq!(still["authors"]["totalCount"], 2000);
}

#[tokio::test]
async fn a_filter_no_name_could_hold_is_bad_user_input_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(50_000);
    let cases = [
        ("authors", "nameContains", long.as_str()),
        ("books", "titleContains", long.as_str()),
        ("publishers", "nameContains", long.as_str()),
        ("authors", "nameContains", "\u{0}nomatch"),
        ("books", "titleContains", "\u{0}nomatch"),
        ("publishers", "nameContains", "no\u{7}match"),
    ];
    for (list, field, needle) in cases {
        let query = format!(
            "query($needle: String!) {{ {list}(filter: {{ {field}: $needle }}) {{ totalCount nodes {{ id }} }} }}"
        );
        let response = app.post_graphql(&query, json!({ "needle": needle })).await;
        let what = format!("{list}.{field} of {} characters", needle.chars().count());
        assert!(response["data"][list].is_null(), "{what}: {response}");
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what}: {response}"
        );
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.starts_with(&format!("filter.{field}:")),
            "{what}: the message names the field: {message}"
        );
    }
}

#[tokio::test]
async fn a_filter_as_long_as_the_longest_name_still_runs() {
    let app = TestApp::spawn().await;
    let data = app
        .data_with(
            "query($title: String!, $name: String!) {
                books(filter: { titleContains: $title }) { totalCount }
                publishers(filter: { nameContains: $name }) { totalCount }
                authors(filter: { nameContains: $name }) { totalCount }
            }",
            json!({ "title": "a".repeat(500), "name": "a".repeat(200) }),
        )
        .await;
    let none = json!({ "totalCount": 0 });
    assert_eq!(
        data,
        json!({ "books": none, "publishers": none, "authors": none })
    );
}

#[tokio::test]
async fn an_id_has_one_spelling_and_others_are_bad_user_input() {
    let app = TestApp::spawn().await;
    let found = app.data(r#"{ author(id: "1") { id } }"#).await;
    assert_eq!(found["author"]["id"], "1");
    for spelling in ["+1", "01", " 1", "1.0"] {
        let queries = [
            format!("{{ author(id: {spelling:?}) {{ id }} }}"),
            format!("{{ books(filter: {{ authorId: {spelling:?} }}) {{ totalCount }} }}"),
            format!(
                "mutation {{ updatePublisher(input: {{ id: {spelling:?}, name: \"Renamed\" }}) {{ publisher {{ id }} }} }}"
            ),
        ];
        for query in queries {
            assert_eq!(app.error_codes(&query).await, ["BAD_USER_INPUT"], "{query}");
        }
    }
    let renamed = app
        .data(r#"{ publishers(filter: { nameContains: "renamed" }) { totalCount } }"#)
        .await;
    assert_eq!(
        renamed["publishers"]["totalCount"], 0,
        "nothing was renamed"
    );
}
