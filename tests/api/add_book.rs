//! `addBook`: the tutorial's find-or-create, its outcomes, and its behaviour under load.

use serde_json::{Value, json};

use crate::helpers::{TestApp, add_book};

const COUNTS: &str =
    "{ authors { totalCount } books { totalCount } publishers { totalCount nodes { bookCount } } }";

/// Totals of authors, books, publishers and book–publisher links.
async fn totals(app: &TestApp) -> [i64; 4] {
    let data = app.data(COUNTS).await;
    let links = data["publishers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publisher| publisher["bookCount"].as_i64().unwrap())
        .sum();
    [
        data["authors"]["totalCount"].as_i64().unwrap(),
        data["books"]["totalCount"].as_i64().unwrap(),
        data["publishers"]["totalCount"].as_i64().unwrap(),
        links,
    ]
}

#[tokio::test]
async fn add_book_creates_author_publisher_and_book() {
    let app = TestApp::spawn().await;
    let before = totals(&app).await;
    let payload = add_book(
        &app,
        "Ursula",
        "Le Guin",
        "The Dispossessed",
        "Harper & Row",
    )
    .await;
    assert_eq!(
        payload,
        json!({
            "outcome": "CREATED", "authorCreated": true, "publisherCreated": true,
            "book": {
                "title": "The Dispossessed",
                "author": {"name": "Ursula Le Guin"},
                "publishers": [{"name": "Harper & Row"}],
            },
        })
    );
    assert_eq!(
        totals(&app).await,
        [before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1]
    );
}

#[tokio::test]
async fn add_book_reuses_an_existing_author_and_publisher() {
    let app = TestApp::spawn().await;
    let payload = add_book(&app, "Stephen", "King", "The Stand", "Random House").await;
    assert_eq!(payload["outcome"], "CREATED");
    assert_eq!(payload["authorCreated"], false);
    assert_eq!(payload["publisherCreated"], false);
    let king = app
        .data(
            r#"{ authors(filter: {nameContains: "stephen king"}) { nodes { books { title } } } }"#,
        )
        .await;
    assert_eq!(
        king["authors"]["nodes"][0]["books"],
        json!([{"title": "Dead Zone"}, {"title": "It"}, {"title": "The Shining"}, {"title": "The Stand"}])
    );
}

#[tokio::test]
async fn add_book_adds_a_publisher_to_an_existing_book() {
    let app = TestApp::spawn().await;
    let before = totals(&app).await;
    let payload = add_book(&app, "Stephen", "King", "It", "Berkley").await;
    assert_eq!(payload["outcome"], "PUBLISHER_ADDED");
    assert_eq!(
        payload["book"]["publishers"],
        json!([{"name": "Berkley"}, {"name": "Penguin Random House"}, {"name": "Random House"}])
    );
    assert_eq!(
        totals(&app).await,
        [before[0], before[1], before[2], before[3] + 1]
    );
}

#[tokio::test]
async fn add_book_of_an_existing_link_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = totals(&app).await;
    let payload = add_book(&app, "Stephen", "King", "It", "Random House").await;
    assert_eq!(payload["outcome"], "ALREADY_EXISTED");
    assert_eq!(payload["authorCreated"], false);
    assert_eq!(payload["publisherCreated"], false);
    assert_eq!(totals(&app).await, before);
}

#[tokio::test]
async fn names_are_normalised_and_matched_ignoring_case() {
    let app = TestApp::spawn().await;
    let payload = add_book(
        &app,
        "  stephen ",
        "KING",
        "  the \t shining\n",
        " penguin   random house",
    )
    .await;
    assert_eq!(payload["outcome"], "ALREADY_EXISTED");
    // Existing rows keep their own spelling.
    assert_eq!(payload["book"]["title"], "The Shining");
    assert_eq!(payload["book"]["author"]["name"], "Stephen King");

    let created = add_book(
        &app,
        " Ursula  K. ",
        " Le   Guin ",
        " The  Lathe of Heaven ",
        "Avon",
    )
    .await;
    assert_eq!(created["book"]["title"], "The Lathe of Heaven");
    assert_eq!(created["book"]["author"]["name"], "Ursula K. Le Guin");
}

#[tokio::test]
async fn case_folding_covers_non_ascii_letters() {
    let app = TestApp::spawn_empty().await;
    let first = add_book(&app, "Émile", "Zola", "Germinal", "Éditions Charpentier").await;
    let second = add_book(&app, "ÉMILE", "ZOLA", "GERMINAL", "éditions charpentier").await;
    assert_eq!(first["outcome"], "CREATED");
    assert_eq!(second["outcome"], "ALREADY_EXISTED");
    assert_eq!(second["book"]["author"]["name"], "Émile Zola");
    assert_eq!(totals(&app).await, [1, 1, 1, 1]);
}

#[tokio::test]
async fn empty_names_are_bad_user_input_and_write_nothing() {
    let app = TestApp::spawn().await;
    let before = totals(&app).await;
    let cases = [
        ("", "King", "Title", "Publisher", "input.authorFirstName"),
        (
            "Stephen",
            "  ",
            "Title",
            "Publisher",
            "input.authorLastName",
        ),
        ("Stephen", "King", "\n\t", "Publisher", "input.title"),
        ("Stephen", "King", "Title", "", "input.publisherName"),
    ];
    for (first, last, title, publisher, field) in cases {
        let response = app
            .post_graphql(
                "mutation($input: AddBookInput!) { addBook(input: $input) { outcome } }",
                json!({ "input": {
                    "authorFirstName": first, "authorLastName": last,
                    "title": title, "publisherName": publisher,
                } }),
            )
            .await;
        let error = &response["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{field}: {response}"
        );
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{field}: {response}"
        );
    }
    assert_eq!(totals(&app).await, before);
}

#[tokio::test]
async fn a_write_is_visible_to_the_very_next_query() {
    let app = TestApp::spawn().await;
    let query = r#"{ authors(filter: {nameContains: "king"}) { nodes { bookCount } } }"#;
    assert_eq!(app.data(query).await["authors"]["nodes"][0]["bookCount"], 3);
    add_book(&app, "Stephen", "King", "Carrie", "Doubleday").await;
    assert_eq!(app.data(query).await["authors"]["nodes"][0]["bookCount"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_calls_create_one_author_and_one_publisher() {
    let app = TestApp::spawn().await;
    let calls = (0..200).map(|call| {
        let app = &app;
        async move {
            // A few titles repeat, so some calls race on the same book too.
            let title = format!("Concurrent Book {}", call % 50);
            app.post_graphql(
                "mutation($input: AddBookInput!) { addBook(input: $input) { outcome } }",
                json!({ "input": {
                    "authorFirstName": "Brand", "authorLastName": "New",
                    "title": title, "publisherName": "Fresh Press",
                } }),
            )
            .await
        }
    });
    let responses: Vec<Value> = futures_util::future::join_all(calls).await;
    for response in &responses {
        assert!(response.get("errors").is_none(), "{response}");
    }
    let created = responses
        .iter()
        .filter(|response| response["data"]["addBook"]["outcome"] == "CREATED")
        .count();
    assert_eq!(created, 50, "one call per distinct title creates it");
    let data = app
        .data(r#"{ authors(filter: {nameContains: "brand new"}) { totalCount nodes { bookCount } }
                   publishers(filter: {nameContains: "fresh press"}) { totalCount nodes { bookCount authorCount } } }"#)
        .await;
    assert_eq!(
        data,
        json!({
            "authors": {"totalCount": 1, "nodes": [{"bookCount": 50}]},
            "publishers": {"totalCount": 1, "nodes": [{"bookCount": 50, "authorCount": 1}]},
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn books_created_together_each_answer_with_their_own_id() {
    // Arrange: the writer is held up so the calls below queue behind it and run together;
    // one names an existing book, so the new books' ids are not those of the lot's entries.
    let app = TestApp::spawn().await;
    add_book(&app, "Stephen", "King", "Carrie", "Random House").await;
    let lock = app.hold_write_lock().await;
    let mut titles: Vec<String> = (0..12).map(|n| format!("Lot Title {n}")).collect();
    titles.insert(5, "carrie".to_owned());

    // Act
    let app = &app;
    let answers = titles.iter().map(|title| async move {
        app.data_with(
            "mutation($input: AddBookInput!) { addBook(input: $input) { book { id title } } }",
            json!({ "input": {
                "authorFirstName": "Stephen", "authorLastName": "King",
                "title": title, "publisherName": "Random House",
            } }),
        )
        .await
    });
    let (answers, ()) = tokio::join!(futures_util::future::join_all(answers), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        lock.release().await;
    });

    // Assert: each id reads back the book of the call's own title.
    for (title, answer) in titles.iter().zip(&answers) {
        let book = &answer["addBook"]["book"];
        let stored = app
            .data_with(
                "query($id: ID!) { book(id: $id) { title } }",
                json!({ "id": book["id"] }),
            )
            .await;
        assert_eq!(stored["book"]["title"], book["title"], "{answer}");
        assert!(
            book["title"].as_str().unwrap().eq_ignore_ascii_case(title),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_queued_together_get_the_outcomes_they_would_get_one_by_one() {
    // Arrange: a book and both publishers exist; the writer is held up so the calls below
    // queue behind it and run together.
    let app = TestApp::spawn().await;
    add_book(&app, "Queued", "Writer", "Old Title", "Press One").await;
    add_book(&app, "Queued", "Writer", "Other", "Press Two").await;
    let lock = app.hold_write_lock().await;
    let mut calls = vec![
        ("Queued", "Twice", "Press One", "CREATED"),
        ("Queued", "twice", "Press One", "ALREADY_EXISTED"),
        ("Queued", "TWICE", "Press One", "ALREADY_EXISTED"),
        ("Queued", "Both", "Press One", "CREATED"),
        ("Queued", "Both", "Press Two", "PUBLISHER_ADDED"),
        ("Queued", "old title", "Press One", "ALREADY_EXISTED"),
        ("Queued", "OLD TITLE", "Press Two", "PUBLISHER_ADDED"),
        ("Newcomer", "Debut", "Press Two", "CREATED"),
    ];
    let titles: Vec<String> = (0..10).map(|n| format!("New {n}")).collect();
    calls.extend(
        titles
            .iter()
            .map(|title| ("Queued", title.as_str(), "Press One", "CREATED")),
    );

    // Act
    let app = &app;
    let answers = calls.iter().map(|(first, title, publisher, _)| async move {
        add_book(app, first, "Writer", title, publisher).await
    });
    let (answers, ()) = tokio::join!(futures_util::future::join_all(answers), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        lock.release().await;
    });

    // Assert: whichever call of a repeated title ran first created it.
    let mut outcomes: Vec<(String, String)> = calls
        .iter()
        .zip(&answers)
        .map(|((_, title, _, _), answer)| {
            (
                title.to_lowercase(),
                answer["outcome"].as_str().unwrap_or("none").to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = calls
        .iter()
        .map(|(_, title, _, outcome)| (title.to_lowercase(), (*outcome).to_owned()))
        .collect();
    outcomes.sort();
    expected.sort();
    assert_eq!(outcomes, expected, "{answers:#?}");
    for ((_, title, _, _), answer) in calls.iter().zip(&answers) {
        if title.eq_ignore_ascii_case("old title") {
            assert_eq!(
                answer["book"]["title"], "Old Title",
                "the stored spelling stays"
            );
        }
        let newcomer = answer["book"]["author"]["name"] == "Newcomer Writer";
        assert_eq!(answer["authorCreated"], newcomer, "{answer}");
    }
    crate::helpers::assert_counts_match_rows(app).await;
}
