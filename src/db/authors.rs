//! Statements that read and write the `author` table.

use super::WriteTx;
use super::events::Event;
use super::lookup::{ById, Children};
use super::models::{AuthorCounts, AuthorRow};
use super::pages::{CountParts, Filter, SortColumn, SortKind, SortOrder};
use super::sql::{Sql, push_contains};
use super::transaction::{find_or_insert, update_row};
use crate::error::{Entity, Error, Result};
use crate::names::Name;

/// What authors can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorOrder {
    /// Last name, then first name.
    Name,
    /// Number of books, ties by name.
    BookCount,
}

/// Ties always fall back to the name order, then id.
impl SortOrder for AuthorOrder {
    fn columns(self, descending: bool) -> Vec<SortColumn> {
        let mut columns = Vec::with_capacity(4);
        let by_name_descending = match self {
            AuthorOrder::Name => descending,
            AuthorOrder::BookCount => {
                columns.push(SortColumn::new("book_count", SortKind::Int, descending));
                false
            }
        };
        columns.push(SortColumn::new(
            "last_name_key",
            SortKind::Text,
            by_name_descending,
        ));
        columns.push(SortColumn::new(
            "first_name_key",
            SortKind::Text,
            by_name_descending,
        ));
        columns.push(SortColumn::new("id", SortKind::Int, false));
        columns
    }
}

/// Which authors a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorFilter {
    /// Case-folded substring of "first last".
    pub name_contains: Option<String>,
}

impl Filter for AuthorFilter {
    type Row = AuthorRow;
    type Order = AuthorOrder;
    const SELECT: &'static str =
        "a.id, a.first_name, a.last_name, a.first_name_key, a.last_name_key, a.book_count";
    const TABLE: &'static str = "counted_author a";
    const COLUMNS: &'static [&'static str] = &["id", "first_name", "last_name"];
    const COUNT_PARTS: Option<CountParts> = Some(CountParts {
        table: "author a",
        parts: "author_count_part",
        id: "author_id",
        counts: &["book_count"],
    });

    fn push_where(&self, query: &mut Sql) {
        if let Some(needle) = &self.name_contains {
            query.push(" where");
            push_contains(
                query,
                "(a.first_name_key || ' ' || a.last_name_key)",
                needle,
            );
        }
    }
}

/// The authors, by id.
pub const AUTHORS: ById<AuthorRow> =
    ById::new(Entity::Author, "author", "id, first_name, last_name");

/// The authors' book counts, by id.
pub const BOOK_COUNTS: ById<AuthorCounts> =
    ById::new(Entity::Author, "counted_author", "id, book_count");

/// The distinct authors of each publisher's books, by name, at most `first` per publisher.
pub const AUTHORS_OF_PUBLISHERS: Children = Children {
    all_rows: "from ids join publisher_author x on x.publisher_id = ids.id
               join author c on c.id = x.author_id",
    parent: "x.publisher_id",
    first_rows: "select a.id, a.first_name, a.last_name, x.last_name_key, x.first_name_key
           from publisher_author x join author a on a.id = x.author_id
           where x.publisher_id = parent.id
           order by x.last_name_key, x.first_name_key, x.author_id",
    columns: "c.id, c.first_name, c.last_name",
    order: "c.last_name_key, c.first_name_key, c.id",
    shared: true,
};

/// The author with this name, created if missing; `true` when it was created. An existing
/// author keeps its own spelling.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_or_create(tx: &mut WriteTx, first: &Name, last: &Name) -> Result<(i64, bool)> {
    let find = || {
        let mut query = Sql::new("select id from author where last_name_key = ");
        query
            .push_bind(last.key().to_owned())
            .push(" and first_name_key = ")
            .push_bind(first.key().to_owned());
        query
    };
    let mut insert = Sql::new(
        "insert into author (first_name, last_name, first_name_key, last_name_key) values (",
    );
    insert
        .push_bind(first.as_str().to_owned())
        .push(", ")
        .push_bind(last.as_str().to_owned())
        .push(", ")
        .push_bind(first.key().to_owned())
        .push(", ")
        .push_bind(last.key().to_owned())
        .push(") on conflict (last_name_key, first_name_key) do nothing returning id");
    find_or_insert(tx, find, insert).await
}

/// The id of another author than `except` with this name (ignoring case), if any.
async fn named(tx: &mut WriteTx, first: &Name, last: &Name, except: i64) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "select id from author where last_name_key = $1 and first_name_key = $2 and id <> $3",
    )
    .bind(last.key())
    .bind(first.key())
    .bind(except)
    .fetch_optional(tx.conn())
    .await?)
}

fn name_taken(first: &Name, last: &Name, existing: i64) -> Error {
    Error::conflict(
        format!(
            "the name \"{} {}\" is taken (ignoring case) by author {existing}",
            first.as_str(),
            last.as_str()
        ),
        Some(existing),
    )
}

/// Creates an author; a name already taken (ignoring case) is a conflict naming its owner.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(tx: &mut WriteTx, first: &Name, last: &Name) -> Result<AuthorRow> {
    let (id, created) = find_or_create(tx, first, last).await?;
    if !created {
        return Err(name_taken(first, last, id));
    }
    let author = AuthorRow {
        id,
        first_name: first.as_str().to_owned(),
        last_name: last.as_str().to_owned(),
    };
    tx.record(Event::AuthorAdded(author.clone()));
    Ok(author)
}

/// Renames an author; a missing part keeps its current value. Announced only when the
/// spelling changes.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn rename(
    tx: &mut WriteTx,
    id: i64,
    first: Option<&Name>,
    last: Option<&Name>,
) -> Result<AuthorRow> {
    let before = AUTHORS.find(tx, id).await?;
    let first = first
        .cloned()
        .unwrap_or_else(|| Name::stored(before.first_name.clone()));
    let last = last
        .cloned()
        .unwrap_or_else(|| Name::stored(before.last_name.clone()));
    if let Some(existing) = named(tx, &first, &last, id).await? {
        return Err(name_taken(&first, &last, existing));
    }
    let update = sqlx::query_as(
        "update author
         set first_name = $1, last_name = $2, first_name_key = $3, last_name_key = $4
         where id = $5
         returning id, first_name, last_name",
    )
    .bind(first.as_str())
    .bind(last.as_str())
    .bind(first.key())
    .bind(last.key())
    .bind(id);
    update_row(tx, &before, update, Event::AuthorChanged).await
}

/// Deletes an author. One with books is a conflict unless `cascade`, which deletes the
/// books (and their links) too; returns how many books went.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn delete(tx: &mut WriteTx, id: i64, cascade: bool) -> Result<u64> {
    let books = "select id from book where author_id = $1";
    let in_use = |count| format!("author {id} still has {count} books");
    let deleted = AUTHORS
        .delete_with_books(tx, id, cascade, books, in_use)
        .await?;
    tx.record(Event::AuthorDeleted(id));
    Ok(deleted)
}
