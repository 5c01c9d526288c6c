//! The tutorial's reports, asked as GraphQL.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{TUTORIAL_CSV, TestApp};

fn name_and(value: &Value, field: &str) -> (String, i64) {
    (
        value["name"].as_str().expect("name").to_owned(),
        value[field].as_i64().expect("count"),
    )
}

#[tokio::test]
async fn books_per_publisher_match_the_tutorial() {
    let app = TestApp::spawn().await;
    let data = app
        .data("{ publishers(orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount } } }")
        .await;
    let counts: Vec<_> = data["publishers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publisher| name_and(publisher, "bookCount"))
        .collect();
    // Ties go by name, as the contract's order promises.
    let expected = [
        ("Random House", 4),
        ("Simon & Schuster", 4),
        ("Berkley", 2),
        ("Penguin Random House", 2),
    ]
    .map(|(name, count)| (name.to_owned(), count));
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn authors_per_publisher_match_the_tutorial() {
    let app = TestApp::spawn().await;
    let data = app
        .data("{ publishers(orderBy: {field: AUTHOR_COUNT, direction: DESC}) { nodes { name authorCount } } }")
        .await;
    let counts: Vec<_> = data["publishers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|publisher| name_and(publisher, "authorCount"))
        .collect();
    let expected = [
        ("Simon & Schuster", 4),
        ("Random House", 3),
        ("Berkley", 2),
        ("Penguin Random House", 1),
    ]
    .map(|(name, count)| (name.to_owned(), count));
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn books_per_author_match_the_tutorial() {
    let app = TestApp::spawn().await;
    let data = app
        .data("{ authors(orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount } } }")
        .await;
    let counts: Vec<_> = data["authors"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|author| name_and(author, "bookCount"))
        .collect();
    let expected = [
        ("Stephen King", 3),
        ("Tom Clancy", 2),
        ("Isaac Asimov", 1),
        ("Pearl Buck", 1),
        ("John Le Carre", 1),
        ("Alex Michaelides", 1),
        ("Carol Shaben", 1),
    ]
    .map(|(name, count)| (name.to_owned(), count));
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn the_author_book_publisher_hierarchy_equals_the_csv() {
    let app = TestApp::spawn().await;
    let data = app
        .data("{ authors(first: 100) { nodes { firstName lastName books { title publishers { name } } } } }")
        .await;
    let mut served = BTreeSet::new();
    for author in data["authors"]["nodes"].as_array().unwrap() {
        for book in author["books"].as_array().unwrap() {
            for publisher in book["publishers"].as_array().unwrap() {
                served.insert(
                    [
                        &author["firstName"],
                        &author["lastName"],
                        &book["title"],
                        &publisher["name"],
                    ]
                    .map(|value| value.as_str().unwrap().to_owned()),
                );
            }
        }
    }
    let mut reader = csv::Reader::from_reader(TUTORIAL_CSV.as_bytes());
    let expected: BTreeSet<[String; 4]> = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            [0, 1, 2, 3].map(|column| record[column].to_owned())
        })
        .collect();
    assert_eq!(served, expected);
}

#[tokio::test]
async fn nested_lists_follow_their_documented_order() {
    let app = TestApp::spawn().await;
    let data = app
        .data(
            r#"{ publishers(filter: {nameContains: "simon"}) { nodes {
                books { title author { name } }
                authors { lastName }
            } } }"#,
        )
        .await;
    let publisher = &data["publishers"]["nodes"][0];
    assert_eq!(
        publisher["books"],
        json!([
            {"title": "Into The Abyss", "author": {"name": "Carol Shaben"}},
            {"title": "Patriot Games", "author": {"name": "Tom Clancy"}},
            {"title": "The Good Earth", "author": {"name": "Pearl Buck"}},
            {"title": "The Silent Patient", "author": {"name": "Alex Michaelides"}},
        ])
    );
    assert_eq!(
        publisher["authors"],
        json!([
            {"lastName": "Buck"}, {"lastName": "Clancy"},
            {"lastName": "Michaelides"}, {"lastName": "Shaben"},
        ])
    );
}

#[tokio::test]
async fn nested_first_limits_each_parent_separately() {
    let app = TestApp::spawn().await;
    let data = app
        .data(r#"{ authors(filter: {nameContains: "king"}) { nodes { books(first: 2) { title } publishers(first: 1) { name } } } }"#)
        .await;
    assert_eq!(
        data["authors"]["nodes"][0],
        json!({
            "books": [{"title": "Dead Zone"}, {"title": "It"}],
            "publishers": [{"name": "Penguin Random House"}],
        })
    );
}

#[tokio::test]
async fn an_id_is_a_string_or_an_integer_literal() {
    let app = TestApp::spawn().await;
    let id = app
        .data(r#"{ authors(filter: {nameContains: "asimov"}) { nodes { id } } }"#)
        .await["authors"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_string = app
        .data(&format!(r#"{{ author(id: "{id}") {{ name }} }}"#))
        .await;
    let by_int = app
        .data(&format!("{{ author(id: {id}) {{ name }} }}"))
        .await;
    assert_eq!(by_string, json!({"author": {"name": "Isaac Asimov"}}));
    assert_eq!(by_int, by_string);
}

#[tokio::test]
async fn an_id_that_names_nothing_gives_null() {
    let app = TestApp::spawn().await;
    let data = app
        .data(r#"{ author(id: "999") { name } book(id: 999) { title } publisher(id: "-1") { name } }"#)
        .await;
    assert_eq!(
        data,
        json!({"author": null, "book": null, "publisher": null})
    );
}

#[tokio::test]
async fn a_malformed_id_is_bad_user_input() {
    let app = TestApp::spawn().await;
    for query in [
        r#"{ author(id: "abc") { name } }"#,
        r#"{ book(id: "1.5") { title } }"#,
        r#"{ publisher(id: "") { name } }"#,
        r#"{ books(filter: {authorId: "x"}) { totalCount } }"#,
    ] {
        assert_eq!(app.error_codes(query).await, ["BAD_USER_INPUT"], "{query}");
    }
}

#[tokio::test]
async fn a_book_knows_its_author_and_publishers() {
    let app = TestApp::spawn().await;
    let data = app
        .data(r#"{ books(filter: {titleContains: "good earth"}) { nodes { title author { firstName lastName bookCount } publishers { name bookCount authorCount } } } }"#)
        .await;
    assert_eq!(
        data["books"]["nodes"],
        json!([{
            "title": "The Good Earth",
            "author": {"firstName": "Pearl", "lastName": "Buck", "bookCount": 1},
            "publishers": [
                {"name": "Random House", "bookCount": 4, "authorCount": 3},
                {"name": "Simon & Schuster", "bookCount": 4, "authorCount": 4},
            ],
        }])
    );
}

/// Lists sort by the case-folded keys of names, byte by byte, with or without `first`:
/// lower and upper case together, and a letter with an accent after every plain one.
#[tokio::test]
async fn nested_lists_sort_names_as_their_keys_do() {
    let csv = "first_name,last_name,title,publisher\n\
               Ana,Zeller,zebra,Beta press\n\
               Ana,Zeller,apple,Ölberg\n\
               Ana,Zeller,Éclair,alpha\n\
               Ana,Zeller,Banana,omega\n\
               Ana,Zeller,Banana,alpha\n\
               ben,Ølsen,Cherry,alpha\n\
               Ben,adams,cherry,alpha\n";
    let app = TestApp::spawn_with_csv(csv).await;
    let titles = ["apple", "Banana", "zebra", "Éclair"];
    let publishers = ["alpha", "Beta press", "omega", "Ölberg"];
    for first in ["", "(first: 10)"] {
        let data = app
            .data(&format!(
                r#"{{ authors(filter: {{nameContains: "zeller"}}) {{ nodes {{
                    books{first} {{ title publishers{first} {{ name }} }}
                    publishers{first} {{ name }}
                }} }}
                publishers(filter: {{nameContains: "alpha"}}) {{ nodes {{
                    books{first} {{ title }}
                    authors{first} {{ lastName }}
                }} }} }}"#
            ))
            .await;
        let author = &data["authors"]["nodes"][0];
        let names = |list: &Value, field: &str| -> Vec<String> {
            list.as_array()
                .expect("a list")
                .iter()
                .map(|item| item[field].as_str().expect("a name").to_owned())
                .collect()
        };
        assert_eq!(names(&author["books"], "title"), titles, "{first}");
        assert_eq!(
            names(&author["books"][1]["publishers"], "name"),
            ["alpha", "omega"],
            "{first}"
        );
        assert_eq!(names(&author["publishers"], "name"), publishers, "{first}");
        let alpha = &data["publishers"]["nodes"][0];
        assert_eq!(
            names(&alpha["books"], "title"),
            ["Banana", "Cherry", "cherry", "Éclair"],
            "{first}"
        );
        assert_eq!(
            names(&alpha["authors"], "lastName"),
            ["adams", "Zeller", "Ølsen"],
            "{first}"
        );
    }
}
