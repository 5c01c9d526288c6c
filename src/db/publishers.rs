//! Statements that read and write the `publisher` table and its derived counts.

use super::WriteTx;
use super::events::Event;
use super::lookup::{ById, Children};
use super::models::{PublisherCounts, PublisherRow};
use super::pages::{CountParts, Filter, SortColumn, SortKind, SortOrder};
use super::sql::{Sql, push_contains};
use super::transaction::{find_or_insert, update_row};
use crate::error::{Entity, Error, Result};
use crate::names::Name;

/// What publishers can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublisherOrder {
    /// Name.
    Name,
    /// Number of books, ties by name.
    BookCount,
    /// Number of distinct authors, ties by name.
    AuthorCount,
}

/// Ties always fall back to the name, then id.
impl SortOrder for PublisherOrder {
    fn columns(self, descending: bool) -> Vec<SortColumn> {
        let count = match self {
            PublisherOrder::Name => {
                return vec![
                    SortColumn::new("name_key", SortKind::Text, descending),
                    SortColumn::new("id", SortKind::Int, false),
                ];
            }
            PublisherOrder::BookCount => "book_count",
            PublisherOrder::AuthorCount => "author_count",
        };
        vec![
            SortColumn::new(count, SortKind::Int, descending),
            SortColumn::new("name_key", SortKind::Text, false),
            SortColumn::new("id", SortKind::Int, false),
        ]
    }
}

/// Which publishers a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherFilter {
    /// Case-folded substring of the name.
    pub name_contains: Option<String>,
}

impl Filter for PublisherFilter {
    type Row = PublisherRow;
    type Order = PublisherOrder;
    const SELECT: &'static str = "p.id, p.name, p.name_key, p.book_count, p.author_count";
    const TABLE: &'static str = "counted_publisher p";
    const COLUMNS: &'static [&'static str] = &["id", "name"];
    const COUNT_PARTS: Option<CountParts> = Some(CountParts {
        table: "publisher p",
        parts: "publisher_count_part",
        id: "publisher_id",
        counts: &["book_count", "author_count"],
    });

    fn push_where(&self, query: &mut Sql) {
        if let Some(needle) = &self.name_contains {
            query.push(" where");
            push_contains(query, "p.name_key", needle);
        }
    }
}

/// The publishers, by id.
pub const PUBLISHERS: ById<PublisherRow> = ById::new(Entity::Publisher, "publisher", "id, name");

/// The publishers' book and author counts, by id.
pub const COUNTS: ById<PublisherCounts> = ById::new(
    Entity::Publisher,
    "counted_publisher",
    "id, book_count, author_count",
);

/// Each book's publishers, by name, at most `first` per book.
pub const PUBLISHERS_OF_BOOKS: Children = Children {
    // Driven from `ids`, with one sort at the end: `bp.book_id in (…)` sorts each
    // book's few publishers apart, which measured 40 % slower on Q1's 500 books.
    all_rows: "from ids join book_publisher bp on bp.book_id = ids.id
               join publisher c on c.id = bp.publisher_id",
    parent: "ids.id",
    first_rows: "select p.id, p.name, p.name_key
           from book_publisher bp join publisher p on p.id = bp.publisher_id
           where bp.book_id = parent.id
           order by p.name_key, p.id",
    columns: "c.id, c.name",
    order: "c.name_key, c.id",
    shared: true,
};

/// The distinct publishers of each author's books, by name, at most `first` per author.
pub const PUBLISHERS_OF_AUTHORS: Children = Children {
    all_rows: "from (select distinct b.author_id, bp.publisher_id
                     from ids join book b on b.author_id = ids.id
                     join book_publisher bp on bp.book_id = b.id) as x
               join publisher c on c.id = x.publisher_id",
    parent: "x.author_id",
    first_rows: "select p.id, p.name, p.name_key
           from publisher p
           where p.id in (select bp.publisher_id from book b join book_publisher bp on bp.book_id = b.id
                          where b.author_id = parent.id)
           order by p.name_key, p.id",
    columns: "c.id, c.name",
    order: "c.name_key, c.id",
    shared: true,
};

/// The publisher with this name, created if missing; `true` when it was created. An
/// existing publisher keeps its own spelling.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_or_create(tx: &mut WriteTx, name: &Name) -> Result<(i64, bool)> {
    let find = || {
        let mut query = Sql::new("select id from publisher where name_key = ");
        query.push_bind(name.key().to_owned());
        query
    };
    let mut insert = Sql::new("insert into publisher (name, name_key) values (");
    insert
        .push_bind(name.as_str().to_owned())
        .push(", ")
        .push_bind(name.key().to_owned())
        .push(") on conflict (name_key) do nothing returning id");
    find_or_insert(tx, find, insert).await
}

fn name_taken(name: &Name, existing: i64) -> Error {
    Error::conflict(
        format!(
            "the name {:?} is taken (ignoring case) by publisher {existing}",
            name.as_str()
        ),
        Some(existing),
    )
}

/// Creates a publisher; a name already taken (ignoring case) is a conflict naming its owner.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(tx: &mut WriteTx, name: &Name) -> Result<PublisherRow> {
    let (id, created) = find_or_create(tx, name).await?;
    if !created {
        return Err(name_taken(name, id));
    }
    let publisher = PublisherRow {
        id,
        name: name.as_str().to_owned(),
    };
    tx.record(Event::PublisherAdded(publisher.clone()));
    Ok(publisher)
}

/// Renames a publisher; announced only when the name's spelling changes.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn rename(tx: &mut WriteTx, id: i64, name: &Name) -> Result<PublisherRow> {
    let before = PUBLISHERS.find(tx, id).await?;
    let existing: Option<i64> =
        sqlx::query_scalar("select id from publisher where name_key = $1 and id <> $2")
            .bind(name.key())
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    if let Some(existing) = existing {
        return Err(name_taken(name, existing));
    }
    let update = sqlx::query_as(
        "update publisher set name = $1, name_key = $2 where id = $3 returning id, name",
    )
    .bind(name.as_str())
    .bind(name.key())
    .bind(id);
    update_row(tx, &before, update, Event::PublisherChanged).await
}

/// Deletes a publisher. One with books is a conflict unless `cascade`, which deletes its
/// books (and all their links) too; returns how many books went.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn delete(tx: &mut WriteTx, id: i64, cascade: bool) -> Result<u64> {
    let books = "select book_id from book_publisher where publisher_id = $1";
    let in_use = |count| format!("publisher {id} still publishes {count} books");
    let deleted = PUBLISHERS
        .delete_with_books(tx, id, cascade, books, in_use)
        .await?;
    tx.record(Event::PublisherDeleted(id));
    Ok(deleted)
}
