//! The tutorial's `add_new_book` as one composable step of a write transaction: shared by
//! the `addBook` mutation and the CSV import, so both find-or-create exactly alike.

use super::models::{AuthorRow, BookRow, PublisherRow};
use super::{Db, WriteTx, authors, books, publishers};
use crate::book_entry::{AddOutcome, BookEntry};
use crate::error::Result;
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

/// [`add_book`] in a transaction of its own.
pub async fn add_one(db: &Db, entry: BookEntry) -> Result<AddedBook> {
    db.write(move |tx| Box::pin(async move { add_book(tx, &entry).await }))
        .await
}
