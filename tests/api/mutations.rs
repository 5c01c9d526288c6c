//! The write API beyond addBook: create, rename, move, delete, link and unlink, each in one
//! transaction that either happens entirely or changes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_counts_match_rows};

/// The whole catalogue as the export writes it: two equal snapshots mean nothing changed.
async fn snapshot(app: &TestApp) -> String {
    let mut csv = Vec::new();
    bookgraph::export::export_csv(&app.db, &mut csv, || {})
        .await
        .unwrap();
    let authors = app.data("{ authors(first: 100) { nodes { id name } } publishers(first: 100) { nodes { id name } } }").await;
    format!("{}\n{authors}", String::from_utf8(csv).unwrap())
}

/// Runs `mutation` with `input`; returns the whole response.
async fn mutate(app: &TestApp, field: &str, input: Value, selection: &str) -> Value {
    let query = format!(
        "mutation($input: {}Input!) {{ {field}(input: $input) {selection} }}",
        input_type(field)
    );
    app.post_graphql(&query, json!({ "input": input })).await
}

fn input_type(field: &str) -> String {
    match field {
        "addBookPublisher" | "removeBookPublisher" => "BookPublisher".to_owned(),
        _ => {
            let mut chars = field.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// The id of the author, book or publisher named `needle` (ignoring case), or else the
/// first whose name contains it.
async fn id_of(app: &TestApp, list: &str, needle: &str) -> String {
    let (filter, name) = if list == "books" {
        ("titleContains", "title")
    } else {
        ("nameContains", "name")
    };
    let data = app
        .data(&format!(
            r#"{{ {list}(filter: {{{filter}: "{needle}"}}) {{ nodes {{ id {name} }} }} }}"#
        ))
        .await;
    let nodes = data[list]["nodes"].as_array().unwrap();
    let exact = nodes
        .iter()
        .find(|node| node[name].as_str().unwrap().eq_ignore_ascii_case(needle));
    let node = exact
        .or(nodes.first())
        .unwrap_or_else(|| panic!("no {needle} in {list}"));
    node["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_mutation_succeeds() {
    let app = TestApp::spawn().await;
    let created = mutate(
        &app,
        "createAuthor",
        json!({"firstName": " Ursula ", "lastName": "Le  Guin"}),
        "{ author { id name bookCount } }",
    )
    .await;
    assert_eq!(
        created["data"]["createAuthor"]["author"]["name"], "Ursula Le Guin",
        "{created}"
    );
    let ursula = created["data"]["createAuthor"]["author"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let king = id_of(&app, "authors", "stephen king").await;
    let renamed = mutate(
        &app,
        "updateAuthor",
        json!({"id": king, "firstName": "Richard", "lastName": "Bachman"}),
        "{ author { name bookCount } }",
    )
    .await;
    assert_eq!(
        renamed["data"]["updateAuthor"]["author"],
        json!({"name": "Richard Bachman", "bookCount": 3}),
        "{renamed}"
    );

    let press = mutate(
        &app,
        "createPublisher",
        json!({"name": "Ace Books"}),
        "{ publisher { id name } }",
    )
    .await;
    let ace = press["data"]["createPublisher"]["publisher"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = mutate(
        &app,
        "updatePublisher",
        json!({"id": ace, "name": "Ace"}),
        "{ publisher { name } }",
    )
    .await;
    assert_eq!(
        renamed["data"]["updatePublisher"]["publisher"]["name"], "Ace",
        "{renamed}"
    );

    let shining = id_of(&app, "books", "shining").await;
    let linked = mutate(
        &app,
        "addBookPublisher",
        json!({"bookId": shining, "publisherId": ace}),
        "{ added book { publishers { name } } }",
    )
    .await;
    assert_eq!(
        linked["data"]["addBookPublisher"],
        json!({"added": true, "book": {"publishers": [{"name": "Ace"}, {"name": "Penguin Random House"}]}}),
        "{linked}"
    );
    let again = mutate(
        &app,
        "addBookPublisher",
        json!({"bookId": shining, "publisherId": ace}),
        "{ added }",
    )
    .await;
    assert_eq!(again["data"]["addBookPublisher"]["added"], false);
    let unlinked = mutate(
        &app,
        "removeBookPublisher",
        json!({"bookId": shining, "publisherId": ace}),
        "{ book { publishers { name } } }",
    )
    .await;
    assert_eq!(
        unlinked["data"]["removeBookPublisher"]["book"]["publishers"],
        json!([{"name": "Penguin Random House"}]),
        "{unlinked}"
    );

    let moved = mutate(
        &app,
        "updateBook",
        json!({"id": shining, "title": "The  Shining (1977)", "authorId": ursula}),
        "{ book { title author { name } } }",
    )
    .await;
    assert_eq!(
        moved["data"]["updateBook"]["book"],
        json!({"title": "The Shining (1977)", "author": {"name": "Ursula Le Guin"}}),
        "{moved}"
    );

    let deleted = mutate(
        &app,
        "deleteBook",
        json!({"id": shining}),
        "{ deletedId deletedBookCount }",
    )
    .await;
    assert_eq!(
        deleted["data"]["deleteBook"],
        json!({"deletedId": shining, "deletedBookCount": 0}),
        "{deleted}"
    );
    let deleted = mutate(&app, "deletePublisher", json!({"id": ace}), "{ deletedId }").await;
    assert_eq!(
        deleted["data"]["deletePublisher"]["deletedId"], ace,
        "{deleted}"
    );
    let deleted = mutate(&app, "deleteAuthor", json!({"id": ursula}), "{ deletedId }").await;
    assert_eq!(
        deleted["data"]["deleteAuthor"]["deletedId"], ursula,
        "{deleted}"
    );
    assert_counts_match_rows(&app).await;
}

#[tokio::test]
async fn every_refused_mutation_has_its_code_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let king = id_of(&app, "authors", "stephen king").await;
    let clancy = id_of(&app, "authors", "clancy").await;
    let random_house = id_of(&app, "publishers", "random house").await;
    let berkley = id_of(&app, "publishers", "berkley").await;
    let it = id_of(&app, "books", "it").await;
    let shining = id_of(&app, "books", "shining").await;
    let long_name = "x".repeat(201);
    let long_title = "t".repeat(501);
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "createAuthor",
            json!({"firstName": "stephen", "lastName": "KING"}),
            "CONFLICT",
            Some(&king),
        ),
        (
            "updateAuthor",
            json!({"id": clancy, "firstName": "Stephen", "lastName": "King"}),
            "CONFLICT",
            Some(&king),
        ),
        (
            "updateAuthor",
            json!({"id": "999", "firstName": "No", "lastName": "One"}),
            "NOT_FOUND",
            None,
        ),
        (
            "updateAuthor",
            json!({"id": king, "firstName": ""}),
            "BAD_USER_INPUT",
            Some("input.firstName"),
        ),
        (
            "updateAuthor",
            json!({"id": king, "lastName": long_name}),
            "BAD_USER_INPUT",
            Some("input.lastName"),
        ),
        (
            "updateAuthor",
            json!({"id": king, "lastName": "Ki\u{1}ng"}),
            "BAD_USER_INPUT",
            Some("input.lastName"),
        ),
        (
            "updateAuthor",
            json!({"id": "x", "lastName": "King"}),
            "BAD_USER_INPUT",
            Some("input.id"),
        ),
        ("deleteAuthor", json!({"id": king}), "CONFLICT", None),
        ("deleteAuthor", json!({"id": "999"}), "NOT_FOUND", None),
        (
            "createPublisher",
            json!({"name": " random   HOUSE "}),
            "CONFLICT",
            Some(&random_house),
        ),
        (
            "createPublisher",
            json!({"name": "  "}),
            "BAD_USER_INPUT",
            Some("input.name"),
        ),
        (
            "updatePublisher",
            json!({"id": berkley, "name": "Random House"}),
            "CONFLICT",
            Some(&random_house),
        ),
        (
            "updatePublisher",
            json!({"id": "999", "name": "Nobody"}),
            "NOT_FOUND",
            None,
        ),
        ("deletePublisher", json!({"id": berkley}), "CONFLICT", None),
        (
            "updateBook",
            json!({"id": shining, "title": "it"}),
            "CONFLICT",
            Some(&it),
        ),
        (
            "updateBook",
            json!({"id": shining, "title": long_title}),
            "BAD_USER_INPUT",
            Some("input.title"),
        ),
        (
            "updateBook",
            json!({"id": shining, "authorId": "999"}),
            "NOT_FOUND",
            None,
        ),
        (
            "updateBook",
            json!({"id": "999", "title": "Nothing"}),
            "NOT_FOUND",
            None,
        ),
        ("deleteBook", json!({"id": "999"}), "NOT_FOUND", None),
        (
            "addBookPublisher",
            json!({"bookId": shining, "publisherId": "999"}),
            "NOT_FOUND",
            None,
        ),
        (
            "removeBookPublisher",
            json!({"bookId": shining, "publisherId": random_house}),
            "CONFLICT",
            None,
        ),
        (
            "removeBookPublisher",
            json!({"bookId": shining, "publisherId": id_of(&app, "publishers", "penguin").await}),
            "CONFLICT",
            None,
        ),
    ];
    let before = snapshot(&app).await;
    for (field, input, code, detail) in cases {
        let what = format!("{field} {input}");
        let response = mutate(&app, field, input, "{ __typename }").await;
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["code"], code, "{what}: {response}");
        match (code, detail) {
            ("CONFLICT", Some(existing)) => assert_eq!(
                error["extensions"]["existingId"], existing,
                "{what}: {response}"
            ),
            ("BAD_USER_INPUT", Some(field)) => assert!(
                error["message"].as_str().unwrap().contains(field),
                "{what}: {response}"
            ),
            _ => {}
        }
        assert_eq!(snapshot(&app).await, before, "{what} changed nothing");
    }
}

#[tokio::test]
async fn cascades_take_books_and_links_and_say_how_many() {
    let app = TestApp::spawn().await;
    let king = id_of(&app, "authors", "stephen king").await;
    let deleted = mutate(
        &app,
        "deleteAuthor",
        json!({"id": king, "cascade": true}),
        "{ deletedId deletedBookCount }",
    )
    .await;
    assert_eq!(
        deleted["data"]["deleteAuthor"]["deletedBookCount"], 3,
        "{deleted}"
    );
    let penguin = app.data(r#"{ publishers(filter: {nameContains: "penguin"}) { nodes { id bookCount authorCount authors { name } } } }"#).await;
    assert_eq!(penguin["publishers"]["nodes"][0]["bookCount"], 0);
    assert_eq!(penguin["publishers"]["nodes"][0]["authors"], json!([]));

    let simon = id_of(&app, "publishers", "simon").await;
    let deleted = mutate(
        &app,
        "deletePublisher",
        json!({"id": simon, "cascade": true}),
        "{ deletedBookCount }",
    )
    .await;
    assert_eq!(
        deleted["data"]["deletePublisher"]["deletedBookCount"], 4,
        "{deleted}"
    );
    // The Good Earth was also Random House's; it went with Simon & Schuster.
    let left = app
        .data("{ books { totalCount } publishers { nodes { name bookCount authorCount } } }")
        .await;
    assert_eq!(left["books"]["totalCount"], 3, "{left}");
    assert_eq!(
        left["publishers"]["nodes"],
        json!([
            {"name": "Berkley", "bookCount": 2, "authorCount": 2},
            {"name": "Penguin Random House", "bookCount": 0, "authorCount": 0},
            {"name": "Random House", "bookCount": 1, "authorCount": 1},
        ])
    );
    assert_counts_match_rows(&app).await;
}

#[tokio::test]
async fn the_publisher_author_relation_follows_every_edit() {
    let app = TestApp::spawn().await;
    let authors_of_berkley =
        r#"{ publishers(filter: {nameContains: "berkley"}) { nodes { authors { name } } } } "#;
    assert_eq!(
        app.data(authors_of_berkley).await["publishers"]["nodes"][0]["authors"],
        json!([{"name": "Tom Clancy"}, {"name": "John Le Carre"}])
    );

    let hunt = id_of(&app, "books", "red october").await;
    let asimov = id_of(&app, "authors", "asimov").await;
    mutate(
        &app,
        "updateBook",
        json!({"id": hunt, "authorId": asimov}),
        "{ __typename }",
    )
    .await;
    assert_eq!(
        app.data(authors_of_berkley).await["publishers"]["nodes"][0]["authors"],
        json!([{"name": "Isaac Asimov"}, {"name": "John Le Carre"}])
    );

    let le_carre = id_of(&app, "authors", "le carre").await;
    mutate(
        &app,
        "updateAuthor",
        json!({"id": le_carre, "firstName": "David", "lastName": "Cornwell"}),
        "{ __typename }",
    )
    .await;
    assert_eq!(
        app.data(authors_of_berkley).await["publishers"]["nodes"][0]["authors"],
        json!([{"name": "Isaac Asimov"}, {"name": "David Cornwell"}])
    );

    let tinker = id_of(&app, "books", "tinker").await;
    let random_house = id_of(&app, "publishers", "random house").await;
    let berkley = id_of(&app, "publishers", "berkley").await;
    mutate(
        &app,
        "addBookPublisher",
        json!({"bookId": tinker, "publisherId": random_house}),
        "{ __typename }",
    )
    .await;
    mutate(
        &app,
        "removeBookPublisher",
        json!({"bookId": tinker, "publisherId": berkley}),
        "{ __typename }",
    )
    .await;
    assert_eq!(
        app.data(authors_of_berkley).await["publishers"]["nodes"][0]["authors"],
        json!([{"name": "Isaac Asimov"}])
    );
    let counts = app.data(r#"{ publishers(filter: {nameContains: "random house"}, orderBy: {field: NAME}) { nodes { name authorCount } } }"#).await;
    assert_eq!(
        counts["publishers"]["nodes"][1],
        json!({"name": "Random House", "authorCount": 4})
    );
    assert_counts_match_rows(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_writes_leave_the_database_consistent() {
    let app = TestApp::spawn().await;
    let calls = (0..100).map(|n| {
        let app = &app;
        async move {
            match n % 4 {
                0 => mutate(app, "addBook", json!({"title": format!("Book {n}"), "authorFirstName": "Writer", "authorLastName": format!("{}", n % 7), "publisherName": format!("House {}", n % 5)}), "{ outcome }").await,
                1 => mutate(app, "createAuthor", json!({"firstName": "Writer", "lastName": format!("{}", n % 7)}), "{ author { id } }").await,
                2 => {
                    let found = app.data(&format!(r#"{{ publishers(filter: {{nameContains: "house {}"}}) {{ nodes {{ id }} }} }}"#, n % 5)).await;
                    let id = found["publishers"]["nodes"][0]["id"].as_str().unwrap_or("999").to_owned();
                    mutate(app, "deletePublisher", json!({"id": id, "cascade": true}), "{ deletedBookCount }").await
                }
                _ => mutate(app, "updatePublisher", json!({"id": "1", "name": format!("Renamed {n}")}), "{ publisher { name } }").await,
            }
        }
    });
    for response in futures_util::future::join_all(calls).await {
        for error in response["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert!(
                ["CONFLICT", "NOT_FOUND", "BAD_USER_INPUT"].contains(&code),
                "{response}"
            );
        }
    }
    let pool = crate::helpers::any_pool(&app.database_url).await;
    // PostgreSQL checks its foreign keys on every statement; SQLite is asked.
    if !app.on_postgres() {
        let integrity: String = sqlx::query_scalar("pragma integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(integrity, "ok");
        let dangling: Vec<String> =
            sqlx::query_scalar("select \"table\" from pragma_foreign_key_check")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(dangling.is_empty(), "{dangling:?}");
    }
    let (links, books, authors): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from book_publisher), (select count(*) from book), (select count(*) from author)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let served = app.data("{ authors(first: 100) { totalCount nodes { bookCount } } books { totalCount } publishers(first: 100) { nodes { bookCount } } }").await;
    let sum = |list: &str| {
        served[list]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| node["bookCount"].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(served["authors"]["totalCount"], authors);
    assert_eq!(served["books"]["totalCount"], books);
    assert_eq!(sum("authors"), books, "every book has one author");
    assert_eq!(
        sum("publishers"),
        links,
        "publisher counts add up to the links"
    );
    assert_counts_match_rows(&app).await;
}
