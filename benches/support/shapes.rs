//! The JSON shapes of Q1–Q3's responses, for the floors to serialise their rows into,
//! borrowing from them.

use std::borrow::Cow;

use serde::Serialize;

#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

#[derive(Serialize)]
pub struct Nodes<T> {
    pub nodes: Vec<T>,
}

#[derive(Serialize)]
pub struct Authors<T> {
    pub authors: Nodes<T>,
}

#[derive(Serialize)]
pub struct Publishers<T> {
    pub publishers: Nodes<T>,
}

#[derive(Serialize)]
pub struct Named<'a> {
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct BookWithPublishers<'a> {
    pub title: &'a str,
    pub publishers: Vec<Named<'a>>,
}

/// An author's name is stored in two parts; a floor may join them in SQL or in Rust.
#[derive(Serialize)]
pub struct AuthorWithBooks<'a> {
    pub name: Cow<'a, str>,
    pub books: Vec<BookWithPublishers<'a>>,
}

#[derive(Serialize)]
pub struct PublisherWithAuthors<'a> {
    pub name: &'a str,
    pub authors: Vec<AuthorWithBooks<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherWithCounts<'a> {
    pub name: &'a str,
    pub book_count: i64,
    pub author_count: i64,
}

/// The whole response, `{"data": {"authors": {"nodes": …}}}`.
pub fn authors_json<T: Serialize>(nodes: Vec<T>) -> String {
    to_json(Authors {
        authors: Nodes { nodes },
    })
}

/// The whole response, `{"data": {"publishers": {"nodes": …}}}`.
pub fn publishers_json<T: Serialize>(nodes: Vec<T>) -> String {
    to_json(Publishers {
        publishers: Nodes { nodes },
    })
}

fn to_json(data: impl Serialize) -> String {
    serde_json::to_string(&Data { data }).expect("serialise the response")
}
