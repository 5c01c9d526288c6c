//! Property tests over hostile input: arbitrary CSV into `import_csv`, arbitrary requests
//! into the server. Each runs `PROPTEST_CASES` cases (64 unless set); a failure proptest
//! finds is shrunk, printed, and belongs below as a plain regression test.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Cases per property: `PROPTEST_CASES`, or 64 so `cargo test` stays fast.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    Config {
        cases,
        // Failures become regression tests in this file, not files next to it.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `test` on `cases` values of `strategy`, each inside `runtime`; panics with the
/// smallest failing value proptest finds.
fn check<S: Strategy>(
    runtime: &tokio::runtime::Runtime,
    strategy: S,
    test: impl AsyncFn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config());
    if let Err(failure) = runner.run(&strategy, |value| runtime.block_on(test(value))) {
        panic!("{failure}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------
// CSV import: never panics; an error leaves the catalogue exactly as it was.

/// Pieces CSV fields are made of: names that exist in the tutorial data (in other cases),
/// CSV's special characters, control characters, non-ASCII and invalid UTF-8.
fn field_piece() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"Stephen",
        b"KING",
        b"random house",
        b"The Stand",
        b"It",
        b"Le Carre",
        b" ",
        b"  \t ",
        b"\"",
        b"\"\"",
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b"\0",
        b"\x07",
        b"\x1b[31m",
        "\u{c9}mile".as_bytes(),
        "\u{c9}MILE ZOLA".as_bytes(),
        "\u{1f600}".as_bytes(),
        "\u{200b}".as_bytes(),
        "\u{feff}".as_bytes(),
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
        b"%_\\",
        b"'; drop table author; --",
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed).prop_map(<[u8]>::to_vec),
        2 => "[a-zA-Z ]{1,12}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 1..6),
        1 => (1usize..700).prop_map(|n| b"x".repeat(n)),
    ]
}

/// Writes `text` as one CSV field, quoted (quotes doubled) when it must be or when
/// `always_quote`.
fn csv_field(text: &[u8], always_quote: bool) -> Vec<u8> {
    let special = text.iter().any(|byte| b",\"\r\n".contains(byte));
    if !(special || always_quote) {
        return text.to_vec();
    }
    let mut quoted = b"\"".to_vec();
    for &byte in text {
        if byte == b'"' {
            quoted.push(b'"');
        }
        quoted.push(byte);
    }
    quoted.push(b'"');
    quoted
}

/// A field an import accepts, mostly: names from the tutorial in other spellings, names
/// with CSV's special characters, non-ASCII, and plain random names.
fn clean_field() -> impl Strategy<Value = Vec<u8>> {
    let names = proptest::sample::select(vec![
        "Stephen",
        "KING",
        "  stephen   king ",
        "Random House",
        "random house",
        "It",
        "The Stand",
        "Tinker, Tailor, Soldier, Spy",
        "He said \"no\"",
        "O'Brien",
        "Le Carre",
        "\u{c9}mile",
        "\u{c9}MILE",
        "\u{e9}mile",
        "Stra\u{df}e",
        "STRASSE",
        "\u{1f600} Books",
        "100%",
        "a_b",
        "\\",
        "'; drop table author; --",
    ]);
    let text = prop_oneof![
        3 => names.prop_map(|name| name.as_bytes().to_vec()),
        2 => "[A-Za-z][A-Za-z '.-]{0,20}".prop_map(String::into_bytes),
        1 => "\\PC{1,12}".prop_map(String::into_bytes),
    ];
    (text, proptest::bool::weighted(0.2)).prop_map(|(text, quote)| csv_field(&text, quote))
}

/// A field made of hostile pieces, written bare, properly quoted, or after a stray quote.
fn hostile_field() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(field_piece(), 0..4), 0..3u8).prop_map(|(pieces, quoting)| {
        let text = pieces.concat();
        match quoting {
            0 => text,
            1 => csv_field(&text, true),
            _ => [b"\"".as_slice(), &text].concat(),
        }
    })
}

/// A header: the right one most of the time, else one of several wrong ones.
fn header() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => Just(b"first_name,last_name,title,publisher".to_vec()),
        1 => Just(b"first_name,last_name,title".to_vec()),
        1 => Just(b"first_name,last_name,title,publisher,year".to_vec()),
        1 => Just(b"last_name,first_name,title,publisher".to_vec()),
        1 => Just(b"FIRST_NAME,LAST_NAME,TITLE,PUBLISHER".to_vec()),
        1 => Just(b"\xef\xbb\xbffirst_name,last_name,title,publisher".to_vec()),
        1 => Just(b"\"first_name\",\"last_name\",\"title\",\"publisher\"".to_vec()),
        1 => Just(Vec::new()),
    ]
}

/// A row of four clean fields.
fn clean_row() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(clean_field(), 4).prop_map(|fields| fields.join(&b","[..]))
}

/// A row of mostly four fields, sometimes fewer or more, clean or hostile.
fn hostile_row() -> impl Strategy<Value = Vec<u8>> {
    let width = prop_oneof![6 => Just(4usize), 1 => 0usize..4, 1 => 5usize..7];
    let field = prop_oneof![2 => clean_field(), 1 => hostile_field()];
    width
        .prop_flat_map(move |width| proptest::collection::vec(field.clone(), width))
        .prop_map(|fields| fields.join(&b","[..]))
}

/// `header` and `rows`, each row ended by one of CSV's line endings.
fn csv_text(
    header: impl Strategy<Value = Vec<u8>>,
    rows: impl Strategy<Value = Vec<Vec<u8>>>,
) -> impl Strategy<Value = Vec<u8>> {
    let line_end = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])];
    (header, rows, line_end, any::<bool>()).prop_map(|(header, rows, end, last_end)| {
        let mut csv = header;
        for row in rows {
            csv.extend_from_slice(end);
            csv.extend_from_slice(&row);
        }
        if last_end {
            csv.extend_from_slice(end);
        }
        csv
    })
}

/// CSV input: clean files that import, clean files with one hostile row somewhere (so
/// the import fails after writing), hostile files, and raw bytes.
fn csv_input() -> impl Strategy<Value = Vec<u8>> {
    let valid_header = || Just(b"first_name,last_name,title,publisher".to_vec());
    let clean = csv_text(
        valid_header(),
        proptest::collection::vec(clean_row(), 0..10),
    );
    let one_bad_row = csv_text(
        valid_header(),
        (
            proptest::collection::vec(clean_row(), 0..8),
            hostile_row(),
            proptest::collection::vec(clean_row(), 0..3),
        )
            .prop_map(|(before, bad, after)| [before, vec![bad], after].concat()),
    );
    let hostile = csv_text(header(), proptest::collection::vec(hostile_row(), 0..8));
    let after_header = proptest::collection::vec(any::<u8>(), 0..300)
        .prop_map(|bytes| [b"first_name,last_name,title,publisher\n".as_slice(), &bytes].concat());
    prop_oneof![
        3 => clean,
        3 => one_bad_row,
        3 => hostile,
        1 => after_header,
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

/// Everything the catalogue holds: the counts through GraphQL and the full export.
async fn catalogue(app: &TestApp) -> (Value, String) {
    let counts = app
        .data("{ authors { totalCount } books { totalCount } publishers { totalCount } }")
        .await;
    let mut csv = Vec::new();
    bookgraph::export::export_csv(&app.db, &mut csv, || {})
        .await
        .expect("export the catalogue");
    (counts, String::from_utf8(csv).expect("UTF-8 export"))
}

/// Imports `csv` into a fresh tutorial catalogue: an error changes nothing; a success
/// imported again succeeds and changes nothing more.
async fn import_is_all_or_nothing(csv: Vec<u8>) -> Result<(), TestCaseError> {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    let imported = bookgraph::import::import_csv(&app.db, csv.as_slice()).await;
    let after = catalogue(&app).await;
    match imported {
        Err(error) => {
            prop_assert_eq!(&before, &after, "the failed import ({}) wrote", error);
        }
        Ok(summary) => {
            let again = bookgraph::import::import_csv(&app.db, csv.as_slice()).await;
            prop_assert!(
                again.is_ok(),
                "a successful import ({summary}) fails the second time: {again:?}"
            );
            let nothing_new = bookgraph::import::ImportSummary {
                rows: summary.rows,
                ..Default::default()
            };
            prop_assert_eq!(
                again.ok(),
                Some(nothing_new),
                "importing twice changed data"
            );
            prop_assert_eq!(&after, &catalogue(&app).await);
        }
    }
    Ok(())
}

#[test]
fn arbitrary_csv_imports_all_or_nothing() {
    let runtime = runtime();
    check(&runtime, csv_input(), import_is_all_or_nothing);
}

#[tokio::test]
async fn csv_with_a_stray_quote_fails_without_writing() {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    let csv =
        "first_name,last_name,title,publisher\nNew,Author,Book,House\n\"Open,quote,never,closed\n";
    assert!(
        bookgraph::import::import_csv(&app.db, csv.as_bytes())
            .await
            .is_err()
    );
    assert_eq!(before, catalogue(&app).await);
}

#[tokio::test]
async fn csv_with_invalid_utf8_in_the_last_row_fails_without_writing() {
    let app = TestApp::spawn().await;
    let before = catalogue(&app).await;
    let csv = b"first_name,last_name,title,publisher\nNew,Author,Book,House\nBad,\xff,Book,House\n";
    assert!(
        bookgraph::import::import_csv(&app.db, csv.as_slice())
            .await
            .is_err()
    );
    assert_eq!(before, catalogue(&app).await);
}

// ---------------------------------------------------------------------------------------
// Requests: the server never answers 5xx, and answers a normal query afterwards.

/// Words GraphQL documents are made of, valid and not.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "!",
    "$",
    "=",
    "|",
    "&",
    "@",
    "...",
    ",",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "schema",
    "type",
    "Query",
    "Mutation",
    "authors",
    "books",
    "publishers",
    "author",
    "book",
    "publisher",
    "addBook",
    "nodes",
    "edges",
    "node",
    "cursor",
    "pageInfo",
    "hasNextPage",
    "endCursor",
    "totalCount",
    "name",
    "firstName",
    "lastName",
    "title",
    "id",
    "bookCount",
    "authorCount",
    "first",
    "after",
    "filter",
    "orderBy",
    "field",
    "direction",
    "NAME",
    "BOOK_COUNT",
    "DESC",
    "nameContains",
    "titleContains",
    "input",
    "outcome",
    "$id",
    "$first",
    "$input",
    "ID",
    "ID!",
    "Int",
    "String!",
    "[Int]",
    "AddBookInput!",
    "__typename",
    "__schema",
    "__type",
    "types",
    "fields",
    "ofType",
    "@include(if: true)",
    "@skip(if: $x)",
    "@defer",
    "1",
    "0",
    "-1",
    "100",
    "101",
    "2147483648",
    "1e400",
    "1.5",
    "\"3\"",
    "\"abc\"",
    "\"\"",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"unterminated",
    "\"\"\"block\"\"\"",
    "null",
    "true",
    "false",
    "#",
    "# comment\n",
    "\n",
    "\u{feff}",
    "\u{0}",
    "\u{1f600}",
    "a:",
    "b:",
];

fn graphql_text() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(TOKENS).prop_map(str::to_owned);
    let piece = prop_oneof![8 => token, 1 => "[a-zA-Z_$@{}():!]{1,8}", 1 => any::<String>()];
    (
        proptest::collection::vec(piece, 0..40),
        prop_oneof![Just(" "), Just(""), Just("\n")],
    )
        .prop_map(|(pieces, separator)| pieces.join(separator))
}

/// A cursor for `after`: well-formed for one of the lists (with a key of any shape),
/// naming a list that does not exist, or not base64 JSON at all.
fn cursor() -> impl Strategy<Value = String> {
    use base64::Engine as _;
    let list = prop_oneof![
        proptest::sample::select(vec![
            "authors/Name/Asc",
            "authors/Name/Desc",
            "authors/BookCount/Desc",
            "books/Title/Asc",
            "books/Title/Desc",
            "publishers/Name/Asc",
            "publishers/BookCount/Desc",
            "publishers/AuthorCount/Asc",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let sort_value = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(Value::from("king")),
        Just(Value::Null),
        any::<f64>().prop_map(Value::from),
    ];
    let key = proptest::collection::vec(sort_value, 0..5).prop_map(Value::from);
    let body = prop_oneof![
        4 => (list, key).prop_map(|(list, key)| json!({ "list": list, "key": key }).to_string()),
        1 => json_value().prop_map(|value| value.to_string()),
        1 => any::<String>(),
    ];
    prop_oneof![
        5 => body.prop_map(|body| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)),
        1 => any::<String>(),
    ]
}

/// `text` as a GraphQL string literal (JSON's escapes are GraphQL's).
fn quoted(text: String) -> String {
    serde_json::to_string(&text).unwrap_or_default()
}

/// A GraphQL argument value, in GraphQL syntax: numbers in and out of range, strings,
/// cursors, enum values, and values of the wrong type.
fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "-1", "0", "1", "3", "20", "100", "101", "2147483647", "2147483648",
            "-9223372036854775809", "1.5", "1e400", "null", "true", "[]", "[1, 2]", "{}",
            "$undefined", "\"\"", "\"3\"", "\"-3\"", "\"abc\"", "\"9223372036854775808\"",
            "\"   \"", "NAME", "TITLE", "BOOK_COUNT", "AUTHOR_COUNT", "ASC", "DESC", "NOPE",
            "\"ki\"", "\"%\"", "\"_\"", "\"\\\\\"",
        ])
        .prop_map(str::to_owned),
        2 => any::<i32>().prop_map(|n| n.to_string()),
        2 => any::<String>().prop_map(quoted),
        1 => "[a-zA-Z ]{0,300}".prop_map(quoted),
        2 => cursor().prop_map(quoted),
    ]
}

/// A value for a placeholder of `kind` in a [`shaped_query`] template: of the right type
/// mostly (in range or not), anything [`argument`] makes sometimes.
fn typed_argument(kind: &'static str) -> BoxedStrategy<String> {
    let one_of = |values: &[&'static str]| {
        proptest::sample::select(values.to_vec())
            .prop_map(str::to_owned)
            .boxed()
    };
    let typed = match kind {
        "INT" => prop_oneof![
            3 => one_of(&["0", "1", "2", "20", "100", "101", "-1"]),
            1 => any::<i32>().prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "ID" => prop_oneof![
            4 => (1u32..20).prop_map(|n| quoted(n.to_string())),
            1 => (1u32..20).prop_map(|n| n.to_string()),
            1 => one_of(&["\"0\"", "\"-1\"", "\"abc\"", "\"\"", "\" 3\"", "\"3.0\"", "\"99999999999999999999\"", "\"9223372036854775807\""]),
        ]
        .boxed(),
        "STR" => prop_oneof![
            3 => one_of(&["\"Stephen\"", "\"king\"", "\"Random House\"", "\"The Stand\"", "\"It\"", "\"\\u00c9mile\"", "\"%\"", "\"_\"", "\"\\\\\"", "\"  \"", "\"\""]),
            2 => "[A-Za-z][A-Za-z ]{0,15}".prop_map(quoted),
            1 => any::<String>().prop_map(quoted),
            1 => (190usize..520).prop_map(|n| quoted("x".repeat(n))),
        ]
        .boxed(),
        "CURSOR" => cursor().prop_map(quoted).boxed(),
        "BOOL" => one_of(&["true", "false"]),
        "DIR" => one_of(&["ASC", "DESC"]),
        "AFIELD" => one_of(&["NAME", "BOOK_COUNT"]),
        "BFIELD" => one_of(&["TITLE"]),
        "PFIELD" => one_of(&["NAME", "BOOK_COUNT", "AUTHOR_COUNT"]),
        _ => argument().boxed(),
    };
    prop_oneof![6 => typed, 1 => argument()].boxed()
}

/// Queries of the right shape: every placeholder (`INT`, `ID`, `STR`, `CURSOR`, ...)
/// filled by [`typed_argument`].
fn shaped_query() -> impl Strategy<Value = String> {
    const TEMPLATES: &[&str] = &[
        "{ author(id: ID) { name bookCount books(first: INT) { title publishers(first: INT) { name } } publishers { name } } }",
        "{ authors(first: INT, after: CURSOR, filter: {nameContains: STR}, orderBy: {field: AFIELD, direction: DIR}) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name books(first: INT) { title } } } } }",
        "{ books(first: INT, after: CURSOR, filter: {titleContains: STR, authorId: ID, publisherId: ID}, orderBy: {field: BFIELD, direction: DIR}) { totalCount nodes { title author { name } publishers(first: INT) { name } } } }",
        "{ publishers(first: INT, after: CURSOR, filter: {nameContains: STR}, orderBy: {field: PFIELD, direction: DIR}) { totalCount nodes { name bookCount authorCount authors(first: INT) { name } books(first: INT) { title } } } }",
        "{ book(id: ID) { title author { name } publishers { name } } publisher(id: ID) { name authors { name } } }",
        "{ authors(after: CURSOR) { nodes { name } } books(after: CURSOR) { nodes { title } } publishers(after: CURSOR) { nodes { name } } }",
        "mutation { addBook(input: {authorFirstName: STR, authorLastName: STR, title: STR, publisherName: STR}) { outcome authorCreated publisherCreated book { title author { name } } } }",
        "mutation { updateBook(input: {id: ID, title: STR, authorId: ID}) { book { title author { name } } } }",
        "mutation { addBookPublisher(input: {bookId: ID, publisherId: ID}) { added book { publishers { name } } } }",
        "mutation { removeBookPublisher(input: {bookId: ID, publisherId: ID}) { book { publishers { name } } } }",
        "mutation { createAuthor(input: {firstName: STR, lastName: STR}) { author { name } } }",
        "mutation { updateAuthor(input: {id: ID, firstName: STR, lastName: STR}) { author { name } } }",
        "mutation { createPublisher(input: {name: STR}) { publisher { name } } }",
        "mutation { updatePublisher(input: {id: ID, name: STR}) { publisher { name } } }",
        "mutation { deleteBook(input: {id: ID}) { deletedId deletedBookCount } }",
        "mutation { deleteAuthor(input: {id: ID, cascade: BOOL}) { deletedId deletedBookCount } }",
        "mutation { deletePublisher(input: {id: ID, cascade: BOOL}) { deletedId deletedBookCount } }",
    ];
    proptest::sample::select(TEMPLATES).prop_flat_map(|template| {
        let words: Vec<&'static str> = template
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .filter(|word| {
                [
                    "INT", "ID", "STR", "CURSOR", "BOOL", "DIR", "AFIELD", "BFIELD", "PFIELD",
                ]
                .contains(word)
            })
            .collect();
        let values: Vec<BoxedStrategy<String>> =
            words.iter().map(|&kind| typed_argument(kind)).collect();
        values.prop_map(move |values| fill(template, &values))
    })
}

/// `template` with its placeholders replaced by `values`, in order.
fn fill(template: &str, values: &[String]) -> String {
    let mut query = String::new();
    let mut values = values.iter();
    let mut word = String::new();
    for c in template.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_uppercase() || c == '_' {
            word.push(c);
            continue;
        }
        if [
            "INT", "ID", "STR", "CURSOR", "BOOL", "DIR", "AFIELD", "BFIELD", "PFIELD",
        ]
        .contains(&word.as_str())
        {
            query.push_str(values.next().map_or("null", String::as_str));
        } else {
            query.push_str(&word);
        }
        word.clear();
        query.push(c);
    }
    query.pop();
    query
}

/// Arbitrary JSON, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        graphql_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(vec![
                        "query",
                        "variables",
                        "operationName",
                        "extensions",
                        "id",
                        "input"
                    ])
                    .prop_map(str::to_owned),
                    any::<String>(),
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A request to throw at the server.
#[derive(Debug, Clone)]
enum Request {
    /// POST /graphql with this body and content type.
    Post {
        content_type: Option<&'static str>,
        accept: Option<&'static str>,
        body: Vec<u8>,
    },
    /// GET /graphql with these query parameters.
    Get {
        accept: Option<&'static str>,
        params: Vec<(String, String)>,
    },
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(None),
        3 => proptest::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "application/graphql-response+json",
            "application/graphql",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "*/*",
            "nonsense",
        ])
        .prop_map(Some),
    ]
}

fn accept() -> impl Strategy<Value = Option<&'static str>> {
    let odd = proptest::sample::select(vec![
        "application/graphql-response+json, application/json;q=0.9",
        "text/html",
        "*/*",
        "image/png",
        "application/json;q=0",
        ";;;,,,",
    ]);
    prop_oneof![
        4 => Just(None),
        2 => Just(Some("application/json")),
        2 => Just(Some("application/graphql-response+json")),
        1 => odd.prop_map(Some),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let query = prop_oneof![1 => graphql_text(), 2 => shaped_query()];
    let variables = prop_oneof![
        6 => Just(None),
        1 => proptest::collection::btree_map("[a-z$]{1,6}", json_value(), 0..4)
            .prop_map(|map| Some(Value::Object(map.into_iter().collect()))),
        1 => json_value().prop_map(Some),
    ];
    let operation_name = prop_oneof![
        6 => Just(None),
        1 => "[A-Za-z]{0,6}".prop_map(|name| Some(Value::from(name))),
        1 => json_value().prop_map(Some),
    ];
    let graphql_body =
        (query, variables, operation_name).prop_map(|(query, variables, operation_name)| {
            let mut body = json!({ "query": query });
            if let Some(variables) = variables {
                body["variables"] = variables;
            }
            if let Some(operation_name) = operation_name {
                body["operationName"] = operation_name;
            }
            body.to_string().into_bytes()
        });
    // A GraphQL request as clients send it, with whatever query, variables and name.
    let well_formed = (accept(), graphql_body.clone()).prop_map(|(accept, body)| Request::Post {
        content_type: Some("application/json"),
        accept,
        body,
    });
    let body = prop_oneof![
        2 => graphql_body,
        2 => json_value().prop_map(|value| value.to_string().into_bytes()),
        1 => graphql_text().prop_map(String::into_bytes),
        2 => proptest::collection::vec(any::<u8>(), 0..1024),
    ];
    // Anything at all in the body, under any content type.
    let odd =
        (content_type(), accept(), body).prop_map(|(content_type, accept, body)| Request::Post {
            content_type,
            accept,
            body,
        });
    let param_name =
        proptest::sample::select(vec!["query", "variables", "operationName", "extensions"])
            .prop_map(str::to_owned);
    let param_value = prop_oneof![
        2 => graphql_text(),
        2 => shaped_query(),
        1 => json_value().prop_map(|value| value.to_string()),
        1 => any::<String>(),
    ];
    let get = (
        accept(),
        proptest::collection::vec((param_name, param_value), 0..4),
    )
        .prop_map(|(accept, params)| Request::Get { accept, params });
    prop_oneof![5 => well_formed, 3 => odd, 1 => get]
}

/// Sends `request`; the answer must come and must not be 5xx, and a normal query must
/// still work afterwards.
async fn never_5xx(app: &TestApp, request: Request) -> Result<(), TestCaseError> {
    let builder = match &request {
        Request::Post {
            content_type,
            accept,
            body,
        } => {
            let mut builder = app.client().post(app.url("/graphql")).body(body.clone());
            if let Some(content_type) = content_type {
                builder = builder.header("content-type", *content_type);
            }
            if let Some(accept) = accept {
                builder = builder.header("accept", *accept);
            }
            builder
        }
        Request::Get { accept, params } => {
            let mut builder = app.client().get(app.url("/graphql")).query(params);
            if let Some(accept) = accept {
                builder = builder.header("accept", *accept);
            }
            builder
        }
    };
    let response = builder.send().await;
    let response = match response {
        Ok(response) => response,
        Err(error) => return Err(TestCaseError::fail(format!("no answer: {error}"))),
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    prop_assert!(!status.is_server_error(), "answered {status}: {body}");
    // A failure on the server's side is a 5xx in GraphQL's clothes, whatever the status.
    prop_assert!(
        !error_codes(&body).contains(&"INTERNAL_SERVER_ERROR".to_owned()),
        "internal error for {request:?}: {body}"
    );
    let normal = app
        .post_graphql(
            "{ authors(first: 1) { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    prop_assert!(
        normal.get("errors").is_none() && normal["data"]["authors"]["totalCount"].is_u64(),
        "a normal query after {request:?} got {normal}"
    );
    Ok(())
}

/// The `extensions.code` of each error in a GraphQL response body.
fn error_codes(body: &str) -> Vec<String> {
    let body: Value = serde_json::from_str(body).unwrap_or_default();
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|error| error["extensions"]["code"].as_str())
        .map(str::to_owned)
        .collect()
}

#[test]
fn arbitrary_requests_never_get_5xx() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    check(&runtime, request(), async |request| {
        never_5xx(&app, request).await
    });
    drop(app);
}
