//! Several bookgraph processes on one PostgreSQL database, and catalogues moved between
//! the backends. These need a PostgreSQL server: they run when `BOOKGRAPH_TEST_POSTGRES`
//! names one (as `.ci/run` does) and say so and pass when it does not.

use std::process::Command;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{
    POSTGRES_ENV, TUTORIAL_CSV, any_pool, create_postgres_database, postgres_admin_url,
};
use crate::server::Server;
use crate::subscriptions::{Received, Socket, TRANSPORT_WS};

const ADD_BOOK: &str = "mutation($input: AddBookInput!) {
    addBook(input: $input) { outcome authorCreated publisherCreated book { title } }
}";

/// The PostgreSQL server to test against, or `None` after saying the test is skipped.
fn postgres(test: &str) -> Option<String> {
    let admin = postgres_admin_url();
    if admin.is_none() {
        eprintln!("{test}: skipped, set {POSTGRES_ENV} to a PostgreSQL URL to run it");
    }
    admin
}

/// Starts two replicas on one new PostgreSQL database at the same moment: both find it
/// empty, both migrate and seed it with the tutorial's data.
async fn two_replicas(admin: &str) -> (String, Server, Server) {
    let url = create_postgres_database(admin).await;
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| Server::start(&url));
        let b = scope.spawn(|| Server::start(&url));
        (a.join().unwrap(), b.join().unwrap())
    });
    (url, a, b)
}

async fn post(client: &reqwest::Client, server: &Server, query: &str, variables: Value) -> Value {
    let response = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request reaches the replica");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON response")
}

fn add_book_input(title: &str) -> Value {
    json!({ "input": {
        "authorFirstName": "Octavia", "authorLastName": "Butler",
        "title": title, "publisherName": "Seven Stories",
    } })
}

#[tokio::test]
async fn concurrent_add_books_over_two_replicas_create_one_author_and_one_publisher() {
    let Some(admin) = postgres("concurrent_add_books_over_two_replicas") else {
        return;
    };
    let (url, a, b) = two_replicas(&admin).await;
    let client = reqwest::Client::new();
    let calls = (0..200).map(|n| {
        let replica = if n % 2 == 0 { &a } else { &b };
        let client = &client;
        async move {
            post(
                client,
                replica,
                ADD_BOOK,
                add_book_input(&format!("Kindred {n}")),
            )
            .await
        }
    });
    let responses = join_all(calls).await;
    for response in &responses {
        assert!(response.get("errors").is_none(), "{response}");
        assert_eq!(response["data"]["addBook"]["outcome"], "CREATED");
    }
    let created = |flag: &str| {
        responses
            .iter()
            .filter(|response| response["data"]["addBook"][flag] == true)
            .count()
    };
    assert_eq!(created("authorCreated"), 1, "one call created the author");
    assert_eq!(
        created("publisherCreated"),
        1,
        "one call created the publisher"
    );

    for replica in [&a, &b] {
        let data = post(
            &client,
            replica,
            r#"{
                authors(filter: {nameContains: "octavia butler"}) { totalCount nodes { bookCount } }
                publishers(filter: {nameContains: "seven stories"}) {
                    totalCount nodes { bookCount authorCount }
                }
                everyone: authors { totalCount }
            }"#,
            json!({}),
        )
        .await;
        let data = &data["data"];
        assert_eq!(data["authors"]["totalCount"], 1, "{data}");
        assert_eq!(data["authors"]["nodes"][0]["bookCount"], 200, "{data}");
        assert_eq!(data["publishers"]["totalCount"], 1, "{data}");
        assert_eq!(data["publishers"]["nodes"][0]["bookCount"], 200, "{data}");
        assert_eq!(data["publishers"]["nodes"][0]["authorCount"], 1, "{data}");
        // The tutorial's seven authors were loaded once, not once per replica.
        assert_eq!(data["everyone"]["totalCount"], 8, "{data}");
    }
    let pool = any_pool(&url).await;
    let rows: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from author), (select count(*) from publisher),
                (select count(*) from book)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, (8, 5, 210));
}

#[tokio::test]
async fn a_subscriber_on_one_replica_sees_a_book_added_through_the_other() {
    let Some(admin) = postgres("a_subscriber_on_one_replica_sees") else {
        return;
    };
    let (_url, a, b) = two_replicas(&admin).await;
    let mut socket = Socket::open(a.address(), TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(
            TRANSPORT_WS,
            "added",
            "subscription { bookAdded { title author { name } publishers { name } } }",
        )
        .await;
    let client = reqwest::Client::new();
    // The subscription starts listening a moment after `subscribe` is sent; books keep
    // coming through the other replica until one arrives.
    let mut added = Vec::new();
    let message = loop {
        assert!(
            added.len() < 20,
            "no book reached the subscriber: {added:?}"
        );
        let title = format!("Parable {}", added.len());
        let response = post(&client, &b, ADD_BOOK, add_book_input(&title)).await;
        assert!(response.get("errors").is_none(), "{response}");
        added.push(title);
        if let Some(message) = socket.receive(Duration::from_millis(500)).await {
            break message;
        }
    };
    let Received::Json(message) = message else {
        panic!("the subscription ended: {message:?}");
    };
    assert_eq!(message["type"], "next", "{message}");
    let book = &message["payload"]["data"]["bookAdded"];
    assert_eq!(
        book["title"], added[0],
        "the first book added is the first announced"
    );
    assert_eq!(book["author"]["name"], "Octavia Butler");
    assert_eq!(book["publishers"], json!([{ "name": "Seven Stories" }]));
}

/// Runs the `bookgraph` command on `database_url`; returns its standard output.
fn bookgraph(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_bookgraph"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "off")
        .output()
        .expect("run bookgraph");
    assert!(output.status.success(), "bookgraph {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[tokio::test]
async fn a_catalogue_moves_from_sqlite_to_postgres_and_back_unchanged() {
    let Some(admin) = postgres("a_catalogue_moves_from_sqlite_to_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Generated names plus the spellings where byte order, locales and case folding part
    // ways: accents, upper and lower case initials, a name that differs only in case.
    let mut generated = Vec::new();
    bookgraph::generate::generate_csv(300, 7, &mut generated).unwrap();
    let extra = "\nÉmile,Zola,Germinal,Éditions Bleues\n\
                 émile,zola,l'Assommoir,éditions bleues\n\
                 ada,lovelace,notes,apple Press\n\
                 Zoë,Ångström,Über Alles,Zebra Books\n";
    let source = dir.path().join("source.csv");
    let csv = format!(
        "{}{extra}{}",
        String::from_utf8(generated).unwrap().trim_end(),
        TUTORIAL_CSV.lines().skip(1).collect::<Vec<_>>().join("\n")
    );
    std::fs::write(&source, csv).unwrap();

    let sqlite = format!("sqlite:{}", dir.path().join("first.db").display());
    let postgres = create_postgres_database(&admin).await;
    let back = format!("sqlite:{}", dir.path().join("back.db").display());
    bookgraph(&sqlite, &["import", source.to_str().unwrap()]);
    let from_sqlite = bookgraph(&sqlite, &["export"]);

    let moved = dir.path().join("moved.csv");
    std::fs::write(&moved, &from_sqlite).unwrap();
    bookgraph(&postgres, &["import", moved.to_str().unwrap()]);
    let from_postgres = bookgraph(&postgres, &["export"]);
    assert_eq!(
        from_postgres, from_sqlite,
        "PostgreSQL exports what SQLite did"
    );

    std::fs::write(&moved, &from_postgres).unwrap();
    bookgraph(&back, &["import", moved.to_str().unwrap()]);
    assert_eq!(
        bookgraph(&back, &["export"]),
        from_sqlite,
        "and SQLite again"
    );

    assert_eq!(
        bookgraph(&postgres, &["report"]),
        bookgraph(&sqlite, &["report"]),
        "the reports agree too"
    );
    assert!(from_sqlite.contains("Émile,Zola,Germinal,Éditions Bleues"));
    assert!(
        !from_sqlite.contains("émile,zola"),
        "case variants are one author"
    );
}

#[tokio::test]
async fn a_replica_whose_database_goes_away_turns_unready_promptly() {
    let Some(admin) = postgres("a_replica_whose_database_goes_away") else {
        return;
    };
    let url = create_postgres_database(&admin).await;
    let server = Server::start(&url);
    let client = reqwest::Client::new();
    let ready = client.get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let name = url.rsplit('/').next().unwrap().to_owned();
    let mut admin_pool = any_pool(&admin).await.acquire().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database {name} with (force)"
    )))
    .execute(&mut *admin_pool)
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let ready = client.get(server.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        started.elapsed()
    );
    let health = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is still up");
}
