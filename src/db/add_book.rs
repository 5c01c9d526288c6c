//! The tutorial's `add_new_book` as one composable step of a write transaction: shared by
//! the `addBook` mutation and the CSV import, so both find-or-create exactly alike.

use std::collections::{HashMap, HashSet};

use futures_util::future::BoxFuture;
use serde_json::json;

use super::models::{AuthorRow, BookRow, PublisherRow};
use super::sql::Dialect;
use super::writer::Batch;
use super::{Db, WriteTx, authors, books, publishers};
use crate::book_entry::{AddOutcome, BookEntry};
use crate::error::{Error, Result};
use crate::events::Event;

/// What [`add_book`] found, created and linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedBook {
    /// The book, as stored (an existing book keeps its spelling).
    pub book: BookRow,
    /// What changed for the book and its link.
    pub outcome: AddOutcome,
    /// Whether the author row is new.
    pub author_created: bool,
    /// Whether the publisher row is new.
    pub publisher_created: bool,
}

/// Finds or creates the author, the publisher and the author's book of that title, and
/// links the book to the publisher. The caller owns the transaction and its commit.
#[tracing::instrument(skip_all)]
pub async fn add_book(tx: &mut WriteTx, entry: &BookEntry) -> Result<AddedBook> {
    let (author_id, publisher_id) = find_both(tx, entry).await?;
    let (author_id, author_created) = match author_id {
        Some(id) => (id, false),
        None => {
            authors::find_or_create(tx, &entry.author_first_name, &entry.author_last_name).await?
        }
    };
    let (publisher_id, publisher_created) = match publisher_id {
        Some(id) => (id, false),
        None => publishers::find_or_create(tx, &entry.publisher_name).await?,
    };
    let (book, book_created) = books::find_or_create(tx, author_id, &entry.title).await?;
    let linked = books::link_publisher(tx, book.id, publisher_id).await?;
    let outcome = match (book_created, linked) {
        (true, _) => AddOutcome::Created,
        (false, true) => AddOutcome::PublisherAdded,
        (false, false) => AddOutcome::AlreadyExisted,
    };
    if author_created {
        tx.record(Event::AuthorAdded(AuthorRow {
            id: author_id,
            first_name: entry.author_first_name.as_str().to_owned(),
            last_name: entry.author_last_name.as_str().to_owned(),
        }));
    }
    if publisher_created {
        tx.record(Event::PublisherAdded(PublisherRow {
            id: publisher_id,
            name: entry.publisher_name.as_str().to_owned(),
        }));
    }
    match outcome {
        AddOutcome::Created => tx.record(Event::BookAdded(book.clone())),
        AddOutcome::PublisherAdded => tx.record(Event::BookChanged(book.clone())),
        AddOutcome::AlreadyExisted => {}
    }
    Ok(AddedBook {
        book,
        outcome,
        author_created,
        publisher_created,
    })
}

/// The ids of the entry's author and publisher, where they exist: one statement for
/// both, where looking each up would be two. Both usually exist (`addBook` mostly adds
/// books of known authors and publishers), and every statement is a round trip to the one
/// writer connection, while other writes wait.
async fn find_both(tx: &mut WriteTx, entry: &BookEntry) -> Result<(Option<i64>, Option<i64>)> {
    let ids = sqlx::query_as(
        "select (select id from author where last_name_key = $1 and first_name_key = $2),
                (select id from publisher where name_key = $3)",
    )
    .bind(entry.author_last_name.key())
    .bind(entry.author_first_name.key())
    .bind(entry.publisher_name.key())
    .fetch_one(tx.conn())
    .await?;
    Ok(ids)
}

/// [`add_book`] in a write transaction, committed before this returns; entries queued
/// beside it run together ([`AddBooks`]).
pub async fn add_one(db: &Db, entry: BookEntry) -> Result<AddedBook> {
    db.write_batched::<AddBooks>(entry).await
}

/// `addBook`s queued back to back, run together: three statements for the lot (look up,
/// insert the new books, link them all), where one by one each costs three of its own.
///
/// Only the usual case runs together: the author and the publisher exist, and no earlier
/// entry of the lot names the same book. The rest run alone through [`add_book`], after the
/// lot, in order; so does every entry when a statement of the lot fails, and each then
/// fails alone if it must.
pub(super) struct AddBooks;

impl Batch for AddBooks {
    type Item = BookEntry;
    type Output = AddedBook;

    fn run_many<'a>(
        tx: &'a mut WriteTx,
        entries: &'a [BookEntry],
    ) -> BoxFuture<'a, Result<Vec<Option<AddedBook>>>> {
        Box::pin(add_many(tx, entries))
    }

    fn run_one<'a>(tx: &'a mut WriteTx, entry: &'a BookEntry) -> BoxFuture<'a, Result<AddedBook>> {
        Box::pin(add_book(tx, entry))
    }
}

/// What the look-up found for one entry.
#[derive(sqlx::FromRow)]
struct Found {
    author_id: Option<i64>,
    publisher_id: Option<i64>,
    book_id: Option<i64>,
    book_title: Option<String>,
}

/// One entry that runs with the lot: its author, its publisher, and its book when it
/// exists already.
struct Planned {
    index: usize,
    author_id: i64,
    publisher_id: i64,
    book: Option<BookRow>,
}

#[tracing::instrument(skip_all, fields(entries = entries.len()))]
async fn add_many(tx: &mut WriteTx, entries: &[BookEntry]) -> Result<Vec<Option<AddedBook>>> {
    let planned = plan(tx, entries).await?;
    let new: Vec<_> = planned
        .iter()
        .filter(|planned| planned.book.is_none())
        .map(|planned| {
            let title = &entries[planned.index].title;
            json!([planned.author_id, title.as_str(), title.key()])
        })
        .collect();
    let rows = json_rows(tx.dialect);
    let created: Vec<(i64, i64, String, String)> = if new.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "insert into book (author_id, title, title_key)
             select cast(e.value ->> 0 as bigint), e.value ->> 1, e.value ->> 2 from {rows}
             where true
             returning id, author_id, title, title_key"
        )))
        .bind(serde_json::Value::from(new).to_string())
        .fetch_all(tx.conn())
        .await?
    };
    let created: HashMap<(i64, String), BookRow> = created
        .into_iter()
        .map(|(id, author_id, title, key)| {
            (
                (author_id, key),
                BookRow {
                    id,
                    author_id,
                    title,
                },
            )
        })
        .collect();
    let mut books = Vec::with_capacity(planned.len());
    for planned in &planned {
        let key = (
            planned.author_id,
            entries[planned.index].title.key().to_owned(),
        );
        let book = match (&planned.book, created.get(&key)) {
            (Some(book), _) => (book.clone(), false),
            (None, Some(book)) => (book.clone(), true),
            (None, None) => return Err(Error::Inconsistent("a new book of the lot went missing")),
        };
        books.push(book);
    }
    let links: Vec<_> = planned
        .iter()
        .zip(&books)
        .map(|(planned, (book, _))| json!([book.id, planned.publisher_id]))
        .collect();
    let linked: HashSet<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into book_publisher (book_id, publisher_id)
         select cast(e.value ->> 0 as bigint), cast(e.value ->> 1 as bigint) from {rows}
         where true
         on conflict (book_id, publisher_id) do nothing
         returning book_id, publisher_id"
    )))
    .bind(serde_json::Value::from(links).to_string())
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .collect();
    let mut added = vec![None; entries.len()];
    for (planned, (book, book_created)) in planned.into_iter().zip(books) {
        let outcome = match (
            book_created,
            linked.contains(&(book.id, planned.publisher_id)),
        ) {
            (true, _) => AddOutcome::Created,
            (false, true) => AddOutcome::PublisherAdded,
            (false, false) => AddOutcome::AlreadyExisted,
        };
        match outcome {
            AddOutcome::Created => tx.record(Event::BookAdded(book.clone())),
            AddOutcome::PublisherAdded => tx.record(Event::BookChanged(book.clone())),
            AddOutcome::AlreadyExisted => {}
        }
        added[planned.index] = Some(AddedBook {
            book,
            outcome,
            author_created: false,
            publisher_created: false,
        });
    }
    Ok(added)
}

/// The entries that run with the lot, as the look-up found them: one statement for all.
async fn plan(tx: &mut WriteTx, entries: &[BookEntry]) -> Result<Vec<Planned>> {
    let keys: Vec<_> = entries
        .iter()
        .map(|entry| {
            json!([
                entry.author_last_name.key(),
                entry.author_first_name.key(),
                entry.publisher_name.key(),
                entry.title.key(),
            ])
        })
        .collect();
    // One row per entry, in order: the rows of `json_each` and of a `with ordinality`
    // come in the array's order, and left joins on unique keys keep one row each.
    let found: Vec<Found> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select a.id as author_id, p.id as publisher_id, b.id as book_id, b.title as book_title
         from {rows}
         left join author a
             on a.last_name_key = e.value ->> 0 and a.first_name_key = e.value ->> 1
         left join publisher p on p.name_key = e.value ->> 2
         left join book b on b.author_id = a.id and b.title_key = e.value ->> 3
         order by e.position",
        rows = json_rows(tx.dialect),
    )))
    .bind(serde_json::Value::from(keys).to_string())
    .fetch_all(tx.conn())
    .await?;
    if found.len() != entries.len() {
        return Err(Error::Inconsistent("the look-up of a lot lost entries"));
    }
    let mut named = HashSet::new();
    let mut planned = Vec::with_capacity(entries.len());
    for (index, (entry, found)) in entries.iter().zip(found).enumerate() {
        let (Some(author_id), Some(publisher_id)) = (found.author_id, found.publisher_id) else {
            continue;
        };
        // A second entry for the same book runs alone, after the first made it.
        if !named.insert((author_id, entry.title.key())) {
            continue;
        }
        let book = found
            .book_id
            .zip(found.book_title)
            .map(|(id, title)| BookRow {
                id,
                author_id,
                title,
            });
        planned.push(Planned {
            index,
            author_id,
            publisher_id,
            book,
        });
    }
    Ok(planned)
}

/// The elements of the JSON array bound to `$1` as rows `e`, with the element in
/// `e.value` and its place in `e.position`.
fn json_rows(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "(select value, key as position from json_each($1)) as e",
        Dialect::Postgres => "json_array_elements($1::json) with ordinality as e(value, position)",
    }
}
