//! Two replicas writing at once to one PostgreSQL database, with no lock between them:
//! mutations on the same few authors and publishers leave every stored count equal to a
//! recount, one row per name, and no client sees the races. Runs when
//! `BOOKGRAPH_TEST_POSTGRES` names a server, and says it is skipped otherwise.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, any_pool, assert_counts_match_rows, assert_counts_match_url};
use crate::replicas::{postgres, two_replicas};
use crate::server::Server;

const ADD_BOOK: &str = "mutation($input: AddBookInput!) {
    addBook(input: $input) { outcome authorCreated publisherCreated book { id } }
}";
const ADD_PUBLISHER: &str = "mutation($input: BookPublisherInput!) {
    addBookPublisher(input: $input) { added }
}";
const REMOVE_PUBLISHER: &str = "mutation($input: BookPublisherInput!) {
    removeBookPublisher(input: $input) { book { id } }
}";

/// Authors the calls share: three written in before the race, two new in it.
const AUTHORS: [(&str, &str); 5] = [
    ("Ursula", "Le Guin"),
    ("Ted", "Chiang"),
    ("N. K.", "Jemisin"),
    ("Ann", "Leckie"),
    ("Becky", "Chambers"),
];
/// Publishers the calls share: four written in before the race, one new in it.
const PUBLISHERS: [&str; 5] = ["Tor", "Orbit", "Gollancz", "Saga Press", "Tachyon"];

/// Seeded books whose two publishers are removed at once: one removal wins.
const RACED: usize = 50;
/// Seeded books that gain a third publisher while losing their first.
const MOVED: usize = 50;
/// New titles, each added at two publishers at once.
const FRESH: usize = 100;

/// `name` as a caller might type it: the same key, another spelling.
fn spelled(name: &str, n: usize) -> String {
    match n % 3 {
        0 => name.to_owned(),
        1 => name.to_uppercase(),
        _ => name.to_lowercase(),
    }
}

fn add_book_input(title: &str, author: usize, publisher: usize, n: usize) -> Value {
    let (first, last) = AUTHORS[author];
    json!({ "input": {
        "authorFirstName": spelled(first, n), "authorLastName": spelled(last, n),
        "title": title, "publisherName": spelled(PUBLISHERS[publisher], n),
    } })
}

/// One call of the race: a replica, a document and its variables.
struct Call<'a> {
    replica: &'a Server,
    query: &'static str,
    variables: Value,
}

/// `query` on `replica`: the GraphQL response, whatever the HTTP status says.
async fn post(client: &reqwest::Client, replica: &Server, query: &str, variables: Value) -> Value {
    let response = client
        .post(replica.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request reaches the replica");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON response");
    assert_eq!(status, 200, "{body}");
    body
}

async fn counts(url: &str) -> (i64, i64, i64, i64) {
    let pool = any_pool(url).await;
    sqlx::query_as(
        "select (select count(*) from author), (select count(*) from publisher),
                (select count(*) from book), (select count(*) from book_publisher)",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hundred_writes_over_two_replicas_keep_every_count_and_name_right() {
    let Some(admin) = postgres("four_hundred_writes_over_two_replicas") else {
        return;
    };
    let (database, a, b) = two_replicas(&admin).await;
    let client = reqwest::Client::new();
    let before = counts(&database.url).await;

    // Arrange: books of the first three authors at two of the first four publishers each.
    let seeded = (0..RACED + MOVED).map(|n| {
        let (client, replica) = (&client, if n % 2 == 0 { &a } else { &b });
        async move {
            let title = format!("Seeded {n}");
            let mut id = Value::Null;
            for publisher in [n % 4, (n + 1) % 4] {
                let input = add_book_input(&title, n % 3, publisher, n);
                let response = post(client, replica, ADD_BOOK, input).await;
                assert!(response.get("errors").is_none(), "{response}");
                id = response["data"]["addBook"]["book"]["id"].clone();
            }
            id
        }
    });
    let books = join_all(seeded).await;
    let listed = post(
        &client,
        &a,
        "{ publishers(first: 20) { nodes { id name } } }",
        json!({}),
    )
    .await;
    let publisher_id: HashMap<String, Value> = listed["data"]["publishers"]["nodes"]
        .as_array()
        .expect("publishers")
        .iter()
        .map(|node| {
            (
                node["name"].as_str().unwrap().to_lowercase(),
                node["id"].clone(),
            )
        })
        .collect();
    let link = |book: usize, publisher: usize| json!({ "input": { "bookId": books[book], "publisherId": publisher_id[&PUBLISHERS[publisher].to_lowercase()] } });

    // Act: 400 calls at once, spread over both replicas, in an order that mixes the kinds.
    let mut calls = Vec::new();
    for n in 0..RACED {
        for publisher in [n % 4, (n + 1) % 4] {
            calls.push((REMOVE_PUBLISHER, link(n, publisher)));
        }
    }
    for n in RACED..RACED + MOVED {
        calls.push((ADD_PUBLISHER, link(n, (n + 2) % 4)));
        calls.push((REMOVE_PUBLISHER, link(n, n % 4)));
    }
    for n in 0..FRESH {
        let title = format!("Fresh {n}");
        for publisher in [n % 5, (n + 1) % 5] {
            calls.push((
                ADD_BOOK,
                add_book_input(&title, n % 5, publisher, n + publisher),
            ));
        }
    }
    assert_eq!(calls.len(), 400);
    let order: Vec<usize> = (0..calls.len()).map(|k| k * 163 % calls.len()).collect();
    let calls: Vec<Call> = order
        .iter()
        .map(|&k| Call {
            replica: if k % 2 == 0 { &a } else { &b },
            query: calls[k].0,
            variables: calls[k].1.clone(),
        })
        .collect();
    let answers = join_all(
        calls
            .iter()
            .map(|call| post(&client, call.replica, call.query, call.variables.clone())),
    )
    .await;
    let mut answer = vec![Value::Null; answers.len()];
    for (&k, reply) in order.iter().zip(answers) {
        answer[k] = reply;
    }

    // Assert: of each raced pair, exactly one removal won and the other was refused as the
    // book's last publisher; every other call succeeded as it would have alone.
    for n in 0..RACED {
        let pair = [&answer[2 * n], &answer[2 * n + 1]];
        let refused: Vec<&Value> = pair
            .iter()
            .filter_map(|reply| reply.get("errors"))
            .collect();
        assert_eq!(
            refused.len(),
            1,
            "one removal of book {n}'s two is refused: {pair:?}"
        );
        assert_eq!(refused[0][0]["extensions"]["code"], "CONFLICT", "{pair:?}");
    }
    for n in RACED..RACED + MOVED {
        let (added, removed) = (&answer[2 * n], &answer[2 * n + 1]);
        assert_eq!(added["data"]["addBookPublisher"]["added"], true, "{added}");
        assert!(removed.get("errors").is_none(), "{removed}");
    }
    let fresh = &answer[2 * (RACED + MOVED)..];
    for (n, pair) in fresh.chunks(2).enumerate() {
        let mut outcomes: Vec<&str> = pair
            .iter()
            .map(|reply| {
                assert!(reply.get("errors").is_none(), "{reply}");
                reply["data"]["addBook"]["outcome"].as_str().unwrap()
            })
            .collect();
        outcomes.sort_unstable();
        assert_eq!(outcomes, ["CREATED", "PUBLISHER_ADDED"], "Fresh {n}");
    }
    let created = |flag: &str| {
        fresh
            .iter()
            .filter(|reply| reply["data"]["addBook"][flag] == true)
            .count()
    };
    assert_eq!(
        created("authorCreated"),
        2,
        "each new author was created once"
    );
    assert_eq!(
        created("publisherCreated"),
        1,
        "the new publisher was created once"
    );

    let after = counts(&database.url).await;
    let books = (RACED + MOVED + FRESH) as i64;
    let links = 2 * (RACED + MOVED) as i64 - RACED as i64 + 2 * FRESH as i64;
    assert_eq!(
        (
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2,
            after.3 - before.3
        ),
        (5, 5, books, links),
        "one row per name, every book and link accounted for"
    );
    let pool = any_pool(&database.url).await;
    let unpublished: i64 = sqlx::query_scalar(
        "select count(*) from book b where not exists (select 1 from book_publisher bp where bp.book_id = b.id)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unpublished, 0, "every book kept a publisher");
    assert_counts_match_url(&database.url).await;
    assert_parts_fold_into_rows(&database.url).await;
}

/// The count parts that writers leave beside the rows are folded into the rows' columns
/// within seconds once writes stop (each replica folds every second while it writes), and
/// the columns alone then equal a recount.
async fn assert_parts_fold_into_rows(url: &str) {
    let pool = any_pool(url).await;
    let mut parts = -1;
    for _ in 0..100 {
        parts = sqlx::query_scalar(
            "select (select count(*) from author_count_part)
                  + (select count(*) from publisher_count_part)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if parts == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(parts, 0, "every count part folded within 10 s");
    let drifted: i64 = sqlx::query_scalar(
        "select
            (select count(*) from author a
             where a.book_count <> (select count(*) from book b where b.author_id = a.id))
          + (select count(*) from publisher p
             where p.book_count <> (select count(*) from book_publisher bp
                                    where bp.publisher_id = p.id)
                or p.author_count <> (select count(*) from publisher_author pa
                                      where pa.publisher_id = p.id))",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(drifted, 0, "the rows' own columns equal a recount");
}

/// A link added while its book's author is being renamed files the author at the publisher
/// under the name the author ends up with: the link waits for the rename and reads its
/// result, where it used to copy the old name into the new (publisher, author) pair.
#[tokio::test]
async fn a_link_added_during_a_rename_files_the_author_under_the_new_name() {
    const TEST: &str = "a_link_added_during_a_rename_files_the_author_under_the_new_name";
    if postgres(TEST).is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let found = app
        .data(r#"{ books(filter: {titleContains: "Foundation"}) { nodes { id author { id } } } }"#)
        .await;
    let book = found["books"]["nodes"][0].clone();
    let author: i64 = book["author"]["id"].as_str().unwrap().parse().unwrap();
    let created = app
        .data_with(
            "mutation($input: CreatePublisherInput!) { createPublisher(input: $input) { publisher { id } } }",
            json!({ "input": { "name": "Gnome Press" } }),
        )
        .await;
    let publisher = created["createPublisher"]["publisher"]["id"].clone();

    // Another writer renames the author and holds its transaction open.
    let pool = any_pool(&app.database_url).await;
    let mut rename = pool.begin().await.unwrap();
    sqlx::query("update author set first_name = 'Isaak', first_name_key = 'isaak' where id = $1")
        .bind(author)
        .execute(&mut *rename)
        .await
        .unwrap();
    let link = app.data_with(
        ADD_PUBLISHER,
        json!({ "input": { "bookId": book["id"], "publisherId": publisher } }),
    );
    // Committed once the link waits for it, as it must; a link that does not wait (the
    // fault) has then finished with the old name long before the commit.
    let commit_later = async {
        for _ in 0..50 {
            let waiting: i64 = sqlx::query_scalar(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        rename.commit().await.unwrap();
    };
    let (linked, ()) = tokio::join!(link, commit_later);

    assert_eq!(linked["addBookPublisher"]["added"], true, "{linked}");
    assert_counts_match_rows(&app).await;
}
