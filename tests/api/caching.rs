//! HTTP caching of queries sent with GET: an ETag on the request and the catalogue's data
//! version, 304 for a client holding the current response, a new ETag after any write
//! (through this server, another process or another replica), and nothing reusable on
//! errors or POST. Runs on both backends.

use reqwest::header::{ACCEPT, CACHE_CONTROL, ETAG, IF_NONE_MATCH, VARY};
use serde_json::{Value, json};

use crate::helpers::{DIAGNOSTICS, TestApp, bookgraph, stdout};
use crate::server::Server;

/// The tutorial's first report.
const BOOKS_PER_PUBLISHER: &str =
    "{ publishers(orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount } } }";

/// Request headers, as name and value.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// A GET response, read in full.
struct Answer {
    status: u16,
    etag: Option<String>,
    cache_control: Option<String>,
    vary: Vec<String>,
    body: String,
}

impl Answer {
    /// The ETag of a 200, which must have one.
    fn etag(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.body);
        self.etag
            .clone()
            .unwrap_or_else(|| panic!("no ETag on {}", self.body))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// `GET base/graphql?query=…&variables=…` with `headers`.
async fn get_from(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    variables: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut params = vec![("query", query.to_owned())];
    if let Some(variables) = variables {
        params.push(("variables", variables.to_owned()));
    }
    let mut request = client.get(format!("{base}/graphql")).query(&params);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("GET reaches the server");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &reqwest::header::HeaderValue| value.to_str().unwrap().to_owned())
    };
    let (etag, cache_control) = (header(ETAG), header(CACHE_CONTROL));
    let vary = response
        .headers()
        .get_all(VARY)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    Answer {
        status: response.status().as_u16(),
        etag,
        cache_control,
        vary,
        body: response.text().await.expect("body"),
    }
}

async fn get(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> Answer {
    get_from(app.client(), &app.url(""), query, None, headers).await
}

/// The ETag `app` gives the first report now.
async fn report_etag(app: &TestApp) -> String {
    get(app, BOOKS_PER_PUBLISHER, &[]).await.etag()
}

#[tokio::test]
async fn identical_reads_carry_one_weak_etag_and_ask_to_revalidate() {
    let app = TestApp::spawn().await;
    let first = get(&app, BOOKS_PER_PUBLISHER, &[]).await;
    let second = get(&app, BOOKS_PER_PUBLISHER, &[]).await;

    assert_eq!(first.etag(), second.etag());
    assert!(first.etag().starts_with("W/\""), "{:?}", first.etag);
    assert_eq!(first.cache_control.as_deref(), Some("no-cache"));
    assert!(
        first.vary.iter().any(|vary| vary.contains("accept")),
        "{:?}",
        first.vary
    );
    assert_eq!(first.body, second.body);

    // Variables in another order, nested ones too, are the same request; other values, or
    // another media type, another response. The variables go as the text written here:
    // serde_json would sort the keys of a `json!` value and hide the order.
    let query = "query($first: Int, $filter: AuthorFilter, $order: AuthorOrder) {
        authors(first: $first, filter: $filter, orderBy: $order) { nodes { name } } }";
    let app = &app;
    let tagged = |variables: &'static str, accept: &'static str| async move {
        let base = app.url("");
        get_from(
            app.client(),
            &base,
            query,
            Some(variables),
            &[("accept", accept)],
        )
        .await
        .etag()
    };
    let json = "application/json";
    let one = tagged(
        r#"{"first": 2, "filter": {"nameContains": "e"}, "order": {"field": "NAME", "direction": "DESC"}}"#,
        json,
    )
    .await;
    let reordered = tagged(
        r#"{"order": {"direction": "DESC", "field": "NAME"}, "filter": {"nameContains": "e"}, "first": 2}"#,
        json,
    )
    .await;
    let other = tagged(
        r#"{"first": 3, "filter": {"nameContains": "e"}, "order": {"field": "NAME", "direction": "DESC"}}"#,
        json,
    )
    .await;
    let graphql_response = "application/graphql-response+json";
    let other_type = tagged(
        r#"{"first": 2, "filter": {"nameContains": "e"}, "order": {"field": "NAME", "direction": "DESC"}}"#,
        graphql_response,
    )
    .await;
    assert_eq!(one, reordered, "variables in another order");
    assert_ne!(one, other, "other variables");
    assert_ne!(one, other_type, "another media type");
}

#[tokio::test]
async fn if_none_match_with_the_current_etag_is_a_304_without_a_body() {
    let app = TestApp::spawn().await;
    let etag = report_etag(&app).await;

    let revalidated = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, 304, "{}", revalidated.body);
    assert_eq!(revalidated.body, "");
    assert_eq!(revalidated.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(revalidated.cache_control.as_deref(), Some("no-cache"));

    let listed = format!("\"stale\", {etag}");
    let in_a_list = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", &listed)]).await;
    assert_eq!(in_a_list.status, 304, "one of several tags");

    for other in ["W/\"0123\"", "*"] {
        let answered = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", other)]).await;
        assert_eq!(answered.status, 200, "If-None-Match: {other}");
        assert_eq!(answered.etag(), etag);
    }
}

#[tokio::test]
async fn every_mutation_gives_reads_a_new_etag() {
    let app = TestApp::spawn().await;
    let schema_only = get(&app, "{ __typename }", &[]).await.etag();
    let mutations = [
        (
            "mutation { addBook(input: {authorFirstName: \"Ursula\", authorLastName: \"Le Guin\",
                title: \"The Dispossessed\", publisherName: \"Harper & Row\"}) { outcome } }",
            "addBook",
        ),
        (
            "mutation { createPublisher(input: {name: \"Tor\"}) { publisher { id } } }",
            "createPublisher",
        ),
        (
            "mutation { addBook(input: {authorFirstName: \"Ursula\", authorLastName: \"Le Guin\",
                title: \"The Dispossessed\", publisherName: \"Harper & Row\"}) { outcome } }",
            "addBook changing nothing",
        ),
    ];
    let mut seen = vec![report_etag(&app).await];
    for (mutation, what) in mutations {
        let before = seen.last().cloned().unwrap();
        app.data(mutation).await;
        let after = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", &before)]).await;
        assert_eq!(after.status, 200, "{what}: the old ETag still matched");
        assert!(!seen.contains(&after.etag()), "{what}: an ETag seen before");
        seen.push(after.etag());
    }
    let report = get(&app, BOOKS_PER_PUBLISHER, &[]).await.json();
    assert!(report.to_string().contains("Harper & Row"), "{report}");
    // What does not read the catalogue keeps its tag.
    assert_eq!(get(&app, "{ __typename }", &[]).await.etag(), schema_only);
}

#[tokio::test]
async fn an_import_by_another_process_gives_reads_a_new_etag() {
    let app = TestApp::spawn().await;
    let before = report_etag(&app).await;
    let csv = app.temp_path("more.csv");
    std::fs::write(
        &csv,
        "first_name,last_name,title,publisher\nMary,Shelley,Frankenstein,Lackington\n",
    )
    .expect("write CSV");
    let url = app.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        bookgraph(&url, &["import", csv.to_str().expect("UTF-8 path")])
    })
    .await
    .expect("import runs");
    stdout(&output);

    let after = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", &before)]).await;
    assert_eq!(
        after.status, 200,
        "the ETag from before the import still matched"
    );
    assert_ne!(after.etag(), before);
    assert!(after.body.contains("Lackington"), "{}", after.body);
}

#[tokio::test]
async fn replicas_of_one_catalogue_share_etags_and_see_each_others_writes() {
    let app = TestApp::spawn().await;
    let url = app.database_url.clone();
    let replica = tokio::task::spawn_blocking(move || {
        Server::start_with(&url, &["--pool-size", "2", "--cache-max-age", "60"])
    })
    .await
    .expect("the replica starts");
    let replica_url = replica.url("");
    let replica_url = replica_url.trim_end_matches('/');
    let from_replica = || get_from(app.client(), replica_url, BOOKS_PER_PUBLISHER, None, &[]);

    let here = report_etag(&app).await;
    let there = from_replica().await;
    assert_eq!(there.etag(), here, "both replicas tag the same data alike");
    assert_eq!(
        there.cache_control.as_deref(),
        Some("max-age=60"),
        "--cache-max-age"
    );

    let added = app
        .client()
        .post(format!("{replica_url}/graphql"))
        .json(
            &json!({ "query": "mutation { addBook(input: {authorFirstName: \"Mary\",
            authorLastName: \"Shelley\", title: \"Frankenstein\", publisherName: \"Random House\"})
            { outcome } }" }),
        )
        .send()
        .await
        .expect("POST to the replica");
    assert_eq!(added.status(), 200);
    let after = get(&app, BOOKS_PER_PUBLISHER, &[("if-none-match", &here)]).await;
    assert_eq!(
        after.status, 200,
        "a write through the other replica left the ETag"
    );
    assert_eq!(after.etag(), from_replica().await.etag());
}

#[tokio::test]
async fn errors_refusals_and_diagnosed_reads_carry_no_etag() {
    let app = TestApp::spawn().await;
    let cases: [(&str, Headers, &str); 5] = [
        (
            "{ author(id: \"not an id\") { name } }",
            &[],
            "a field error",
        ),
        ("{ authors { nope } }", &[], "a validation error"),
        ("{ authors {", &[], "a parse error"),
        (
            "mutation { createPublisher(input: {name: \"Tor\"}) { publisher { id } } }",
            &[],
            "a mutation over GET",
        ),
        (
            BOOKS_PER_PUBLISHER,
            &[(DIAGNOSTICS, "sql")],
            "a diagnosed read",
        ),
    ];
    for (query, headers, what) in cases {
        let answer = get(&app, query, headers).await;
        assert_eq!(answer.etag, None, "{what}: {}", answer.body);
        assert_eq!(answer.cache_control.as_deref(), Some("no-store"), "{what}");
    }
}

#[tokio::test]
async fn post_responses_are_never_cacheable() {
    let app = TestApp::spawn().await;
    let etag = report_etag(&app).await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .header(IF_NONE_MATCH, &etag)
        .header(ACCEPT, "application/json")
        .json(&json!({ "query": BOOKS_PER_PUBLISHER }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200, "a POST is always answered in full");
    assert!(response.headers().get(ETAG).is_none());
    assert!(response.headers().get(CACHE_CONTROL).is_none());
}
