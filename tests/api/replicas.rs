//! Several bookgraph processes on one PostgreSQL database, and catalogues moved between
//! the backends. These need a PostgreSQL server: they run when `BOOKGRAPH_TEST_POSTGRES`
//! names one (as `.ci/run` does) and say so and pass when it does not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{
    POSTGRES_ENV, TUTORIAL_CSV, TestDatabase, any_pool, assert_counts_match_url, bookgraph,
    postgres_admin_url, stdout,
};
use crate::server::Server;
use crate::subscriptions::{Received, Socket, TRANSPORT_WS};

const ADD_BOOK: &str = "mutation($input: AddBookInput!) {
    addBook(input: $input) { outcome authorCreated publisherCreated book { title } }
}";

/// The PostgreSQL server to test against, or `None` after saying the test is skipped.
pub(crate) fn postgres(test: &str) -> Option<String> {
    let admin = postgres_admin_url();
    if admin.is_none() {
        eprintln!("{test}: skipped, set {POSTGRES_ENV} to a PostgreSQL URL to run it");
    }
    admin
}

/// A replica with a small pool, as the suite starts many servers.
fn replica(url: &str) -> Server {
    Server::start_with(url, &["--pool-size", "2"])
}

/// Starts two replicas on one new PostgreSQL database at the same moment: both find it
/// empty, both migrate and seed it with the tutorial's data.
pub(crate) async fn two_replicas(admin: &str) -> (TestDatabase, Server, Server) {
    let database = TestDatabase::postgres(admin).await;
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| replica(&database.url));
        let b = scope.spawn(|| replica(&database.url));
        (a.join().unwrap(), b.join().unwrap())
    });
    (database, a, b)
}

pub(crate) async fn post(
    client: &reqwest::Client,
    server: &Server,
    query: &str,
    variables: Value,
) -> Value {
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
    add_book_at(title, "Seven Stories")
}

fn add_book_at(title: &str, publisher: &str) -> Value {
    json!({ "input": {
        "authorFirstName": "Octavia", "authorLastName": "Butler",
        "title": title, "publisherName": publisher,
    } })
}

/// Runs `calls` at once, alternating between the two replicas; every one must succeed.
async fn spread(client: &reqwest::Client, a: &Server, b: &Server, calls: Vec<Value>) -> Vec<Value> {
    let requests = calls.into_iter().enumerate().map(|(n, variables)| {
        let replica = if n % 2 == 0 { a } else { b };
        async move { post(client, replica, ADD_BOOK, variables).await }
    });
    let responses = join_all(requests).await;
    for response in &responses {
        assert!(response.get("errors").is_none(), "{response}");
    }
    responses
}

#[tokio::test]
async fn concurrent_add_books_over_two_replicas_create_one_author_and_one_publisher() {
    let Some(admin) = postgres("concurrent_add_books_over_two_replicas") else {
        return;
    };
    let (database, a, b) = two_replicas(&admin).await;
    let client = reqwest::Client::new();
    let calls = (0..200)
        .map(|n| add_book_input(&format!("Kindred {n}")))
        .collect();
    let responses = spread(&client, &a, &b, calls).await;
    for response in &responses {
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
    let pool = any_pool(&database.url).await;
    let rows: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from author), (select count(*) from publisher),
                (select count(*) from book)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, (8, 5, 210));

    // The same 200 books, now at a second publisher: links to existing books of one author
    // race to count that author at the new publisher, and must count it once.
    let calls = (0..200)
        .map(|n| add_book_at(&format!("Kindred {n}"), "Beacon"))
        .collect();
    for response in spread(&client, &a, &b, calls).await {
        assert_eq!(response["data"]["addBook"]["outcome"], "PUBLISHER_ADDED");
    }
    let data = post(
        &client,
        &b,
        r#"{ publishers(filter: {nameContains: "beacon"}) { nodes { bookCount authorCount } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        data["data"]["publishers"]["nodes"],
        json!([{ "bookCount": 200, "authorCount": 1 }])
    );
    assert_counts_match_url(&database.url).await;
}

#[tokio::test]
async fn a_subscriber_on_one_replica_sees_a_book_added_through_the_other() {
    let Some(admin) = postgres("a_subscriber_on_one_replica_sees") else {
        return;
    };
    let (_database, a, b) = two_replicas(&admin).await;
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
    let book = |message: Option<Received>| match message {
        Some(Received::Json(message)) if message["type"] == "next" => {
            message["payload"]["data"]["bookAdded"].clone()
        }
        other => panic!("expected a book, got {other:?}"),
    };
    let first = book(Some(message));
    let announced_at = added
        .iter()
        .position(|title| first["title"] == title.as_str())
        .unwrap_or_else(|| panic!("{first} is none of {added:?}"));
    assert_eq!(first["author"]["name"], "Octavia Butler");
    assert_eq!(first["publishers"], json!([{ "name": "Seven Stories" }]));
    // Live now: every book added after the first one announced comes once, in order, and
    // so does the next one, its title as written: quotes and backslashes reach the
    // notification's payload inside its statement's text.
    let last = r#"Parable's "last" \ word \'"#;
    post(&client, &b, ADD_BOOK, add_book_input(last)).await;
    added.push(last.to_owned());
    for title in &added[announced_at + 1..] {
        let next = book(socket.receive(Duration::from_secs(10)).await);
        assert_eq!(next["title"], title.as_str());
    }
    assert_eq!(
        socket.receive(Duration::from_millis(500)).await,
        None,
        "nothing twice"
    );
}

#[tokio::test]
async fn a_catalogue_moves_from_sqlite_to_postgres_and_back_unchanged() {
    let Some(admin) = postgres("a_catalogue_moves_from_sqlite_to_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Generated names plus the spellings where byte order, locales and case folding part
    // ways: accents, upper and lower case initials, a name that differs only in case; and
    // an author and a publisher without books.
    let mut generated = Vec::new();
    bookgraph::generate::generate_csv(300, 7, &mut generated).unwrap();
    let extra = "\nÉmile,Zola,Germinal,Éditions Bleues\n\
                 émile,zola,l'Assommoir,éditions bleues\n\
                 ada,lovelace,notes,apple Press\n\
                 Zoë,Ångström,Über Alles,Zebra Books\n\
                 Virginia,Woolf,,\n\
                 ,,,Hogarth Press\n";
    let source = dir.path().join("source.csv");
    let csv = format!(
        "{}{extra}{}",
        String::from_utf8(generated).unwrap().trim_end(),
        TUTORIAL_CSV.lines().skip(1).collect::<Vec<_>>().join("\n")
    );
    std::fs::write(&source, csv).unwrap();

    let sqlite = format!("sqlite:{}", dir.path().join("first.db").display());
    let database = TestDatabase::postgres(&admin).await;
    let postgres = database.url.clone();
    let back = format!("sqlite:{}", dir.path().join("back.db").display());
    stdout(&bookgraph(&sqlite, &["import", source.to_str().unwrap()]));
    let from_sqlite = stdout(&bookgraph(&sqlite, &["export"]));
    for alone in ["\nVirginia,Woolf,,\n", "\n,,,Hogarth Press\n"] {
        assert!(from_sqlite.contains(alone), "{alone:?} exported");
    }

    let moved = dir.path().join("moved.csv");
    std::fs::write(&moved, &from_sqlite).unwrap();
    stdout(&bookgraph(&postgres, &["import", moved.to_str().unwrap()]));
    let from_postgres = stdout(&bookgraph(&postgres, &["export"]));
    assert_eq!(
        from_postgres, from_sqlite,
        "PostgreSQL exports what SQLite did"
    );

    std::fs::write(&moved, &from_postgres).unwrap();
    stdout(&bookgraph(&back, &["import", moved.to_str().unwrap()]));
    assert_eq!(
        stdout(&bookgraph(&back, &["export"])),
        from_sqlite,
        "and SQLite again"
    );

    assert_eq!(
        stdout(&bookgraph(&postgres, &["report"])),
        stdout(&bookgraph(&sqlite, &["report"])),
        "the reports agree too"
    );
    assert!(from_sqlite.contains("Émile,Zola,Germinal,Éditions Bleues"));
    assert!(
        !from_sqlite.contains("émile,zola"),
        "case variants are one author"
    );
}

/// A TCP relay to PostgreSQL that can stop passing bytes on, as a database server that
/// hangs would, without closing any connection.
struct Relay {
    port: u16,
    stalled: Arc<AtomicBool>,
}

impl Relay {
    async fn to(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let stall = Arc::clone(&stalled);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (from_client, to_client) = inbound.into_split();
                let (from_server, to_server) = outbound.into_split();
                tokio::spawn(pass_on(from_client, to_server, Arc::clone(&stall)));
                tokio::spawn(pass_on(from_server, to_client, Arc::clone(&stall)));
            }
        });
        Relay { port, stalled }
    }

    fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

async fn pass_on(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
}

// Several threads: the relay must pass bytes on while the test waits for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_database_hangs_turns_unready_and_back() {
    let Some(admin) = postgres("a_replica_whose_database_hangs") else {
        return;
    };
    let database = TestDatabase::postgres(&admin).await;
    let mut through_relay = reqwest::Url::parse(&database.url).unwrap();
    let target = format!(
        "{}:{}",
        through_relay.host_str().unwrap(),
        through_relay.port().unwrap_or(5432)
    );
    let relay = Relay::to(target).await;
    through_relay.set_port(Some(relay.port)).unwrap();
    let server = tokio::task::spawn_blocking(move || replica(through_relay.as_str()))
        .await
        .unwrap();
    // Longer than /ready's own limit, far shorter than the pool's 30 s acquire timeout.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let ready = || async {
        client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(ready().await, 200);

    relay.stall(true);
    assert_eq!(
        ready().await,
        503,
        "a hanging database is reported, not waited for"
    );
    let health = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is up");

    relay.stall(false);
    let mut status = ready().await;
    for _ in 0..50 {
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = ready().await;
    }
    assert_eq!(status, 200, "ready again once the database answers");
}

#[tokio::test]
async fn reading_commands_create_no_catalogue_in_an_empty_database() {
    let Some(admin) = postgres("reading_commands_create_no_catalogue") else {
        return;
    };
    let database = TestDatabase::postgres(&admin).await;
    for command in ["report", "export"] {
        let output = bookgraph(&database.url, &[command]);
        assert!(!output.status.success(), "{command}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no bookgraph catalogue"),
            "{command}: {stderr}"
        );
    }
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = 'public'",
    )
    .fetch_one(&any_pool(&database.url).await)
    .await
    .unwrap();
    assert_eq!(tables, 0, "the database is as empty as before");
}
