//! Paging through the three connections in every order they offer: each row exactly once,
//! in the documented order, with cursors that only work in the list they came from, and
//! `first` bounded everywhere.

use std::cmp::Ordering;
use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{TUTORIAL_CSV, TestApp, add_book, assert_counts_match_rows, hold_fold_lock};

/// Page sizes every walk is repeated with; 2 is the one the contract's examples use.
const PAGE_SIZES: [i64; 3] = [2, 1, 3];

/// The tutorial data's authors, books and publishers in their default order.
const AUTHORS_BY_NAME: &[&str] = &[
    "Isaac Asimov",
    "Pearl Buck",
    "Tom Clancy",
    "Stephen King",
    "John Le Carre",
    "Alex Michaelides",
    "Carol Shaben",
];
const BOOKS_BY_TITLE: &[&str] = &[
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
const PUBLISHERS_BY_NAME: &[&str] = &[
    "Berkley",
    "Penguin Random House",
    "Random House",
    "Simon & Schuster",
];

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

    /// Each node's name or title, for readable expectations.
    fn labels(self, nodes: &[Value]) -> Vec<String> {
        let field = if self == Books { "title" } else { "name" };
        let label = |node: &Value| node[field].as_str().map(str::to_owned);
        nodes
            .iter()
            .map(|node| label(node).unwrap_or_else(|| panic!("{field} of {node}")))
            .collect()
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

/// The variables of `List::query`.
fn page_variables(first: i64, after: Option<&str>, filter: &Value, order_by: &Value) -> Value {
    json!({ "first": first, "after": after, "filter": filter, "orderBy": order_by })
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
    let variables = page_variables(first, after, filter, order_by);
    app.data_with(&list.query(), variables).await[list.field()].clone()
}

/// A connection's `pageInfo.endCursor`, which must be there.
fn end_cursor(connection: &Value) -> String {
    let cursor = connection["pageInfo"]["endCursor"].as_str();
    cursor.expect("endCursor").to_owned()
}

/// Asserts the response failed, with errors that all have code `BAD_USER_INPUT`.
fn assert_bad_user_input(response: &Value, what: &str) {
    let errors = response["errors"]
        .as_array()
        .filter(|errors| !errors.is_empty());
    let all_bad_input = |errors: &Vec<Value>| {
        let code = |error: &Value| error["extensions"]["code"] == "BAD_USER_INPUT";
        errors.iter().all(code)
    };
    assert!(
        errors.is_some_and(all_bad_input),
        "{what}: expected only BAD_USER_INPUT errors in {response}"
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
            let size = edges.len() as i64;
            assert_eq!(size, page_size, "{what}: short page with more to come");
        }
        assert!(
            !edges.is_empty() || number == 1,
            "{what}: an empty page after a cursor"
        );
        // hasPreviousPage is true exactly after a cursor; the cursors are those of the first
        // and last edges, null on an empty page.
        let cursor = |edge: Option<&Value>| edge.map_or(Value::Null, |edge| edge["cursor"].clone());
        let expected = json!({
            "hasNextPage": has_next_page,
            "hasPreviousPage": after.is_some(),
            "startCursor": cursor(edges.first()),
            "endCursor": cursor(edges.last()),
        });
        assert_eq!(*info, expected, "{what}: pageInfo");
        nodes.extend(edge_nodes);
        if !has_next_page {
            break;
        }
        after = Some(end_cursor(&connection));
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
    let order = |field: &str, direction: &str| json!({ "field": field, "direction": direction });

    // (list, orderBy, names in order, the count the order is by, if any)
    let mut cases: Vec<(List, Value, Vec<&str>, Vec<i64>)> = Vec::new();
    // By name or title: omitted, ascending and descending.
    for (list, names) in [
        (Authors, AUTHORS_BY_NAME),
        (Books, BOOKS_BY_TITLE),
        (Publishers, PUBLISHERS_BY_NAME),
    ] {
        let field = list.default_field();
        let reversed = names.iter().rev().copied().collect();
        cases.push((list, Value::Null, names.to_vec(), vec![]));
        cases.push((list, order(field, "ASC"), names.to_vec(), vec![]));
        cases.push((list, order(field, "DESC"), reversed, vec![]));
    }
    cases.extend([
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
        (
            Publishers,
            order("BOOK_COUNT", "ASC"),
            // Two books each, then four: ties by name leave the name order.
            PUBLISHERS_BY_NAME.to_vec(),
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
    ]);
    for (list, order_by, names, counts) in cases {
        let what = format!("{} orderBy {order_by}", list.field());
        let walked = walk(&app, list, &Value::Null, &order_by, 2).await;
        assert_eq!(list.labels(&walked.nodes), names, "{what}: names in order");
        if !counts.is_empty() {
            let count_field = if order_by["field"] == "AUTHOR_COUNT" {
                "authorCount"
            } else {
                "bookCount"
            };
            let count = |node: &Value| node[count_field].as_i64().expect("count");
            let seen: Vec<i64> = walked.nodes.iter().map(count).collect();
            assert_eq!(seen, counts, "{what}: {count_field} in order");
        }
    }
}

/// Cursors come from the rows' sort keys, which a page reads only when a cursor is
/// selected: selected through `pageInfo` alone, or through a fragment, they are the edges'.
#[tokio::test]
async fn page_info_cursors_without_edges_are_the_edges_cursors() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        let name = list.field();
        let with_edges = page(&app, list, 3, None, &Value::Null, &Value::Null).await;
        let edges = &with_edges["edges"];
        let alone = app
            .data(&format!(
                "{{ {name}(first: 3) {{ nodes {{ id }} pageInfo {{ startCursor }} ...End }} }}
                 fragment End on {}Connection {{ pageInfo {{ endCursor }} }}",
                list.type_name()
            ))
            .await;
        assert_eq!(
            alone[name]["pageInfo"],
            json!({ "startCursor": edges[0]["cursor"], "endCursor": edges[2]["cursor"] }),
            "{name}"
        );
        let without_cursors = app
            .data(&format!("{{ {name}(first: 3) {{ nodes {{ id }} }} }}"))
            .await;
        assert_eq!(
            ids(without_cursors[name]["nodes"].as_array().expect("nodes")),
            ids(with_edges["nodes"].as_array().expect("nodes")),
            "{name} without cursors"
        );
    }
}

#[tokio::test]
async fn has_previous_page_is_false_on_the_first_page_and_true_after_a_cursor() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        let name = list.field();
        let first = page(&app, list, 2, None, &Value::Null, &Value::Null).await;
        let edges = &first["edges"];
        let expected = json!({
            "hasPreviousPage": false,
            "hasNextPage": true,
            "startCursor": edges[0]["cursor"],
            "endCursor": edges[1]["cursor"],
        });
        assert_eq!(first["pageInfo"], expected, "{name} first page");
        let cursor = end_cursor(&first);
        let second = page(&app, list, 2, Some(&cursor), &Value::Null, &Value::Null).await;
        let has_previous_page = &second["pageInfo"]["hasPreviousPage"];
        assert_eq!(*has_previous_page, true, "{name} page after a cursor");
        // The cursor of the first row: everything but that row lies after it.
        let cursor = edges[0]["cursor"].as_str().expect("cursor");
        let rest = page(&app, list, 100, Some(cursor), &Value::Null, &Value::Null).await;
        let has_previous_page = &rest["pageInfo"]["hasPreviousPage"];
        assert_eq!(*has_previous_page, true, "{name} after the first row");
        assert_eq!(
            rest["nodes"].as_array().map(Vec::len),
            Some(list.tutorial_count() as usize - 1),
            "{name} after the first row"
        );
    }
}

#[tokio::test]
async fn an_empty_page_has_null_cursors() {
    let app = TestApp::spawn().await;
    for list in List::ALL {
        for order_by in list.orderings() {
            let what = format!("{} orderBy {order_by}", list.field());

            // First 0: no rows, no cursors, and rows follow.
            let zero = page(&app, list, 0, None, &Value::Null, &order_by).await;
            let expected = json!({
                "totalCount": list.tutorial_count(),
                "edges": [],
                "nodes": [],
                "pageInfo": {
                    "hasNextPage": true,
                    "hasPreviousPage": false,
                    "startCursor": null,
                    "endCursor": null,
                },
            });
            assert_eq!(zero, expected, "{what} first 0");

            // After the very last row, and zero rows after the first row's cursor.
            let all = page(&app, list, 100, None, &Value::Null, &order_by).await;
            let first_cursor = all["edges"][0]["cursor"].as_str().expect("cursor");
            for (first, after, has_next_page, case) in [
                (2, end_cursor(&all), false, "after the last row"),
                (0, first_cursor.to_owned(), true, "first 0 after a cursor"),
            ] {
                let empty = page(&app, list, first, Some(&after), &Value::Null, &order_by).await;
                assert_eq!(empty["nodes"], json!([]), "{what} {case}");
                let expected = json!({
                    "hasNextPage": has_next_page,
                    "hasPreviousPage": true,
                    "startCursor": null,
                    "endCursor": null,
                });
                assert_eq!(empty["pageInfo"], expected, "{what} {case}");
            }
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
            let variables = page_variables(2, Some(&cursor), &Value::Null, &Value::Null);
            let response = app.post_graphql(&list.query(), variables).await;
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
            cursors.push((list, order_by, end_cursor(&connection)));
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
                let variables = page_variables(2, Some(cursor), &Value::Null, &to_order);
                let response = app.post_graphql(&to_list.query(), variables).await;
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
    let cursor = end_cursor(&connection);
    let variables = page_variables(2, Some(&cursor), &Value::Null, &by_count);
    let response = app.post_graphql(&Publishers.query(), variables).await;
    assert_bad_user_input(&response, "a publishers NAME cursor used with BOOK_COUNT");
}

#[tokio::test]
async fn first_outside_0_to_100_is_bad_user_input_on_connections_and_nested_lists() {
    let app = TestApp::spawn().await;
    let king = author_id(&app, "King").await;
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
            app.data(&template.replace("LIMIT", good)).await;
        }
    }
    // A variable is held to the same bounds as a literal.
    for list in List::ALL {
        for first in [101, -1] {
            let variables = page_variables(first, None, &Value::Null, &Value::Null);
            let response = app.post_graphql(&list.query(), variables).await;
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
    let mut cases: Vec<(List, Value, Value, Vec<&str>)> = vec![
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
        (Authors, json!({}), Value::Null, AUTHORS_BY_NAME.to_vec()),
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
    // Case and runs of white space do not matter.
    for needle in ["KING", "king", "  stephen   KING "] {
        let filter = json!({ "nameContains": needle });
        cases.push((Authors, filter, Value::Null, vec!["Stephen King"]));
    }
    // Filters that match nothing; `%` and `_` are no wildcards.
    for (list, filter) in [
        (Authors, json!({ "nameContains": "nobody" })),
        (Authors, json!({ "nameContains": "%" })),
        (Authors, json!({ "nameContains": "_" })),
        (Books, json!({ "authorId": "999999" })),
        (Books, json!({ "publisherId": "999999" })),
        (Books, json!({ "titleContains": "%" })),
    ] {
        cases.push((list, filter, Value::Null, vec![]));
    }
    for (list, filter, order_by, names) in cases {
        let what = format!("{} filter {filter} orderBy {order_by}", list.field());
        let everything = page(&app, list, 100, None, &filter, &order_by).await;
        for page_size in PAGE_SIZES {
            let walked = walk(&app, list, &filter, &order_by, page_size).await;
            let labels = list.labels(&walked.nodes);
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
        let variables = page_variables(2, None, &filter, &Value::Null);
        let response = app.post_graphql(&Books.query(), variables).await;
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
    let labels = Authors.labels(first["nodes"].as_array().expect("nodes"));
    assert_eq!(labels, ["Isaac Asimov", "Pearl Buck"], "first page by name");
    let mut after = end_cursor(&first);

    // One author before the cursor, one after everything.
    add_book(&app, "Aaron", "Aardvark", "Anteaters", "Berkley").await;
    add_book(&app, "Zed", "Zzyzx", "Last Words", "Berkley").await;

    let mut rest = Vec::new();
    loop {
        let next = page(&app, Authors, 2, Some(&after), &Value::Null, &Value::Null).await;
        assert_eq!(next["totalCount"], 9, "totalCount counts the new authors");
        rest.extend(Authors.labels(next["nodes"].as_array().expect("nodes")));
        if next["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = end_cursor(&next);
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
        let fragment = format!(
            "{{ {field}(first: 1) {{ ...counted }} }}
             fragment counted on {ty}Connection {{ totalCount }}"
        );
        let inline =
            format!("{{ {field}(first: 1) {{ ... on {ty}Connection {{ totalCount }} }} }}");
        for query in [fragment, inline] {
            let data = app.data(&query).await;
            assert_eq!(data[field]["totalCount"], list.tutorial_count(), "{query}");
        }
    }
}

/// Writes move rows in the orderings by counts at once. On PostgreSQL a write's counts wait
/// in parts beside the rows' columns until a replica folds them in, and the columns'
/// indexes order the rows without them: held off folding, the orderings must still find
/// every row that the parts move, up or down, among many that they do not.
#[tokio::test]
async fn orderings_by_counts_follow_writes_whose_counts_are_not_folded_yet() {
    let mut csv = TUTORIAL_CSV.to_owned();
    for n in 1..=150 {
        csv.push_str(&format!(
            "Filler,Author {n:03},Filler {n},Filler Press {n:03}\n"
        ));
    }
    let app = TestApp::spawn_with_csv(&csv).await;
    let mut folding_held = hold_fold_lock(&app).await;
    for n in 1..=5 {
        let title = format!("Counted {n}");
        add_book(&app, "Carol", "Shaben", &title, "Zebra Press").await;
    }
    for n in 1..=2 {
        let title = format!("Counted {n}");
        add_book(&app, "Alex", "Michaelides", &title, "Zebra Press").await;
    }
    let dead_zone = app
        .data(r#"{ books(filter: {titleContains: "dead zone"}) { nodes { id } } }"#)
        .await;
    let id = dead_zone["books"]["nodes"][0]["id"].clone();
    app.data_with(
        "mutation($id: ID!) { deleteBook(input: {id: $id}) { deletedBookCount } }",
        json!({ "id": id }),
    )
    .await;
    if let Some(connection) = &mut folding_held {
        let parts: i64 = sqlx::query_scalar(
            "select (select count(*) from author_count_part)
                  + (select count(*) from publisher_count_part)",
        )
        .fetch_one(connection)
        .await
        .expect("count the parts");
        assert!(parts > 0, "the writes left their counts in parts");
    }

    let order = |field: &str, direction: &str| json!({ "field": field, "direction": direction });
    let by_books = walk(
        &app,
        Authors,
        &Value::Null,
        &order("BOOK_COUNT", "DESC"),
        100,
    )
    .await;
    assert_eq!(
        Authors.labels(&by_books.nodes)[..4],
        [
            "Carol Shaben",
            "Alex Michaelides",
            "Tom Clancy",
            "Stephen King"
        ],
        "Carol Shaben up to six books, Alex Michaelides to three, Stephen King down to two, \
         after Tom Clancy by name"
    );
    let by_books = walk(
        &app,
        Publishers,
        &Value::Null,
        &order("BOOK_COUNT", "DESC"),
        100,
    )
    .await;
    assert_eq!(
        Publishers.labels(&by_books.nodes)[0],
        "Zebra Press",
        "a publisher created with seven books comes first"
    );
    let by_counts = [
        (Authors, "BOOK_COUNT"),
        (Publishers, "BOOK_COUNT"),
        (Publishers, "AUTHOR_COUNT"),
    ];
    for (list, field) in by_counts {
        for direction in ["ASC", "DESC"] {
            let order_by = order(field, direction);
            let what = format!("{} orderBy {order_by}", list.field());
            let everything = walk(&app, list, &Value::Null, &order_by, 100).await;
            assert_eq!(
                everything.nodes.len() as i64,
                everything.total_count,
                "{what}: every row once"
            );
            assert_documented_order(list, &order_by, &everything.nodes, &what);
            // Small pages end right where rows with parts leave the order of the columns.
            for page_size in [7, 2, 1] {
                let walked = walk(&app, list, &Value::Null, &order_by, page_size).await;
                assert_eq!(
                    walked.nodes, everything.nodes,
                    "{what}: pages of {page_size} against pages of 100"
                );
            }
        }
    }
    assert_counts_match_rows(&app).await;
    drop(folding_held);
}
