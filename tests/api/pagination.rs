//! Paging through the three connections in every order they offer: each row exactly once,
//! in the documented order, with cursors that only work in the list they came from, and
//! `first` bounded everywhere.

use std::cmp::Ordering;
use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, add_book};

/// Page sizes every walk is repeated with; 2 is the one the contract's examples use.
const PAGE_SIZES: [i64; 3] = [2, 1, 3];

/// A top-level connection of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Authors,
    Books,
    Publishers,
}

use List::{Authors, Books, Publishers};

impl List {
    const ALL: [List; 3] = [Authors, Books, Publishers];

    /// The `Query` field.
    fn field(self) -> &'static str {
        match self {
            Authors => "authors",
            Books => "books",
            Publishers => "publishers",
        }
    }

    /// The prefix of the `…Filter` and `…Order` input types.
    fn type_name(self) -> &'static str {
        match self {
            Authors => "Author",
            Books => "Book",
            Publishers => "Publisher",
        }
    }

    /// What each node is selected with: enough to check any of the list's orders.
    fn node_fields(self) -> &'static str {
        match self {
            Authors => "id firstName lastName name bookCount",
            Books => "id title",
            Publishers => "id name bookCount authorCount",
        }
    }

    /// Every `orderBy` the list supports: none, then each field in both directions.
    fn orderings(self) -> Vec<Value> {
        let fields: &[&str] = match self {
            Authors => &["NAME", "BOOK_COUNT"],
            Books => &["TITLE"],
            Publishers => &["NAME", "BOOK_COUNT", "AUTHOR_COUNT"],
        };
        let mut orderings = vec![Value::Null];
        for field in fields {
            for direction in ["ASC", "DESC"] {
                orderings.push(json!({ "field": field, "direction": direction }));
            }
        }
        orderings
    }

    /// The field an omitted `orderBy` orders by.
    fn default_field(self) -> &'static str {
        match self {
            Authors | Publishers => "NAME",
            Books => "TITLE",
        }
    }

    /// How many rows the tutorial data has.
    fn tutorial_count(self) -> i64 {
        match self {
            Authors => 7,
            Books => 10,
            Publishers => 4,
        }
    }

    /// The node's name or title, for readable expectations.
    fn label(self, node: &Value) -> String {
        let field = if self == Books { "title" } else { "name" };
        node[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {node}"))
            .to_owned()
    }

    /// The whole-connection query, every argument a variable.
    fn query(self) -> String {
        let (field, ty, fields) = (self.field(), self.type_name(), self.node_fields());
        format!(
            "query($first: Int, $after: String, $filter: {ty}Filter, $orderBy: {ty}Order) {{
                {field}(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {{
                    totalCount
                    edges {{ cursor node {{ {fields} }} }}
                    nodes {{ {fields} }}
                    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                }}
            }}"
        )
    }
}

/// `orderBy` spelled out: an omitted one is the list's default field, ascending.
fn canonical(list: List, order_by: &Value) -> (List, String, String) {
    let field = order_by["field"].as_str().unwrap_or(list.default_field());
    let direction = order_by["direction"].as_str().unwrap_or("ASC");
    (list, field.to_owned(), direction.to_owned())
}

/// One page of `list` as the server answers it (whole response, errors included).
async fn page_response(
    app: &TestApp,
    list: List,
    first: i64,
    after: Option<&str>,
    filter: &Value,
    order_by: &Value,
) -> Value {
    let variables =
        json!({ "first": first, "after": after, "filter": filter, "orderBy": order_by });
    app.post_graphql(&list.query(), variables).await
}

/// One page of `list`, which must come without errors.
async fn page(
    app: &TestApp,
    list: List,
    first: i64,
    after: Option<&str>,
    filter: &Value,
    order_by: &Value,
) -> Value {
    let response = page_response(app, list, first, after, filter, order_by).await;
    assert!(
        response.get("errors").is_none(),
        "{} first {first} after {after:?} filter {filter} orderBy {order_by}: {response}",
        list.field()
    );
    response["data"][list.field()].clone()
}

/// The `extensions.code` of each error of a response, which must have errors.
fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors in {response}"))
        .iter()
        .map(|error| {
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// Asserts the response failed, every error with code `BAD_USER_INPUT`.
fn assert_bad_user_input(response: &Value, what: &str) {
    let codes = error_codes(response);
    assert!(
        !codes.is_empty() && codes.iter().all(|code| code == "BAD_USER_INPUT"),
        "{what}: expected BAD_USER_INPUT, got {codes:?} in {response}"
    );
}

/// What a walk through a list saw.
struct Walk {
    /// Every node of every page, in order.
    nodes: Vec<Value>,
    /// The `totalCount` every page reported.
    total_count: i64,
}

impl Walk {
    fn ids(&self) -> Vec<String> {
        ids(&self.nodes)
    }
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|node| {
            node["id"]
                .as_str()
                .unwrap_or_else(|| panic!("id of {node}"))
                .to_owned()
        })
        .collect()
}

/// Pages through `list` `page_size` rows at a time, following `endCursor` until
/// `hasNextPage` is false, and checks each page is consistent on its own: page info, edges
/// against nodes, page size, and the same `totalCount` throughout.
async fn walk(app: &TestApp, list: List, filter: &Value, order_by: &Value, page_size: i64) -> Walk {
    let mut nodes = Vec::new();
    let mut total_count = None;
    let mut after: Option<String> = None;
    for number in 1.. {
        let what = format!(
            "{} filter {filter} orderBy {order_by} first {page_size}, page {number}",
            list.field()
        );
        let connection = page(app, list, page_size, after.as_deref(), filter, order_by).await;
        let count = connection["totalCount"].as_i64().expect("totalCount");
        assert_eq!(
            *total_count.get_or_insert(count),
            count,
            "{what}: totalCount changed"
        );
        assert!(
            number <= count + 1,
            "{what}: more pages than rows, paging does not advance"
        );

        let info = &connection["pageInfo"];
        assert_eq!(
            info["hasPreviousPage"],
            after.is_some(),
            "{what}: hasPreviousPage is true exactly after a cursor"
        );
        let edges = connection["edges"].as_array().expect("edges");
        let page_nodes = connection["nodes"].as_array().expect("nodes");
        let edge_nodes: Vec<Value> = edges.iter().map(|edge| edge["node"].clone()).collect();
        assert_eq!(&edge_nodes, page_nodes, "{what}: edges and nodes differ");
        assert!(
            edges.len() as i64 <= page_size,
            "{what}: page larger than first"
        );

        let has_next_page = info["hasNextPage"].as_bool().expect("hasNextPage");
        if has_next_page {
            assert_eq!(
                edges.len() as i64,
                page_size,
                "{what}: short page with more to come"
            );
        }
        match (edges.first(), edges.last()) {
            (Some(first), Some(last)) => {
                assert_eq!(info["startCursor"], first["cursor"], "{what}: startCursor");
                assert_eq!(info["endCursor"], last["cursor"], "{what}: endCursor");
            }
            _ => {
                assert_eq!(number, 1, "{what}: an empty page after a cursor");
                assert!(
                    info["startCursor"].is_null(),
                    "{what}: startCursor of an empty page"
                );
                assert!(
                    info["endCursor"].is_null(),
                    "{what}: endCursor of an empty page"
                );
            }
        }
        nodes.extend(edge_nodes);
        if !has_next_page {
            break;
        }
        let end = info["endCursor"]
            .as_str()
            .expect("endCursor when hasNextPage");
        after = Some(end.to_owned());
    }
    Walk {
        nodes,
        total_count: total_count.unwrap_or_default(),
    }
}

/// Asserts that `a` comes strictly before `b` in `order_by` as documented: the field in
/// the given direction, ties by the default order ascending (last name then first name,
/// title, name), then by id.
fn assert_documented_order(list: List, order_by: &Value, nodes: &[Value], what: &str) {
    let (_, field, direction) = canonical(list, order_by);
    let descending = direction == "DESC";
    let text = |node: &Value, key: &str| {
        node[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} of {node}"))
            .to_lowercase()
    };
    let int = |node: &Value, key: &str| {
        node[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} of {node}"))
    };
    let id = |node: &Value| {
        node["id"]
            .as_str()
            .and_then(|id| id.parse::<i64>().ok())
            .expect("integer id")
    };
    let by_default = |a: &Value, b: &Value| match list {
        Authors => text(a, "lastName")
            .cmp(&text(b, "lastName"))
            .then_with(|| text(a, "firstName").cmp(&text(b, "firstName"))),
        Books => text(a, "title").cmp(&text(b, "title")),
        Publishers => text(a, "name").cmp(&text(b, "name")),
    };
    let directed = |ordering: Ordering| {
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    let compare = |a: &Value, b: &Value| {
        let primary = match field.as_str() {
            "NAME" | "TITLE" => return directed(by_default(a, b)).then_with(|| id(a).cmp(&id(b))),
            "BOOK_COUNT" => int(a, "bookCount").cmp(&int(b, "bookCount")),
            "AUTHOR_COUNT" => int(a, "authorCount").cmp(&int(b, "authorCount")),
            other => panic!("unknown order field {other}"),
        };
        directed(primary)
            .then_with(|| by_default(a, b))
            .then_with(|| id(a).cmp(&id(b)))
    };
    for pair in nodes.windows(2) {
        assert_eq!(
            compare(&pair[0], &pair[1]),
            Ordering::Less,
            "{what}: {} must come before {}",
            pair[0],
            pair[1]
        );
    }
}

#[tokio::test]
async fn every_ordering_of_every_connection_pages_through_each_row_exactly_once() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        for order_by in list.orderings() {
            let everything = page(&app, list, 100, None, &Value::Null, &order_by).await;
            let everything_nodes = everything["nodes"].as_array().expect("nodes").clone();
            let what = format!("{} orderBy {order_by}", list.field());
            assert_eq!(
                everything["pageInfo"]["hasNextPage"], false,
                "{what}: first 100 holds the tutorial data"
            );
            assert_eq!(
                everything["totalCount"],
                list.tutorial_count(),
                "{what}: totalCount of the tutorial data"
            );
            assert_documented_order(list, &order_by, &everything_nodes, &what);

            for page_size in PAGE_SIZES {
                let what = format!("{what} first {page_size}");
                let walked = walk(&app, list, &Value::Null, &order_by, page_size).await;
                let ids = walked.ids();
                let distinct: HashSet<&String> = ids.iter().collect();
                assert_eq!(
                    distinct.len(),
                    ids.len(),
                    "{what}: a row came twice in {ids:?}"
                );
                assert_eq!(
                    ids.len() as i64,
                    walked.total_count,
                    "{what}: rows visited against totalCount"
                );
                assert_eq!(
                    walked.nodes, everything_nodes,
                    "{what}: pages in sequence against one page of 100"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_tutorial_data_comes_in_the_documented_orders() {
    let app = TestApp::spawn().await;
    let authors_by_name = [
        "Isaac Asimov",
        "Pearl Buck",
        "Tom Clancy",
        "Stephen King",
        "John Le Carre",
        "Alex Michaelides",
        "Carol Shaben",
    ];
    let books_by_title = [
        "Dead Zone",
        "Foundation",
        "Into The Abyss",
        "It",
        "Patriot Games",
        "The Good Earth",
        "The Hunt For Red October",
        "The Shining",
        "The Silent Patient",
        "Tinker, Tailor, Soldier, Spy: A George Smiley Novel",
    ];
    let publishers_by_name = [
        "Berkley",
        "Penguin Random House",
        "Random House",
        "Simon & Schuster",
    ];
    let reversed = |names: &[&'static str]| names.iter().rev().copied().collect::<Vec<_>>();
    let order = |field: &str, direction: &str| json!({ "field": field, "direction": direction });

    // (list, orderBy, names in order, the count the order is by, if any)
    let cases: Vec<(List, Value, Vec<&str>, Vec<i64>)> = vec![
        (Authors, Value::Null, authors_by_name.to_vec(), vec![]),
        (
            Authors,
            order("NAME", "ASC"),
            authors_by_name.to_vec(),
            vec![],
        ),
        (
            Authors,
            order("NAME", "DESC"),
            reversed(&authors_by_name),
            vec![],
        ),
        (
            Authors,
            order("BOOK_COUNT", "ASC"),
            vec![
                "Isaac Asimov",
                "Pearl Buck",
                "John Le Carre",
                "Alex Michaelides",
                "Carol Shaben",
                "Tom Clancy",
                "Stephen King",
            ],
            vec![1, 1, 1, 1, 1, 2, 3],
        ),
        (
            Authors,
            order("BOOK_COUNT", "DESC"),
            vec![
                "Stephen King",
                "Tom Clancy",
                "Isaac Asimov",
                "Pearl Buck",
                "John Le Carre",
                "Alex Michaelides",
                "Carol Shaben",
            ],
            vec![3, 2, 1, 1, 1, 1, 1],
        ),
        (Books, Value::Null, books_by_title.to_vec(), vec![]),
        (
            Books,
            order("TITLE", "ASC"),
            books_by_title.to_vec(),
            vec![],
        ),
        (
            Books,
            order("TITLE", "DESC"),
            reversed(&books_by_title),
            vec![],
        ),
        (Publishers, Value::Null, publishers_by_name.to_vec(), vec![]),
        (
            Publishers,
            order("NAME", "ASC"),
            publishers_by_name.to_vec(),
            vec![],
        ),
        (
            Publishers,
            order("NAME", "DESC"),
            reversed(&publishers_by_name),
            vec![],
        ),
        (
            Publishers,
            order("BOOK_COUNT", "ASC"),
            vec![
                "Berkley",
                "Penguin Random House",
                "Random House",
                "Simon & Schuster",
            ],
            vec![2, 2, 4, 4],
        ),
        (
            Publishers,
            order("BOOK_COUNT", "DESC"),
            vec![
                "Random House",
                "Simon & Schuster",
                "Berkley",
                "Penguin Random House",
            ],
            vec![4, 4, 2, 2],
        ),
        (
            Publishers,
            order("AUTHOR_COUNT", "ASC"),
            vec![
                "Penguin Random House",
                "Berkley",
                "Random House",
                "Simon & Schuster",
            ],
            vec![1, 2, 3, 4],
        ),
        (
            Publishers,
            order("AUTHOR_COUNT", "DESC"),
            vec![
                "Simon & Schuster",
                "Random House",
                "Berkley",
                "Penguin Random House",
            ],
            vec![4, 3, 2, 1],
        ),
    ];
    for (list, order_by, names, counts) in cases {
        let what = format!("{} orderBy {order_by}", list.field());
        let walked = walk(&app, list, &Value::Null, &order_by, 2).await;
        let labels: Vec<String> = walked.nodes.iter().map(|node| list.label(node)).collect();
        assert_eq!(labels, names, "{what}: names in order");
        if !counts.is_empty() {
            let count_field = if order_by["field"] == "AUTHOR_COUNT" {
                "authorCount"
            } else {
                "bookCount"
            };
            let seen: Vec<i64> = walked
                .nodes
                .iter()
                .map(|node| node[count_field].as_i64().expect("count"))
                .collect();
            assert_eq!(seen, counts, "{what}: {count_field} in order");
        }
    }
}

#[tokio::test]
async fn has_previous_page_is_false_on_the_first_page_and_true_after_a_cursor() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        let first = page(&app, list, 2, None, &Value::Null, &Value::Null).await;
        assert_eq!(
            first["pageInfo"]["hasPreviousPage"],
            false,
            "{} first page",
            list.field()
        );
        assert_eq!(
            first["pageInfo"]["hasNextPage"],
            true,
            "{} first page",
            list.field()
        );
        let cursor = first["pageInfo"]["endCursor"].as_str().expect("endCursor");
        let second = page(&app, list, 2, Some(cursor), &Value::Null, &Value::Null).await;
        assert_eq!(
            second["pageInfo"]["hasPreviousPage"],
            true,
            "{} page after a cursor",
            list.field()
        );
        // The cursor of the first row: everything but that row lies after it.
        let cursor = first["edges"][0]["cursor"].as_str().expect("cursor");
        let rest = page(&app, list, 100, Some(cursor), &Value::Null, &Value::Null).await;
        assert_eq!(
            rest["pageInfo"]["hasPreviousPage"],
            true,
            "{} after the first row",
            list.field()
        );
        assert_eq!(
            rest["nodes"].as_array().map(Vec::len),
            Some(list.tutorial_count() as usize - 1),
            "{} after the first row",
            list.field()
        );
    }
}

#[tokio::test]
async fn an_empty_page_has_null_cursors() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        for order_by in list.orderings() {
            let what = format!("{} orderBy {order_by}", list.field());

            let zero = page(&app, list, 0, None, &Value::Null, &order_by).await;
            assert_eq!(zero["edges"], json!([]), "{what} first 0: edges");
            assert_eq!(zero["nodes"], json!([]), "{what} first 0: nodes");
            assert_eq!(
                zero["pageInfo"]["startCursor"],
                Value::Null,
                "{what} first 0"
            );
            assert_eq!(zero["pageInfo"]["endCursor"], Value::Null, "{what} first 0");
            assert_eq!(
                zero["pageInfo"]["hasNextPage"], true,
                "{what} first 0: rows follow"
            );
            assert_eq!(zero["pageInfo"]["hasPreviousPage"], false, "{what} first 0");
            assert_eq!(
                zero["totalCount"],
                list.tutorial_count(),
                "{what} first 0: totalCount"
            );

            // After the very last row.
            let all = page(&app, list, 100, None, &Value::Null, &order_by).await;
            let last = all["pageInfo"]["endCursor"].as_str().expect("endCursor");
            let after_last = page(&app, list, 2, Some(last), &Value::Null, &order_by).await;
            assert_eq!(after_last["nodes"], json!([]), "{what} after the last row");
            assert_eq!(
                after_last["pageInfo"]["startCursor"],
                Value::Null,
                "{what} after last"
            );
            assert_eq!(
                after_last["pageInfo"]["endCursor"],
                Value::Null,
                "{what} after last"
            );
            assert_eq!(
                after_last["pageInfo"]["hasNextPage"], false,
                "{what} after last"
            );
            assert_eq!(
                after_last["pageInfo"]["hasPreviousPage"], true,
                "{what} after last"
            );

            // Zero rows after a cursor.
            let first_cursor = all["edges"][0]["cursor"].as_str().expect("cursor");
            let zero_after = page(&app, list, 0, Some(first_cursor), &Value::Null, &order_by).await;
            assert_eq!(
                zero_after["nodes"],
                json!([]),
                "{what} first 0 after a cursor"
            );
            assert_eq!(
                zero_after["pageInfo"]["startCursor"],
                Value::Null,
                "{what} first 0 after"
            );
            assert_eq!(
                zero_after["pageInfo"]["endCursor"],
                Value::Null,
                "{what} first 0 after"
            );
            assert_eq!(
                zero_after["pageInfo"]["hasPreviousPage"], true,
                "{what} first 0 after"
            );
        }
    }
}

#[tokio::test]
async fn an_empty_catalogue_is_one_empty_page() {
    let app = TestApp::spawn_empty().await;
    for list in List::ALL {
        for order_by in list.orderings() {
            let what = format!("empty {} orderBy {order_by}", list.field());
            let walked = walk(&app, list, &Value::Null, &order_by, 2).await;
            assert!(walked.nodes.is_empty(), "{what}: rows");
            assert_eq!(walked.total_count, 0, "{what}: totalCount");
            let connection = page(&app, list, 2, None, &Value::Null, &order_by).await;
            assert_eq!(
                connection["pageInfo"]["hasNextPage"], false,
                "{what}: hasNextPage"
            );
        }
    }
}

#[tokio::test]
async fn a_garbage_cursor_is_bad_user_input() {
    let app = TestApp::spawn().await;
    let forge = |body: &Value| URL_SAFE_NO_PAD.encode(body.to_string());
    for list in List::ALL {
        let own_list = canonical_list_name(list, &Value::Null);
        // Keys of the right length whose values have the wrong types.
        let (ints, texts) = match list {
            Authors => (json!([1, 2, 3]), json!(["a", "b", "c"])),
            Books | Publishers => (json!([1, 2]), json!(["a", "b"])),
        };
        let garbage = [
            "abc".to_owned(),
            String::new(),
            "!!!not base64!!!".to_owned(),
            URL_SAFE_NO_PAD.encode("not json"),
            forge(&json!({})),
            forge(&json!({ "list": own_list })),
            // The right list, keys of the wrong shape: too short, too long, wrong types.
            forge(&json!({ "list": own_list, "key": [] })),
            forge(&json!({ "list": own_list, "key": [1] })),
            forge(&json!({ "list": own_list, "key": ["a", "b", "c", "d", 5, 6] })),
            forge(&json!({ "list": own_list, "key": [1, 2, 3, 4] })),
            forge(&json!({ "list": own_list, "key": [null, null, null] })),
            forge(&json!({ "list": own_list, "key": [1.5, "x", "y"] })),
            forge(&json!({ "list": own_list, "key": ints })),
            forge(&json!({ "list": own_list, "key": texts })),
        ];
        for cursor in garbage {
            let response =
                page_response(&app, list, 2, Some(&cursor), &Value::Null, &Value::Null).await;
            assert_bad_user_input(&response, &format!("{} after {cursor:?}", list.field()));
        }
    }
    // The same through an inline argument.
    for query in [
        r#"{ authors(after: "abc") { totalCount } }"#,
        r#"{ books(after: "abc") { totalCount } }"#,
        r#"{ publishers(after: "abc") { totalCount } }"#,
    ] {
        assert_eq!(app.error_codes(query).await, ["BAD_USER_INPUT"], "{query}");
    }
}

/// How the server names a list in its cursors; only used to forge cursors of the right
/// list, so a forged key's shape, not its list, is what gets refused.
fn canonical_list_name(list: List, order_by: &Value) -> String {
    let (_, field, direction) = canonical(list, order_by);
    let camel = |upper: &str| {
        upper
            .split('_')
            .map(|word| {
                let lower = word.to_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<String>()
    };
    format!("{}/{}/{}", list.field(), camel(&field), camel(&direction))
}

#[tokio::test]
async fn a_cursor_works_only_in_the_list_and_ordering_it_came_from() {
    let app = TestApp::spawn().await;
    // A cursor of the second row of every (list, ordering), omitted orderBy included.
    let mut cursors = Vec::new();
    for list in List::ALL {
        for order_by in list.orderings() {
            let connection = page(&app, list, 2, None, &Value::Null, &order_by).await;
            let cursor = connection["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor");
            cursors.push((list, order_by, cursor.to_owned()));
        }
    }
    for (from_list, from_order, cursor) in &cursors {
        for to_list in List::ALL {
            for to_order in to_list.orderings() {
                let what = format!(
                    "cursor of {} orderBy {from_order} used on {} orderBy {to_order}",
                    from_list.field(),
                    to_list.field()
                );
                let response =
                    page_response(&app, to_list, 2, Some(cursor), &Value::Null, &to_order).await;
                if canonical(*from_list, from_order) == canonical(to_list, &to_order) {
                    // An omitted orderBy is the default field ascending, cursors included.
                    assert!(response.get("errors").is_none(), "{what}: {response}");
                    let nodes = &response["data"][to_list.field()]["nodes"];
                    assert_eq!(
                        nodes.as_array().map(Vec::len),
                        Some(2),
                        "{what}: {response}"
                    );
                } else {
                    assert_bad_user_input(&response, &what);
                }
            }
        }
    }
    // The brief's example, spelled out: a NAME cursor with BOOK_COUNT.
    let by_name = json!({ "field": "NAME", "direction": "ASC" });
    let by_count = json!({ "field": "BOOK_COUNT", "direction": "ASC" });
    let connection = page(&app, Publishers, 2, None, &Value::Null, &by_name).await;
    let cursor = connection["pageInfo"]["endCursor"]
        .as_str()
        .expect("endCursor");
    let response = page_response(&app, Publishers, 2, Some(cursor), &Value::Null, &by_count).await;
    assert_bad_user_input(&response, "a publishers NAME cursor used with BOOK_COUNT");
}

#[tokio::test]
async fn first_outside_0_to_100_is_bad_user_input_on_connections_and_nested_lists() {
    let app = TestApp::spawn().await;
    let data = app
        .data(r#"{ authors(filter: { nameContains: "King" }) { nodes { id } } }"#)
        .await;
    let king = data["authors"]["nodes"][0]["id"]
        .as_str()
        .expect("King's id")
        .to_owned();
    let templates = [
        "{ authors(first: LIMIT) { totalCount } }".to_owned(),
        "{ books(first: LIMIT) { totalCount } }".to_owned(),
        "{ publishers(first: LIMIT) { totalCount } }".to_owned(),
        "{ authors(first: 1) { nodes { books(first: LIMIT) { id } } } }".to_owned(),
        "{ authors(first: 1) { nodes { publishers(first: LIMIT) { id } } } }".to_owned(),
        "{ books(first: 1) { nodes { publishers(first: LIMIT) { id } } } }".to_owned(),
        "{ publishers(first: 1) { nodes { books(first: LIMIT) { id } } } }".to_owned(),
        "{ publishers(first: 1) { nodes { authors(first: LIMIT) { id } } } }".to_owned(),
        format!(r#"{{ author(id: "{king}") {{ books(first: LIMIT) {{ id }} }} }}"#),
        format!(r#"{{ author(id: "{king}") {{ publishers(first: LIMIT) {{ id }} }} }}"#),
        "{ books(first: 1) { nodes { author { books(first: LIMIT) { id } } } } }".to_owned(),
    ];
    for template in &templates {
        for bad in ["101", "-1", "1000", "-100"] {
            let query = template.replace("LIMIT", bad);
            let response = app.post_graphql(&query, json!({})).await;
            assert_bad_user_input(&response, &query);
        }
        for good in ["0", "1", "100"] {
            let query = template.replace("LIMIT", good);
            let response = app.post_graphql(&query, json!({})).await;
            assert!(response.get("errors").is_none(), "{query}: {response}");
        }
    }
    // A variable is held to the same bounds as a literal.
    for list in List::ALL {
        for first in [101, -1] {
            let response = page_response(&app, list, first, None, &Value::Null, &Value::Null).await;
            assert_bad_user_input(&response, &format!("{} first {first}", list.field()));
        }
    }
}

#[tokio::test]
async fn an_explicit_null_first_gives_the_default_page_size() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        let query = format!(
            "{{ {}(first: null) {{ totalCount nodes {{ id }} }} }}",
            list.field()
        );
        let data = app.data(&query).await;
        assert_eq!(
            data[list.field()]["nodes"].as_array().map(Vec::len),
            Some(list.tutorial_count() as usize),
            "{query}: the default 20 covers the tutorial data"
        );
    }
}

/// The id of the one author whose name contains `needle`.
async fn author_id(app: &TestApp, needle: &str) -> String {
    let data = app
        .data_with(
            "query($n: String) { authors(filter: { nameContains: $n }) { nodes { id } } }",
            json!({ "n": needle }),
        )
        .await;
    let nodes = data["authors"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 1, "one author matches {needle:?}: {data}");
    nodes[0]["id"].as_str().expect("id").to_owned()
}

/// The id of the publisher named exactly `name`.
async fn publisher_id(app: &TestApp, name: &str) -> String {
    let data = app
        .data("{ publishers(first: 100) { nodes { id name } } }")
        .await;
    let nodes = data["publishers"]["nodes"].as_array().expect("nodes");
    let publisher = nodes
        .iter()
        .find(|node| node["name"] == name)
        .unwrap_or_else(|| panic!("publisher {name:?} in {data}"));
    publisher["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn filters_page_and_count_only_what_they_match() {
    let app = TestApp::spawn().await;
    let king = author_id(&app, "King").await;
    let random_house = publisher_id(&app, "Random House").await;
    let penguin = publisher_id(&app, "Penguin Random House").await;
    let by_count_desc = json!({ "field": "BOOK_COUNT", "direction": "DESC" });
    let by_title_desc = json!({ "field": "TITLE", "direction": "DESC" });

    // (list, filter, orderBy, names in order); totalCount must be their number.
    let cases: Vec<(List, Value, Value, Vec<&str>)> = vec![
        (
            Authors,
            json!({ "nameContains": "KING" }),
            Value::Null,
            vec!["Stephen King"],
        ),
        (
            Authors,
            json!({ "nameContains": "king" }),
            Value::Null,
            vec!["Stephen King"],
        ),
        (
            Authors,
            json!({ "nameContains": "  stephen   KING " }),
            Value::Null,
            vec!["Stephen King"],
        ),
        (
            Authors,
            json!({ "nameContains": "E" }),
            Value::Null,
            vec![
                "Pearl Buck",
                "Stephen King",
                "John Le Carre",
                "Alex Michaelides",
                "Carol Shaben",
            ],
        ),
        (
            Authors,
            json!({ "nameContains": "e" }),
            by_count_desc.clone(),
            vec![
                "Stephen King",
                "Pearl Buck",
                "John Le Carre",
                "Alex Michaelides",
                "Carol Shaben",
            ],
        ),
        (
            Authors,
            json!({ "nameContains": "nobody" }),
            Value::Null,
            vec![],
        ),
        (Authors, json!({ "nameContains": "%" }), Value::Null, vec![]),
        (Authors, json!({ "nameContains": "_" }), Value::Null, vec![]),
        (
            Authors,
            json!({}),
            Value::Null,
            vec![
                "Isaac Asimov",
                "Pearl Buck",
                "Tom Clancy",
                "Stephen King",
                "John Le Carre",
                "Alex Michaelides",
                "Carol Shaben",
            ],
        ),
        (
            Books,
            json!({ "titleContains": "THE" }),
            Value::Null,
            vec![
                "Into The Abyss",
                "The Good Earth",
                "The Hunt For Red October",
                "The Shining",
                "The Silent Patient",
            ],
        ),
        (
            Books,
            json!({ "titleContains": "the" }),
            by_title_desc.clone(),
            vec![
                "The Silent Patient",
                "The Shining",
                "The Hunt For Red October",
                "The Good Earth",
                "Into The Abyss",
            ],
        ),
        (
            Books,
            json!({ "authorId": king }),
            Value::Null,
            vec!["Dead Zone", "It", "The Shining"],
        ),
        (
            Books,
            json!({ "publisherId": random_house }),
            Value::Null,
            vec!["Dead Zone", "Foundation", "It", "The Good Earth"],
        ),
        (
            Books,
            json!({ "authorId": king, "publisherId": penguin }),
            Value::Null,
            vec!["It", "The Shining"],
        ),
        (
            Books,
            json!({ "authorId": king, "publisherId": penguin, "titleContains": "SHIN" }),
            by_title_desc,
            vec!["The Shining"],
        ),
        (Books, json!({ "authorId": "999999" }), Value::Null, vec![]),
        (
            Books,
            json!({ "publisherId": "999999" }),
            Value::Null,
            vec![],
        ),
        (Books, json!({ "titleContains": "%" }), Value::Null, vec![]),
        (
            Publishers,
            json!({ "nameContains": "random" }),
            Value::Null,
            vec!["Penguin Random House", "Random House"],
        ),
        (
            Publishers,
            json!({ "nameContains": "RANDOM" }),
            json!({ "field": "BOOK_COUNT", "direction": "DESC" }),
            vec!["Random House", "Penguin Random House"],
        ),
        (
            Publishers,
            json!({ "nameContains": "&" }),
            Value::Null,
            vec!["Simon & Schuster"],
        ),
    ];
    for (list, filter, order_by, names) in cases {
        let what = format!("{} filter {filter} orderBy {order_by}", list.field());
        let everything = page(&app, list, 100, None, &filter, &order_by).await;
        for page_size in PAGE_SIZES {
            let walked = walk(&app, list, &filter, &order_by, page_size).await;
            let labels: Vec<String> = walked.nodes.iter().map(|node| list.label(node)).collect();
            assert_eq!(labels, names, "{what} first {page_size}: names in order");
            assert_eq!(
                walked.total_count,
                names.len() as i64,
                "{what} first {page_size}: totalCount"
            );
            assert_eq!(
                walked.ids(),
                ids(everything["nodes"].as_array().expect("nodes")),
                "{what} first {page_size}: pages against one page of 100"
            );
            assert_documented_order(list, &order_by, &walked.nodes, &what);
        }
    }
}

#[tokio::test]
async fn a_malformed_id_in_a_filter_is_bad_user_input() {
    let app = TestApp::spawn().await;
    for filter in [
        json!({ "authorId": "x" }),
        json!({ "authorId": "" }),
        json!({ "authorId": "1.5" }),
        json!({ "publisherId": "x" }),
        json!({ "publisherId": "one" }),
        json!({ "authorId": "1", "publisherId": "x" }),
    ] {
        let response = page_response(&app, Books, 2, None, &filter, &Value::Null).await;
        assert_bad_user_input(&response, &format!("books filter {filter}"));
    }
    let codes = app
        .error_codes(r#"{ books(filter: { authorId: "x" }) { totalCount } }"#)
        .await;
    assert_eq!(codes, ["BAD_USER_INPUT"], "inline authorId \"x\"");
    // An integer literal is a well-formed ID.
    let data = app
        .data("{ books(filter: { authorId: 999999 }) { totalCount } }")
        .await;
    assert_eq!(
        data["books"]["totalCount"], 0,
        "an integer ID naming nothing"
    );
}

#[tokio::test]
async fn rows_added_around_a_cursor_neither_repeat_nor_vanish_from_later_pages() {
    let app = TestApp::spawn().await;
    let first = page(&app, Authors, 2, None, &Value::Null, &Value::Null).await;
    let labels: Vec<String> = first["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| Authors.label(node))
        .collect();
    assert_eq!(labels, ["Isaac Asimov", "Pearl Buck"], "first page by name");
    let cursor = first["pageInfo"]["endCursor"]
        .as_str()
        .expect("endCursor")
        .to_owned();

    // One author before the cursor, one after everything.
    add_book(&app, "Aaron", "Aardvark", "Anteaters", "Berkley").await;
    add_book(&app, "Zed", "Zzyzx", "Last Words", "Berkley").await;

    let mut rest = Vec::new();
    let mut after = cursor;
    loop {
        let next = page(&app, Authors, 2, Some(&after), &Value::Null, &Value::Null).await;
        assert_eq!(next["totalCount"], 9, "totalCount counts the new authors");
        rest.extend(
            next["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|node| Authors.label(node)),
        );
        if next["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = next["pageInfo"]["endCursor"]
            .as_str()
            .expect("endCursor")
            .to_owned();
    }
    assert_eq!(
        rest,
        [
            "Tom Clancy",
            "Stephen King",
            "John Le Carre",
            "Alex Michaelides",
            "Carol Shaben",
            "Zed Zzyzx",
        ],
        "pages after the cursor: nothing repeated, nothing lost, the new last author included"
    );
}

#[tokio::test]
async fn total_count_is_the_same_through_a_fragment() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        let ty = list.type_name();
        let field = list.field();
        let query = format!(
            "{{ {field}(first: 1) {{ ...counted }} }}
             fragment counted on {ty}Connection {{ totalCount }}"
        );
        let data = app.data(&query).await;
        assert_eq!(data[field]["totalCount"], list.tutorial_count(), "{query}");
        let query = format!("{{ {field}(first: 1) {{ ... on {ty}Connection {{ totalCount }} }} }}");
        let data = app.data(&query).await;
        assert_eq!(data[field]["totalCount"], list.tutorial_count(), "{query}");
    }
}
