//! The tutorial's `add_new_book` as one composable step of a write transaction: shared by
//! the `addBook` mutation and the CSV import, so both find-or-create exactly alike.

use std::collections::{HashMap, HashSet};

use futures_util::future::BoxFuture;

use super::events::Event;
use super::models::{AuthorRow, BookRow, PublisherRow};
use super::sql::{decode_json, encode_json};
use super::writer::Batch;
use super::{Db, WriteTx, authors, books, publishers};
use crate::book_entry::{AddOutcome, BookEntry};
use crate::error::{Error, Result};

mod lot;

use lot::Writes;

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
#[tracing::instrument(level = "debug", skip_all)]
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

/// `addBook`s queued back to back, run together: two calls for the lot on either backend
/// (look up; insert the new books and link them all), where one by one each costs three of
/// its own.
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

/// One entry that runs with the lot: its author, its publisher, and its book when it
/// exists already, with whether the publisher already publishes it.
struct Planned {
    index: usize,
    author_id: i64,
    publisher_id: i64,
    book: Option<(BookRow, bool)>,
}

impl Planned {
    /// Whether the lot links the book to the publisher: it does unless the book exists
    /// and the publisher publishes it already.
    fn needs_link(&self) -> bool {
        !matches!(self.book, Some((_, true)))
    }
}

/// The statements of a lot answer with one value each, never a row per entry: on SQLite
/// each row is a hand-off from the connection's thread to the writer's, which under load
/// costs more than the row.
#[tracing::instrument(level = "debug", skip_all, fields(entries = entries.len()))]
async fn add_many(tx: &mut WriteTx, entries: &[BookEntry]) -> Result<Vec<Option<AddedBook>>> {
    let (mut planned, last_book_id) = plan(tx, entries).await?;
    if planned.is_empty() {
        return Ok(entries.iter().map(|_| None).collect());
    }
    let ids = match &lot::statements(tx.dialect).writes {
        // SQLite's one writer keeps the callers' order.
        Writes::Together(statement) => {
            write_together(tx, statement, entries, &planned, last_book_id).await?
        }
        // Other replicas write beside this lot: its rows are locked in the order every
        // writer takes them (links by publisher and author, here; books by author, in
        // `write_returning`; the counts' triggers sort what they lock themselves,
        // migrations/postgres/0005 and 0009), so two lots wait for each other one way round
        // instead of deadlocking.
        Writes::Returning(statement) => {
            planned.sort_by_key(|planned| (planned.publisher_id, planned.author_id));
            write_returning(tx, statement, entries, &planned).await?
        }
    };
    let mut added = vec![None; entries.len()];
    for (planned, id) in planned.into_iter().zip(ids) {
        let (book, outcome) = match planned.book {
            Some((book, true)) => (book, AddOutcome::AlreadyExisted),
            Some((book, false)) => (book, AddOutcome::PublisherAdded),
            None => {
                let title = entries[planned.index].title.as_str().to_owned();
                let author_id = planned.author_id;
                (
                    BookRow {
                        id,
                        author_id,
                        title,
                    },
                    AddOutcome::Created,
                )
            }
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

/// The lot's books and links written in one call ([`Writes::Together`]), with the new
/// books' ids chosen here, after the largest, rather than read back by one more statement.
/// An id taken meanwhile would fail the lot, whose entries would then run alone. Returns
/// every planned entry's book id.
async fn write_together(
    tx: &mut WriteTx,
    statement: &'static str,
    entries: &[BookEntry],
    planned: &[Planned],
    last_book_id: Option<i64>,
) -> Result<Vec<i64>> {
    let mut next = last_book_id.unwrap_or(0);
    let mut new = Vec::new();
    let ids: Vec<i64> = planned
        .iter()
        .map(|planned| match &planned.book {
            Some((book, _)) => book.id,
            None => {
                next += 1;
                let title = &entries[planned.index].title;
                new.push((next, planned.author_id, title.as_str(), title.key()));
                next
            }
        })
        .collect();
    let links: Vec<_> = planned
        .iter()
        .zip(&ids)
        .filter(|(planned, _)| planned.needs_link())
        .map(|(planned, id)| (id, planned.publisher_id))
        .collect();
    let written = (new.len() + links.len()) as u64;
    if written == 0 {
        return Ok(ids);
    }
    let done = sqlx::query(statement)
        .bind(encode_json(&new)?)
        .bind(encode_json(&links)?)
        .execute(tx.conn_for(2))
        .await?;
    if done.rows_affected() != written {
        return Err(Error::Inconsistent("a lot wrote other rows than planned"));
    }
    Ok(ids)
}

/// The lot's books and links written in one statement that returns the new books' ids
/// ([`Writes::Returning`]). Returns every planned entry's book id.
async fn write_returning(
    tx: &mut WriteTx,
    statement: &'static str,
    entries: &[BookEntry],
    planned: &[Planned],
) -> Result<Vec<i64>> {
    let mut new: Vec<_> = planned
        .iter()
        .filter(|planned| planned.book.is_none())
        .map(|planned| {
            let title = &entries[planned.index].title;
            (planned.author_id, title.as_str(), title.key())
        })
        .collect();
    // Authors by id: the order of the locks their books take (see `add_many`).
    new.sort_by_key(|(author_id, ..)| *author_id);
    let links: Vec<_> = planned
        .iter()
        .filter(|planned| planned.needs_link())
        .map(|planned| {
            let book_id = planned.book.as_ref().map(|(book, _)| book.id);
            let title = entries[planned.index].title.key();
            (book_id, planned.author_id, title, planned.publisher_id)
        })
        .collect();
    let inserted: Vec<(i64, String, i64)> = if links.is_empty() {
        Vec::new()
    } else {
        let (inserted, linked): (Option<String>, i64) = sqlx::query_as(statement)
            .bind(encode_json(&new)?)
            .bind(encode_json(&links)?)
            .fetch_one(tx.conn())
            .await?;
        if linked != links.len() as i64 {
            return Err(Error::Inconsistent("a lot linked other books than planned"));
        }
        decode_json(inserted)?
    };
    if inserted.len() != new.len() {
        return Err(Error::Inconsistent(
            "a lot inserted other books than planned",
        ));
    }
    let new_ids: HashMap<(i64, &str), i64> = inserted
        .iter()
        .map(|(author_id, title, id)| ((*author_id, title.as_str()), *id))
        .collect();
    planned
        .iter()
        .map(|planned| match &planned.book {
            Some((book, _)) => Ok(book.id),
            None => new_ids
                .get(&(planned.author_id, entries[planned.index].title.key()))
                .copied()
                .ok_or(Error::Inconsistent("a new book of the lot went missing")),
        })
        .collect()
}

/// What the look-up found for one entry: author, publisher, book and its title, and 1
/// when the publisher publishes the book.
type Found = (Option<i64>, Option<i64>, Option<i64>, Option<String>, i64);

/// The entries that run with the lot, as the look-up found them, and the largest book id:
/// one statement for all.
async fn plan(tx: &mut WriteTx, entries: &[BookEntry]) -> Result<(Vec<Planned>, Option<i64>)> {
    let keys: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                entry.author_last_name.key(),
                entry.author_first_name.key(),
                entry.publisher_name.key(),
                entry.title.key(),
            )
        })
        .collect();
    let (found, last_book_id): (Option<String>, Option<i64>) =
        sqlx::query_as(lot::statements(tx.dialect).plan)
            .bind(encode_json(&keys)?)
            .fetch_one(tx.conn())
            .await?;
    let found: Vec<Found> = decode_json(found)?;
    if found.len() != entries.len() {
        return Err(Error::Inconsistent("the look-up of a lot lost entries"));
    }
    let mut named = HashSet::new();
    let mut planned = Vec::with_capacity(entries.len());
    for (index, (entry, found)) in entries.iter().zip(found).enumerate() {
        let (Some(author_id), Some(publisher_id), book_id, book_title, published) = found else {
            continue;
        };
        // A second entry for the same book runs alone, after the first made it.
        if !named.insert((author_id, entry.title.key())) {
            continue;
        }
        let book = book_id.zip(book_title).map(|(id, title)| {
            let book = BookRow {
                id,
                author_id,
                title,
            };
            (book, published == 1)
        });
        planned.push(Planned {
            index,
            author_id,
            publisher_id,
            book,
        });
    }
    Ok((planned, last_book_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, publisher: &str) -> BookEntry {
        BookEntry::parse("Lot", "Writer", title, publisher).expect("a valid entry")
    }

    /// A lot whose statements wrote other rows than planned would fail, and its entries
    /// would then run alone with the same outcomes: only running the lot itself shows
    /// that it holds together.
    #[tokio::test]
    async fn a_lot_of_new_existing_and_linked_books_runs_together() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Db::open(&format!("sqlite:{}", dir.path().join("lot.db").display()))
            .await
            .expect("the catalogue opens");
        add_one(&db, entry("Old", "Press One")).await.expect("Old");
        add_one(&db, entry("Other", "Press Two"))
            .await
            .expect("Other");
        let lot = vec![
            entry("New", "Press One"),
            entry("Old", "Press Two"),
            entry("Other", "Press Two"),
            entry("Newer", "Press Two"),
        ];

        let added = db
            .write_alone(move |tx: &mut WriteTx| {
                Box::pin(async move { add_many(tx, &lot).await })
                    as BoxFuture<'_, Result<Vec<Option<AddedBook>>>>
            })
            .await
            .expect("the lot runs together");

        let outcomes: Vec<_> = added
            .iter()
            .map(|added| {
                added
                    .as_ref()
                    .map(|added| (added.book.title.as_str(), added.outcome))
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                Some(("New", AddOutcome::Created)),
                Some(("Old", AddOutcome::PublisherAdded)),
                Some(("Other", AddOutcome::AlreadyExisted)),
                Some(("Newer", AddOutcome::Created)),
            ]
        );
        let links: i64 = sqlx::query_scalar("select count(*) from book_publisher")
            .fetch_one(&mut *db.read().await.expect("a reader"))
            .await
            .expect("the links");
        assert_eq!(
            links, 5,
            "two books before, one more publisher, two new books"
        );
        db.close().await;
    }
}
