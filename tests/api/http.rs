//! GraphQL over HTTP: status codes, media types and methods as the GraphQL-over-HTTP spec
//! has them, and the plain endpoints around `/graphql`.

use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::{TestApp, media_type};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// A query every healthy server answers.
const GOOD_QUERY: &str = "{ authors { totalCount } }";

/// A server's answer, read in full.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    /// The media type, parameters dropped.
    fn media_type(&self) -> String {
        media_type(&self.headers)
    }

    /// The body as JSON; it must be JSON.
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.body))
    }

    /// Asserts the status is `status` and the body a GraphQL response with at least one
    /// error, each with a message; returns the body.
    fn assert_errors(&self, status: u16, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        let body = self.json();
        let errors = body["errors"].as_array();
        assert!(
            errors.is_some_and(|errors| !errors.is_empty()),
            "{what}: expected errors in {body}"
        );
        for error in errors.into_iter().flatten() {
            assert!(
                error["message"].is_string(),
                "{what}: error without a message: {error}"
            );
        }
        body
    }

    /// Asserts a 200 in `media_type` answering `GOOD_QUERY`: 7 authors and no errors.
    fn assert_good(&self, media_type: &str, what: &str) {
        assert_eq!(self.status, 200, "{what}: {}", self.body);
        assert_eq!(self.media_type(), media_type, "{what}");
        let body = self.json();
        assert_eq!(body["data"]["authors"]["totalCount"], 7, "{what}: {body}");
        assert!(body.get("errors").is_none(), "{what}: {body}");
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("response body");
    Reply {
        status,
        headers,
        body,
    }
}

/// `POST /graphql` with this body and these headers (none when `None`).
fn post(
    app: &TestApp,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> RequestBuilder {
    let mut request = app.client().post(app.url("/graphql")).body(body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request
}

/// `POST /graphql` of `query` as JSON, accepting `accept`.
fn post_query(app: &TestApp, accept: &str, query: &str) -> RequestBuilder {
    let body = json!({ "query": query }).to_string();
    post(app, Some(accept), Some(JSON), body)
}

/// `GET /graphql` with these URL parameters (no query string when empty), accepting
/// `accept` (nothing when `None`).
fn get(app: &TestApp, accept: Option<&str>, params: &[(&str, &str)]) -> RequestBuilder {
    let mut request = app.client().get(app.url("/graphql")).query(params);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    request
}

/// Asserts the server still answers an ordinary query correctly.
async fn assert_still_serves(app: &TestApp, after: &str) {
    let reply = send(post_query(app, GRAPHQL_RESPONSE_JSON, GOOD_QUERY)).await;
    reply.assert_good(
        GRAPHQL_RESPONSE_JSON,
        &format!("a good query after {after}"),
    );
}

/// POSTs the JSON `request` accepting `accept`, and asserts a request error in that media
/// type: for graphql-response+json a 400 without a data entry, for JSON a 200 with null
/// data (the document never ran); errors either way.
async fn assert_request_error(app: &TestApp, accept: &str, request: &Value, what: &str) {
    let what = format!("{what}, Accept {accept}");
    let reply = send(post(app, Some(accept), Some(JSON), request.to_string())).await;
    let graphql_response = accept == GRAPHQL_RESPONSE_JSON;
    let body = reply.assert_errors(if graphql_response { 400 } else { 200 }, &what);
    assert_eq!(reply.media_type(), accept, "{what}");
    if graphql_response {
        assert!(body.get("data").is_none(), "{what}: a data entry in {body}");
    } else {
        assert!(body["data"].is_null(), "{what}: data in {body}");
    }
}

/// POSTs each of `bodies` accepting each media type, and asserts every one is a 400 in
/// the accepted media type with errors and no data entry; reports all failures at once.
async fn assert_all_400(app: &TestApp, bodies: &[&'static str]) {
    let mut failures = Vec::new();
    for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
        for &body in bodies {
            let reply = send(post(app, Some(accept), Some(JSON), body)).await;
            let what = format!("Accept {accept}, body {body:?}");
            if reply.status != 400 {
                failures.push(format!("{what}: status {} {}", reply.status, reply.body));
                continue;
            }
            if reply.media_type() != accept {
                failures.push(format!("{what}: content type {:?}", reply.media_type()));
            }
            let json: Value = serde_json::from_str(&reply.body).unwrap_or_default();
            if json["errors"].as_array().is_none_or(Vec::is_empty) {
                failures.push(format!("{what}: no errors in {}", reply.body));
            }
            if json.get("data").is_some() {
                failures.push(format!("{what}: a data entry in {}", reply.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A good request padded with trailing white space to `total_len` bytes.
pub fn padded_request(total_len: usize) -> String {
    let request = json!({ "query": GOOD_QUERY }).to_string();
    // Trailing white space is valid JSON, so only the size can be at fault.
    format!("{request}{}", " ".repeat(total_len - request.len()))
}

pub const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_syntax_error_is_a_400_for_graphql_response_json_clients() {
    let app = TestApp::spawn().await;
    let request = json!({ "query": "{ authors { totalCount }" });
    assert_request_error(&app, GRAPHQL_RESPONSE_JSON, &request, "syntax error").await;
}

#[tokio::test]
async fn a_syntax_error_is_a_200_with_errors_for_json_clients() {
    let app = TestApp::spawn().await;
    let request = json!({ "query": "{ authors { totalCount }" });
    assert_request_error(&app, JSON, &request, "syntax error").await;
}

#[tokio::test]
async fn an_unknown_field_is_a_400_for_graphql_response_json_and_a_200_for_json() {
    let app = TestApp::spawn().await;
    let request = json!({ "query": "{ authors { totalCount noSuchField } }" });
    for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
        assert_request_error(&app, accept, &request, "unknown field").await;
    }
}

#[tokio::test]
async fn a_variable_of_the_wrong_type_is_a_request_error() {
    let app = TestApp::spawn().await;
    let request = json!({
        "query": "query($first: Int) { authors(first: $first) { totalCount } }",
        "variables": { "first": "ten" },
    });
    for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
        assert_request_error(&app, accept, &request, "variable of the wrong type").await;
    }
}

/// A document runs through all of validation once; later requests for it skip the rules
/// that depend on the document alone. Their variables still must fit: each bad request
/// here gets, from a server that ran its document before (`warm_ups`), the very answer a
/// server seeing the document for the first time gives.
#[tokio::test]
async fn bad_variables_are_refused_alike_for_a_document_that_ran_before() {
    struct Case {
        query: &'static str,
        operation: Option<&'static str>,
        warm_ups: Vec<Value>,
        bad: Value,
        /// The status of the first sight, with errors, where this test pins it.
        status: Option<u16>,
    }
    let case = |query, warm_up: Value, bad, status| Case {
        query,
        operation: None,
        warm_ups: vec![warm_up.clone(), warm_up],
        bad,
        status: Some(status),
    };
    let order = "query($order: AuthorOrder!, $first: Int!) { \
                 authors(first: $first, orderBy: $order) { nodes { name } } }";
    let by_name = json!({"first": 2, "order": {"field": "NAME", "direction": "DESC"}});
    let add = "mutation($input: AddBookInput!) { addBook(input: $input) { outcome } }";
    let input = json!({
        "authorFirstName": "Ada", "authorLastName": "Lovelace",
        "title": "Notes", "publisherName": "Taylor",
    });
    let mut missing_title = input.clone();
    missing_title.as_object_mut().unwrap().remove("title");
    let mut unknown_field = input.clone();
    unknown_field["subtitle"] = json!("On the Engine");
    let cases = [
        case(
            order,
            by_name.clone(),
            json!({"first": "two", "order": by_name["order"]}),
            400,
        ),
        case(
            order,
            by_name.clone(),
            json!({"first": 2.5, "order": by_name["order"]}),
            400,
        ),
        case(
            order,
            by_name.clone(),
            json!({"first": 1_i64 << 40, "order": by_name["order"]}),
            400,
        ),
        case(
            order,
            by_name.clone(),
            json!({"first": 2, "order": {"field": "SHOE_SIZE", "direction": "DESC"}}),
            400,
        ),
        case(
            order,
            by_name.clone(),
            json!({"first": 2, "order": {"direction": "DESC"}}),
            400,
        ),
        // async-graphql takes `null` for a non-null variable where the argument is
        // nullable; whatever it answers, it answers alike.
        Case {
            status: None,
            ..case(
                order,
                by_name.clone(),
                json!({"first": 2, "order": null}),
                0,
            )
        },
        case(
            add,
            json!({"input": input}),
            json!({"input": missing_title}),
            400,
        ),
        case(
            add,
            json!({"input": input}),
            json!({"input": unknown_field}),
            400,
        ),
        case(add, json!({"input": input}), json!({"input": null}), 400),
        // A variable not sent at all is found missing as the field runs: a 200 with the
        // field's error.
        case(add, json!({"input": input}), json!({}), 200),
        // A variable with a default stands for a non-null value wherever it is used.
        case(
            "query($withName: Boolean = true) { \
             authors(first: 1) { nodes { id name @include(if: $withName) } } }",
            json!({"withName": true}),
            json!({"withName": null}),
            400,
        ),
        // An argument whose variable was not sent goes unchecked, literal parts and all:
        // requests that leave it out vouch for nothing.
        case(
            "query($dir: OrderDirection = ASC) { \
             authors(first: 1, orderBy: {field: SHOE_SIZE, direction: $dir}) { totalCount } }",
            json!({}),
            json!({"dir": "DESC"}),
            400,
        ),
        // With several operations, a fragment's arguments meet the request's variables
        // whichever operation uses the fragment.
        Case {
            query: "query A($n: Int!) { authors(first: $n) { totalCount } } \
                    query B($order: AuthorOrder) { ...F } \
                    fragment F on Query { authors(orderBy: $order) { totalCount } }",
            operation: Some("A"),
            warm_ups: vec![json!({"n": 2}), json!({"n": 2})],
            bad: json!({"n": 2, "order": {"field": "SHOE_SIZE", "direction": "ASC"}}),
            status: None,
        },
    ];
    let seen = TestApp::spawn().await;
    let unseen = TestApp::spawn().await;
    let request = |app, query: &str, operation: Option<&str>, variables: &Value| {
        let body = json!({"query": query, "operationName": operation, "variables": variables});
        post(
            app,
            Some(GRAPHQL_RESPONSE_JSON),
            Some(JSON),
            body.to_string(),
        )
    };
    for Case {
        query,
        operation,
        warm_ups,
        bad,
        status,
    } in cases
    {
        for variables in &warm_ups {
            let reply = send(request(&seen, query, operation, variables)).await;
            assert_eq!(
                reply.status, 200,
                "{query} with {variables}: {}",
                reply.body
            );
        }
        let first_sight = send(request(&unseen, query, operation, &bad)).await;
        let again = send(request(&seen, query, operation, &bad)).await;
        let what = format!("{query} with {bad}");
        if let Some(status) = status {
            first_sight.assert_errors(status, &what);
        }
        assert_eq!(
            (again.status, again.json()),
            (first_sight.status, first_sight.json()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_field_error_is_a_200_with_data_for_graphql_response_json_clients() {
    let app = TestApp::spawn().await;
    // The document is valid; a resolver refuses `first`, so the error has a path.
    let query = "{ authors(first: 101) { totalCount } }";
    let reply = send(post_query(&app, GRAPHQL_RESPONSE_JSON, query)).await;
    let body = reply.assert_errors(200, "first: 101");
    assert_eq!(reply.media_type(), GRAPHQL_RESPONSE_JSON);
    assert!(
        body.get("data").is_some(),
        "execution ran, so data is present: {body}"
    );
    let error = &body["errors"][0];
    let code_and_path = json!({ "code": error["extensions"]["code"], "path": error["path"] });
    let expected = json!({ "code": "BAD_USER_INPUT", "path": ["authors"] });
    assert_eq!(code_and_path, expected, "{body}");
}

#[tokio::test]
async fn a_good_query_is_a_200_in_either_media_type() {
    let app = TestApp::spawn().await;
    let accepts = [
        (Some(GRAPHQL_RESPONSE_JSON), GRAPHQL_RESPONSE_JSON),
        (Some(JSON), JSON),
        (None, JSON),
        (Some("*/*"), JSON),
        (Some("application/*"), JSON),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE_JSON,
        ),
        (
            Some("application/json;q=0.9, application/graphql-response+json"),
            GRAPHQL_RESPONSE_JSON,
        ),
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            JSON,
        ),
        (Some("text/html, application/json;q=0.1"), JSON),
    ];
    let body = json!({ "query": GOOD_QUERY }).to_string();
    for (accept, expected) in accepts {
        for content_type in [JSON, "application/json; charset=utf-8", "Application/JSON"] {
            let what = format!("Accept {accept:?}, Content-Type {content_type}");
            let reply = send(post(&app, accept, Some(content_type), body.clone())).await;
            reply.assert_good(expected, &what);
        }
    }
}

#[tokio::test]
async fn a_malformed_json_body_is_a_400_with_errors() {
    let app = TestApp::spawn().await;
    let bodies = [
        "{ not json",
        "",
        "   ",
        "null",
        "42",
        r#""{ authors { totalCount } }""#,
        r#"{"query": 42}"#,
        r#"{"query": null}"#,
        r#"{"query": "{ authors { totalCount } }", "variables": "not an object"}"#,
        r#"{"query": "{ authors { totalCount } }", "operationName": 5}"#,
        r#"{"query": "{ authors { totalCount } }", "variables": [7]}"#,
        r#"{"query": "{ authors { totalCount } }", "extensions": 5}"#,
        "\u{feff}{\"query\": \"{ authors { totalCount } }\"",
        r#"{"query": "{ authors { totalCount } }"} trailing"#,
        "\u{0}\u{1}\u{2}",
    ];
    assert_all_400(&app, &bodies).await;
    assert_still_serves(&app, "malformed bodies").await;
}

/// The GraphQL-over-HTTP spec's invalid parameters: a JSON body that is not an object with
/// a string `query` is not a GraphQL request, whatever media type the client accepts.
#[tokio::test]
async fn a_json_body_without_a_query_string_is_a_400_for_either_media_type() {
    let app = TestApp::spawn().await;
    let bodies = [
        "{}",
        r#"{"variables": {}}"#,
        r#"{"qeury": "{ authors { totalCount } }"}"#,
        "[]",
        r#"["{ authors { totalCount } }"]"#,
    ];
    assert_all_400(&app, &bodies).await;
}

#[tokio::test]
async fn an_empty_or_blank_query_is_an_error_not_a_crash() {
    let app = TestApp::spawn().await;
    let bodies = [
        json!({ "query": "" }),
        json!({ "query": "   " }),
        json!({ "query": "\n\t \n" }),
        json!({ "query": "# only a comment" }),
        json!({ "query": "", "variables": {} }),
    ];
    for body in bodies {
        let what = format!("body {body}");
        for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
            assert_request_error(&app, accept, &body, &what).await;
        }
        assert_still_serves(&app, &what).await;
    }
    for query in ["", "   "] {
        for (accept, status) in [(GRAPHQL_RESPONSE_JSON, 400), (JSON, 200)] {
            let what = format!("GET query {query:?}, Accept {accept}");
            let reply = send(get(&app, Some(accept), &[("query", query)])).await;
            reply.assert_errors(status, &what);
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": GOOD_QUERY }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        None,
    ] {
        for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
            let what = format!("Content-Type {content_type:?}, Accept {accept}");
            let reply = send(post(&app, Some(accept), content_type, body.clone())).await;
            reply.assert_errors(415, &what);
        }
    }
}

#[tokio::test]
async fn a_client_accepting_neither_media_type_gets_a_406() {
    let app = TestApp::spawn().await;
    for accept in [
        "text/html",
        "text/html, image/png",
        "application/json;q=0",
        "application/xml",
    ] {
        let reply = send(post_query(&app, accept, GOOD_QUERY)).await;
        reply.assert_errors(406, &format!("POST, Accept {accept}"));

        let reply = send(get(&app, Some(accept), &[("query", GOOD_QUERY)])).await;
        assert_eq!(reply.status, 406, "GET, Accept {accept}: {}", reply.body);
    }
}

#[tokio::test]
async fn get_runs_a_query_from_the_url() {
    let app = TestApp::spawn().await;
    for accept in [None, Some(JSON), Some(GRAPHQL_RESPONSE_JSON)] {
        let reply = send(get(&app, accept, &[("query", GOOD_QUERY)])).await;
        reply.assert_good(accept.unwrap_or(JSON), &format!("Accept {accept:?}"));
    }
}

#[tokio::test]
async fn get_takes_variables_and_an_operation_name_as_json_in_the_url() {
    let app = TestApp::spawn().await;
    let query = "query Find($needle: String) {
        authors(filter: { nameContains: $needle }) { nodes { name } }
    }";
    let variables = json!({ "needle": "king" }).to_string();
    let params = [
        ("query", query),
        ("variables", &variables),
        ("operationName", "Find"),
    ];
    let reply = send(get(&app, None, &params)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["data"]["authors"]["nodes"],
        json!([{ "name": "Stephen King" }]),
        "{}",
        reply.body
    );

    // Two operations: the name picks one.
    let two = "query A { authors { totalCount } } query B { books { totalCount } }";
    let reply = send(get(&app, None, &[("query", two), ("operationName", "B")])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let total_count = &reply.json()["data"]["books"]["totalCount"];
    assert_eq!(*total_count, 10, "{}", reply.body);
}

#[tokio::test]
async fn get_with_malformed_variables_is_a_400() {
    let app = TestApp::spawn().await;
    for variables in ["{not json", "", "'single'"] {
        let params = [("query", GOOD_QUERY), ("variables", variables)];
        let reply = send(get(&app, None, &params)).await;
        reply.assert_errors(400, &format!("variables {variables:?}"));
    }
}

#[tokio::test]
async fn get_without_a_query_is_a_400() {
    let app = TestApp::spawn().await;
    for accept in [None, Some(GRAPHQL_RESPONSE_JSON)] {
        // No URL parameters at all: `get` leaves off an empty query string.
        let reply = send(get(&app, accept, &[])).await;
        reply.assert_errors(400, &format!("no query, Accept {accept:?}"));

        let reply = send(get(&app, accept, &[("variables", "{}")])).await;
        reply.assert_errors(
            400,
            &format!("variables without a query, Accept {accept:?}"),
        );
    }
}

#[tokio::test]
async fn get_refuses_a_mutation_with_405_and_allow_post() {
    let app = TestApp::spawn().await;
    let mutation = r#"mutation {
        addBook(input: { title: "T", authorFirstName: "A", authorLastName: "B", publisherName: "P" }) {
            outcome
        }
    }"#;
    let both = format!("query Q {{ authors {{ totalCount }} }} {mutation}").replacen(
        "mutation {",
        "mutation M {",
        1,
    );
    let commented = format!("# writes\n\n  {mutation}");
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("a lone mutation", &[("query", mutation)]),
        (
            "a named mutation",
            &[("query", &both), ("operationName", "M")],
        ),
        ("a mutation after a comment", &[("query", &commented)]),
    ];
    for (what, params) in cases {
        for accept in [None, Some(GRAPHQL_RESPONSE_JSON)] {
            let reply = send(get(&app, accept, params)).await;
            reply.assert_errors(405, &format!("{what}, Accept {accept:?}"));
            let allow = reply
                .headers
                .get(ALLOW)
                .and_then(|value| value.to_str().ok());
            assert_eq!(allow, Some("POST"), "{what}: Allow header");
        }
    }
    // The same document with the query selected runs.
    let reply = send(get(&app, None, &[("query", &both), ("operationName", "Q")])).await;
    reply.assert_good(JSON, "the query of a document with a mutation");

    // Nothing was written.
    let data = app
        .data("{ books { totalCount } publishers { totalCount } }")
        .await;
    let expected = json!({ "books": { "totalCount": 10 }, "publishers": { "totalCount": 4 } });
    assert_eq!(data, expected, "GET wrote a book or a publisher");
}

#[tokio::test]
async fn a_body_over_one_mib_is_a_413() {
    let app = TestApp::spawn().await;
    let post_padded = |len| {
        post(
            &app,
            Some(GRAPHQL_RESPONSE_JSON),
            Some(JSON),
            padded_request(len),
        )
    };
    let reply = send(post_padded(MIB + 1)).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_still_serves(&app, "a body over 1 MiB").await;

    // Right at the limit is still served.
    let reply = send(post_padded(MIB)).await;
    reply.assert_good(GRAPHQL_RESPONSE_JSON, "a body of exactly 1 MiB");
}

#[tokio::test]
async fn the_root_serves_graphiql() {
    let app = TestApp::spawn().await;
    let reply = send(app.client().get(app.url("/"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.media_type(), "text/html");
    let body = reply.body.to_lowercase();
    assert!(body.contains("graphiql"), "GraphiQL page: {}", reply.body);
    assert!(
        body.contains("/graphql"),
        "GraphiQL points at /graphql: {}",
        reply.body
    );
}

#[tokio::test]
async fn health_is_ok_and_ready_is_200() {
    let app = TestApp::spawn().await;
    let reply = send(app.client().get(app.url("/health"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.media_type(), JSON);
    assert_eq!(reply.json(), json!({ "status": "ok" }));

    let reply = send(app.client().get(app.url("/ready"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.media_type(), JSON);
    assert_eq!(reply.json()["status"], "ready");
}

/// A bad request and the status it must get.
type BadRequest = (&'static str, fn(&TestApp) -> RequestBuilder, u16);

#[tokio::test]
async fn the_server_keeps_serving_after_every_kind_of_bad_request() {
    let app = TestApp::spawn().await;
    let cases: Vec<BadRequest> = vec![
        (
            "a syntax error",
            |app| post_query(app, GRAPHQL_RESPONSE_JSON, "{ authors {"),
            400,
        ),
        (
            "an unknown field",
            |app| post_query(app, GRAPHQL_RESPONSE_JSON, "{ nope }"),
            400,
        ),
        (
            "a blank query",
            |app| post_query(app, GRAPHQL_RESPONSE_JSON, "  "),
            400,
        ),
        (
            "malformed JSON",
            |app| post(app, None, Some(JSON), "{"),
            400,
        ),
        ("an empty body", |app| post(app, None, Some(JSON), ""), 400),
        (
            "a text/plain body",
            |app| post(app, None, Some("text/plain"), GOOD_QUERY),
            415,
        ),
        (
            "no content type",
            |app| post(app, None, None, GOOD_QUERY),
            415,
        ),
        (
            "Accept: text/html",
            |app| post_query(app, "text/html", GOOD_QUERY),
            406,
        ),
        ("GET without a query", |app| get(app, None, &[]), 400),
        (
            "GET with bad variables",
            |app| get(app, None, &[("query", GOOD_QUERY), ("variables", "{")]),
            400,
        ),
        (
            "GET with a mutation",
            |app| {
                get(
                    app,
                    None,
                    &[(
                        "query",
                        r#"mutation { addBook(input: { title: "T", authorFirstName: "A",
                            authorLastName: "B", publisherName: "P" }) { outcome } }"#,
                    )],
                )
            },
            405,
        ),
        (
            "a body over 1 MiB",
            |app| post(app, None, Some(JSON), padded_request(MIB + 1)),
            413,
        ),
        (
            "a deeply nested document",
            |app| {
                let depth = 5_000;
                let query = format!("{}{}", "{ authors ".repeat(depth), "}".repeat(depth));
                post_query(app, GRAPHQL_RESPONSE_JSON, &query)
            },
            400,
        ),
        (
            "PUT /graphql",
            |app| app.client().request(Method::PUT, app.url("/graphql")),
            405,
        ),
        (
            "DELETE /graphql",
            |app| app.client().delete(app.url("/graphql")),
            405,
        ),
        (
            "an unknown path",
            |app| app.client().get(app.url("/nope")),
            404,
        ),
    ];
    for (what, request, status) in cases {
        let reply = send(request(&app)).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_still_serves(&app, what).await;
    }
}
