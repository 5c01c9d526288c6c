//! Batching, proven by counting: a request's SQL statements depend on the query's depth,
//! never on how many rows it returns. The count is in the response only when asked for.

use std::fmt::Write as _;

use serde_json::json;

use crate::helpers::{DIAGNOSTICS, TestApp};

/// 150 authors with 1–3 books each, each book with 1–3 of 12 publishers.
fn catalogue_csv() -> String {
    let mut csv = String::from("first_name,last_name,title,publisher\n");
    for author in 0..150 {
        for book in 0..=(author % 3) {
            for publisher in 0..=((author + book) % 3) {
                let publisher = (author * 7 + book * 3 + publisher) % 12;
                writeln!(
                    csv,
                    "First{author},Last{author:03},Book {book} of {author},Publisher {publisher:02}"
                )
                .unwrap();
            }
        }
    }
    csv
}

#[tokio::test]
async fn the_hierarchy_costs_the_same_statements_for_10_and_100_authors() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let hierarchy = |first: u32| {
        format!(
            "{{ authors(first: {first}) {{ totalCount nodes {{ name books {{ title publishers {{ name }} }} }} }} }}"
        )
    };
    let for_10 = app.statements_for(&hierarchy(10)).await;
    let for_100 = app.statements_for(&hierarchy(100)).await;
    // the page with its authors' books, the count, the publishers of those books
    assert_eq!(for_10, 3);
    assert_eq!(for_100, for_10);
}

#[tokio::test]
async fn every_nested_relation_and_count_is_one_statement_per_level() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let deep = |first: u32| {
        format!(
            "{{ publishers(first: {first}) {{ nodes {{ name bookCount authorCount
                authors(first: {first}) {{ name bookCount publishers {{ name }}
                    books(first: 5) {{ title author {{ name }} publishers {{ name }} }} }} }} }} }}"
        )
    };
    let for_2 = app.statements_for(&deep(2)).await;
    let for_12 = app.statements_for(&deep(12)).await;
    // the page with its publishers' authors; publisher counts; the authors' counts,
    // publishers and books; books' authors and publishers.
    assert_eq!(for_2, 7);
    assert_eq!(for_12, for_2);
}

#[tokio::test]
async fn a_lookup_by_id_batches_with_its_siblings() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let aliases: String = (1..=40)
        .map(|id| format!("b{id}: book(id: {id}) {{ title author {{ name }} }} "))
        .collect();
    assert_eq!(app.statements_for(&format!("{{ {aliases} }}")).await, 2);
}

#[tokio::test]
async fn the_statement_count_is_given_only_to_requests_that_ask_for_it() {
    let app = TestApp::spawn().await;
    let query = "{ authors(first: 2) { nodes { name } } }";

    let plain = app.post_graphql(query, json!({})).await;
    let asked = app.post_graphql_diagnosed(query).await;

    assert!(plain.get("extensions").is_none(), "{plain}");
    assert_eq!(asked["extensions"]["sqlStatements"], 1, "{asked}");
    assert_eq!(plain["data"], asked["data"]);
}

#[tokio::test]
async fn a_request_error_carries_no_extensions_unless_asked() {
    let app = TestApp::spawn().await;
    let query = "{ noSuchField }";

    let plain = app.post_graphql(query, json!({})).await;
    let asked = app.post_graphql_diagnosed(query).await;

    assert!(plain["errors"].is_array(), "{plain}");
    assert!(plain.get("extensions").is_none(), "{plain}");
    assert_eq!(asked["extensions"]["sqlStatements"], 0, "{asked}");
}

#[tokio::test]
async fn get_gives_the_statement_count_when_asked_too() {
    let app = TestApp::spawn().await;
    let response: serde_json::Value = app
        .client()
        .get(app.url("/graphql"))
        .query(&[("query", "{ authors(first: 2) { nodes { name } } }")])
        .header(DIAGNOSTICS, "sql")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["extensions"]["sqlStatements"], 1, "{response}");
}

#[tokio::test]
async fn a_page_and_the_first_list_of_its_items_are_one_statement() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let nodes = "{ authors(first: 20) { nodes { name books { title } } } }";
    let edges = "{ publishers(first: 5) { edges { node { name authors(first: 2) { name } } } } }";
    assert_eq!(app.statements_for(nodes).await, 1);
    assert_eq!(app.statements_for(edges).await, 1);
}

/// The lists read with their page, in every shape a page takes (a filter, an order, a
/// cursor, a nested `first`), are those each item's own lookup gives.
#[tokio::test]
async fn lists_read_with_their_page_are_those_each_item_has() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let first_page = app
        .data("{ authors(first: 3, orderBy: {field: BOOK_COUNT, direction: DESC}) { pageInfo { endCursor } } }")
        .await;
    let after = first_page["authors"]["pageInfo"]["endCursor"].clone();
    let page = app
        .data_with(
            "query($after: String, $first: Int) {
                authors(first: 30, after: $after, filter: {nameContains: \"1\"},
                        orderBy: {field: BOOK_COUNT, direction: DESC}) {
                    nodes { id books(first: $first) { title } publishers { name } }
                    edges { node { id books { title } } }
                }
            }",
            json!({ "after": after, "first": 2 }),
        )
        .await;
    let nodes = page["authors"]["nodes"].as_array().unwrap();
    let edges = page["authors"]["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), 30, "{page}");
    for (node, edge) in nodes.iter().zip(edges) {
        let own = app
            .data_with(
                "query($id: ID!) { author(id: $id) {
                    first: books(first: 2) { title } books { title } publishers { name } } }",
                json!({ "id": node["id"] }),
            )
            .await;
        assert_eq!(node["books"], own["author"]["first"], "{node}");
        assert_eq!(node["publishers"], own["author"]["publishers"], "{node}");
        assert_eq!(edge["node"]["books"], own["author"]["books"], "{edge}");
    }
}

/// Lists read with a page serve the page's own items only: the same relation deeper down,
/// for other parents, is loaded for those.
#[tokio::test]
async fn lists_read_with_a_page_serve_only_its_items() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let page = app
        .data(
            "{ authors(first: 2) { nodes { id books { title }
                publishers { authors { id books { title } } } } } }",
        )
        .await;
    let mut own_books = std::collections::HashMap::new();
    let mut checked = 0;
    for node in page["authors"]["nodes"].as_array().unwrap() {
        let deeper = node["publishers"].as_array().unwrap().iter();
        let authors = deeper.flat_map(|publisher| publisher["authors"].as_array().unwrap());
        for author in std::iter::once(node).chain(authors) {
            let id = author["id"].as_str().unwrap().to_owned();
            if !own_books.contains_key(&id) {
                let own = app
                    .data_with(
                        "query($id: ID!) { author(id: $id) { books { title } } }",
                        json!({ "id": id }),
                    )
                    .await;
                own_books.insert(id.clone(), own["author"]["books"].clone());
            }
            assert_eq!(author["books"], own_books[&id], "{author}");
            checked += 1;
        }
    }
    assert!(
        checked > 4,
        "the publishers' authors reach beyond the page: {page}"
    );
}

#[tokio::test]
async fn a_bad_first_below_a_page_is_still_that_lists_error() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let response = app
        .post_graphql(
            "{ authors(first: 2) { nodes { name books(first: -1) { title } } } }",
            json!({}),
        )
        .await;
    let error = &response["errors"][0];
    assert_eq!(
        error["path"],
        json!(["authors", "nodes", 0, "books"]),
        "{response}"
    );
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{response}");
}

/// The two levels below a page are read beside it, in two statements that start together:
/// the page with its items' lists, and the lists of those lists' items. A statement read
/// ahead that failed would show as a third, the level loading its lists itself. Each
/// item's answer is what looking it up alone gives, where nothing is read ahead.
#[tokio::test]
async fn two_levels_below_a_page_cost_two_statements_and_answer_as_lookups_do() {
    let app = TestApp::spawn_with_csv(&catalogue_csv()).await;
    let first_sixteen = app
        .post_graphql(
            "{ authors(first: 16) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let after = &first_sixteen["data"]["authors"]["pageInfo"]["endCursor"];
    let after_16 = format!("first: 8, after: {after}");
    let shapes = [
        ("authors", "first: 8", "books { title publishers { name } }"),
        (
            "authors",
            after_16.as_str(),
            "publishers(first: 2) { name books(first: 1) { title } }",
        ),
        (
            "authors",
            "first: 8, orderBy: {field: BOOK_COUNT, direction: DESC}",
            "books(first: 1) { title publishers { name } }",
        ),
        (
            "authors",
            "first: 8, filter: {nameContains: \"1\"}",
            "publishers { name authors(first: 2) { name } }",
        ),
        (
            "publishers",
            "first: 8",
            "books { title publishers { name } }",
        ),
        (
            "publishers",
            "first: 8",
            "books(first: 2) { title publishers { name } }",
        ),
        (
            "publishers",
            "first: 8",
            "authors(first: 2) { name books(first: 3) { title } }",
        ),
        (
            "publishers",
            "first: 8",
            "authors { name publishers(first: 1) { name } }",
        ),
        (
            "books",
            "first: 8, filter: {titleContains: \"Book 1\"}",
            "publishers { name books(first: 2) { title } }",
        ),
    ];
    for (list, arguments, below) in shapes {
        let page = format!("{{ {list}({arguments}) {{ nodes {{ id {below} }} }} }}");
        let response = app.post_graphql_diagnosed(&page).await;
        assert!(response.get("errors").is_none(), "{response}");
        assert_eq!(response["extensions"]["sqlStatements"], 2, "{page}");
        let items = response["data"][list]["nodes"].as_array().unwrap();
        assert!(!items.is_empty(), "{response}");
        let lookup = list.trim_end_matches('s');
        for item in items {
            let id = item["id"].as_str().unwrap();
            let alone = format!("{{ {lookup}(id: \"{id}\") {{ id {below} }} }}");
            let answer = app.post_graphql(&alone, json!({})).await;
            assert_eq!(answer["data"][lookup], *item, "{alone}");
        }
    }
}
