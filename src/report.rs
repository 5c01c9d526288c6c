//! The tutorial's report: books and authors per publisher, and the author -> book ->
//! publisher tree. Its data comes from GraphQL operations executed in-process against the
//! schema, so the report and the API cannot disagree.

use async_graphql::{Request, Variables};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::graphql::{self, BookSchema};

/// Everything the report shows, in the order it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Publishers, most books first, ties by name.
    pub books_by_publisher: Vec<PublisherCount>,
    /// Publishers, most authors first, ties by name.
    pub authors_by_publisher: Vec<PublisherCount>,
    /// Authors by full name, each with its books by title and their publishers by name.
    pub authors: Vec<AuthorNode>,
}

/// A publisher and one of its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublisherCount {
    /// The publisher's name.
    pub publisher: String,
    /// Its number of books or of authors.
    pub count: i64,
}

/// An author in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorNode {
    /// First and last name.
    pub name: String,
    /// The author's books.
    pub books: Vec<BookNode>,
}

/// A book in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookNode {
    /// The title.
    pub title: String,
    /// Its publishers.
    pub publishers: Vec<PublisherNode>,
}

/// A publisher in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherNode {
    /// The publisher's name.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountedPublisher {
    name: String,
    book_count: i64,
    author_count: i64,
}

const PUBLISHERS_BY: &str = "query ReportPublishers($field: PublisherOrderField!, $after: String) {
    list: publishers(first: 100, after: $after, orderBy: {field: $field, direction: DESC}) {
        pageInfo { hasNextPage endCursor }
        nodes { name bookCount authorCount }
    }
}";

const AUTHOR_TREE: &str = "query ReportAuthors($after: String) {
    list: authors(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { name books { title publishers { name } } }
    }
}";

/// Gathers the report from the catalogue in `db`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn gather(schema: &BookSchema, db: &Db) -> Result<Report> {
    let by_books: Vec<CountedPublisher> =
        all_nodes(schema, db, PUBLISHERS_BY, json!({ "field": "BOOK_COUNT" })).await?;
    let by_authors: Vec<CountedPublisher> = all_nodes(
        schema,
        db,
        PUBLISHERS_BY,
        json!({ "field": "AUTHOR_COUNT" }),
    )
    .await?;
    let mut authors: Vec<AuthorNode> = all_nodes(schema, db, AUTHOR_TREE, json!({})).await?;
    // The tutorial's tree lists authors by full name, first name first.
    authors.sort_by_cached_key(|author| author.name.to_lowercase());
    Ok(Report {
        books_by_publisher: by_books
            .into_iter()
            .map(|p| PublisherCount {
                publisher: p.name,
                count: p.book_count,
            })
            .collect(),
        authors_by_publisher: by_authors
            .into_iter()
            .map(|p| PublisherCount {
                publisher: p.name,
                count: p.author_count,
            })
            .collect(),
        authors,
    })
}

/// Every node of the connection aliased `list` in `query`, following cursors to the end.
async fn all_nodes<T: DeserializeOwned>(
    schema: &BookSchema,
    db: &Db,
    query: &str,
    mut variables: Value,
) -> Result<Vec<T>> {
    let mut nodes = Vec::new();
    loop {
        let request = Request::new(query).variables(Variables::from_json(variables.clone()));
        let response = graphql::execute(schema, db, schema.operation(request)).await;
        if let Some(error) = response.errors.first() {
            return Err(Error::Report(error.message.clone()));
        }
        let data = response
            .data
            .into_json()
            .map_err(|e| Error::Report(e.to_string()))?;
        let list = &data["list"];
        let page: Vec<T> = serde_json::from_value(list["nodes"].clone())
            .map_err(|e| Error::Report(e.to_string()))?;
        nodes.extend(page);
        if list["pageInfo"]["hasNextPage"] != true {
            return Ok(nodes);
        }
        variables["after"] = list["pageInfo"]["endCursor"].clone();
    }
}

/// The report as the tutorial prints it.
pub fn render_text(report: &Report) -> String {
    let mut text = String::new();
    for PublisherCount { publisher, count } in &report.books_by_publisher {
        text.push_str(&format!("Publisher: {publisher}, total books: {count}\n"));
    }
    text.push('\n');
    for PublisherCount { publisher, count } in &report.authors_by_publisher {
        text.push_str(&format!("Publisher: {publisher}, total authors: {count}\n"));
    }
    text.push('\n');
    text.push_str("Authors\n");
    let tree: Vec<Tree> = report
        .authors
        .iter()
        .map(|author| Tree {
            label: &author.name,
            children: author
                .books
                .iter()
                .map(|book| Tree {
                    label: &book.title,
                    children: book
                        .publishers
                        .iter()
                        .map(|publisher| Tree {
                            label: &publisher.name,
                            children: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    draw(&mut text, &tree, "");
    text
}

/// A labelled node of a tree to draw.
struct Tree<'a> {
    label: &'a str,
    children: Vec<Tree<'a>>,
}

/// Draws `nodes` the way Python's treelib does: four columns a level.
fn draw(text: &mut String, nodes: &[Tree<'_>], prefix: &str) {
    for (index, node) in nodes.iter().enumerate() {
        let last = index + 1 == nodes.len();
        let (branch, continuation) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        text.push_str(&format!("{prefix}{branch}{}\n", node.label));
        draw(text, &node.children, &format!("{prefix}{continuation}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_text_draws_counts_then_the_tree() {
        let publisher = |name: &str| PublisherNode {
            name: name.to_owned(),
        };
        let report = Report {
            books_by_publisher: vec![PublisherCount {
                publisher: "Berkley".into(),
                count: 2,
            }],
            authors_by_publisher: vec![PublisherCount {
                publisher: "Berkley".into(),
                count: 1,
            }],
            authors: vec![
                AuthorNode {
                    name: "Pearl Buck".into(),
                    books: vec![BookNode {
                        title: "The Good Earth".into(),
                        publishers: vec![publisher("Berkley"), publisher("Random House")],
                    }],
                },
                AuthorNode {
                    name: "Tom Clancy".into(),
                    books: vec![BookNode {
                        title: "Patriot Games".into(),
                        publishers: vec![publisher("Berkley")],
                    }],
                },
            ],
        };
        let expected = [
            "Publisher: Berkley, total books: 2",
            "",
            "Publisher: Berkley, total authors: 1",
            "",
            "Authors",
            "├── Pearl Buck",
            "│   └── The Good Earth",
            "│       ├── Berkley",
            "│       └── Random House",
            "└── Tom Clancy",
            "    └── Patriot Games",
            "        └── Berkley",
            "",
        ];
        assert_eq!(render_text(&report), expected.join("\n"));
    }
}
