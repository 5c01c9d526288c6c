//! Mutations of books and their publishers, `addBook` (the tutorial's `add_new_book`) first.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::{parse_name, write};
use crate::book_entry::{AddOutcome, BookEntry};
use crate::db::{self, Db};
use crate::error::{ClientResult, Error, Result};
use crate::graphql::ids::{parse_id, to_id};
use crate::graphql::types::Book;
use crate::names::MAX_TITLE_CHARS;

/// Names are trimmed and inner runs of white space collapsed to one space before they are
/// stored or matched; matching ignores letter case, and an existing row keeps its own
/// spelling.
#[derive(InputObject)]
pub struct AddBookInput {
    /// The book's title (at most 500 characters).
    pub title: String,
    /// The author's first name (at most 200 characters).
    pub author_first_name: String,
    /// The author's last name (at most 200 characters).
    pub author_last_name: String,
    /// The publisher's name (at most 200 characters).
    pub publisher_name: String,
}

/// What `addBook` did.
#[derive(SimpleObject)]
pub struct AddBookPayload {
    /// The book, as stored.
    pub book: Book,
    /// Whether the book or its link to the publisher is new.
    pub outcome: AddBookOutcome,
    /// Whether the author was created by this call.
    pub author_created: bool,
    /// Whether the publisher was created by this call.
    pub publisher_created: bool,
}

/// What recording a book entry changed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddBookOutcome {
    /// A new book was created and linked to the publisher.
    Created,
    /// The author already had a book of this title; the publisher was added to it.
    PublisherAdded,
    /// That book was already published by that publisher; nothing changed.
    AlreadyExisted,
}

/// The data layer's outcome, as the schema names it; `book_entry` knows nothing of GraphQL.
impl From<AddOutcome> for AddBookOutcome {
    fn from(outcome: AddOutcome) -> Self {
        match outcome {
            AddOutcome::Created => AddBookOutcome::Created,
            AddOutcome::PublisherAdded => AddBookOutcome::PublisherAdded,
            AddOutcome::AlreadyExisted => AddBookOutcome::AlreadyExisted,
        }
    }
}

/// Mutations of books.
#[derive(Default)]
pub struct BookMutations;

#[Object]
impl BookMutations {
    /// Find-or-create the author and the publisher, find-or-create the author's book of
    /// that title, and link it to the publisher: all in one transaction, safe when many
    /// clients call it at once.
    async fn add_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book, its author and its publisher, by name.")] input: AddBookInput,
    ) -> ClientResult<AddBookPayload> {
        let entry = BookEntry::parse(
            &input.author_first_name,
            &input.author_last_name,
            &input.title,
            &input.publisher_name,
        )
        .map_err(|(field, error)| {
            Error::bad_input(format!("input.{}", field.input_name()), error.to_string())
        })?;
        let added = db::add_book::add_one(ctx.data_unchecked::<Db>(), entry).await?;
        Ok(AddBookPayload {
            book: Book(added.book),
            outcome: added.outcome.into(),
            author_created: added.author_created,
            publisher_created: added.publisher_created,
        })
    }

    /// Retitle a book and/or move it to another author, who must not already have a book
    /// of that title.
    async fn update_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book and what to change.")] input: UpdateBookInput,
    ) -> ClientResult<BookPayload> {
        let id = parse_id("input.id", &input.id)?;
        let title = input
            .title
            .map(|title| parse_name("input.title", &title, MAX_TITLE_CHARS))
            .transpose()?;
        let author_id = input
            .author_id
            .map(|author| parse_id("input.authorId", &author))
            .transpose()?;
        let book = write(ctx, move |tx| {
            Box::pin(async move { db::books::update(tx, id, title.as_ref(), author_id).await })
        })
        .await?;
        Ok(BookPayload { book: Book(book) })
    }

    /// Delete a book and its links to publishers.
    async fn delete_book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book to delete.")] input: DeleteBookInput,
    ) -> ClientResult<DeletePayload> {
        let id = parse_id("input.id", &input.id)?;
        write(ctx, move |tx| {
            Box::pin(async move { db::books::delete(tx, id).await })
        })
        .await?;
        Ok(DeletePayload::new(id, 0))
    }

    /// Add a publisher to a book; adding one it already has changes nothing.
    async fn add_book_publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book and the publisher.")] input: BookPublisherInput,
    ) -> ClientResult<AddBookPublisherPayload> {
        let (book_id, publisher_id) = input.ids()?;
        let (book, added) = write(ctx, move |tx| {
            Box::pin(async move { db::books::add_publisher(tx, book_id, publisher_id).await })
        })
        .await?;
        Ok(AddBookPublisherPayload {
            book: Book(book),
            added,
        })
    }

    /// Remove a publisher from a book. A book keeps at least one publisher: removing its
    /// last is a CONFLICT (delete the book instead).
    async fn remove_book_publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book and the publisher.")] input: BookPublisherInput,
    ) -> ClientResult<BookPayload> {
        let (book_id, publisher_id) = input.ids()?;
        let book = write(ctx, move |tx| {
            Box::pin(async move { db::books::remove_publisher(tx, book_id, publisher_id).await })
        })
        .await?;
        Ok(BookPayload { book: Book(book) })
    }
}

/// Changes to a book; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateBookInput {
    /// The book to change.
    pub id: ID,
    /// The new title (at most 500 characters).
    pub title: Option<String>,
    /// The book's new author.
    pub author_id: Option<ID>,
}

/// The book to delete.
#[derive(InputObject)]
pub struct DeleteBookInput {
    /// The book's ID.
    pub id: ID,
}

/// A book and a publisher.
#[derive(InputObject)]
pub struct BookPublisherInput {
    /// The book's ID.
    pub book_id: ID,
    /// The publisher's ID.
    pub publisher_id: ID,
}

impl BookPublisherInput {
    fn ids(&self) -> Result<(i64, i64)> {
        Ok((
            parse_id("input.bookId", &self.book_id)?,
            parse_id("input.publisherId", &self.publisher_id)?,
        ))
    }
}

/// A book after a change.
#[derive(SimpleObject)]
pub struct BookPayload {
    /// The book, as stored now.
    pub book: Book,
}

/// A book after `addBookPublisher`.
#[derive(SimpleObject)]
pub struct AddBookPublisherPayload {
    /// The book, as stored now.
    pub book: Book,
    /// Whether the publisher was new to the book.
    pub added: bool,
}

/// What a delete removed.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The ID of the deleted row.
    pub deleted_id: ID,
    /// How many books went with it (`cascade: true`); 0 otherwise.
    pub deleted_book_count: i64,
}

impl DeletePayload {
    /// The payload for deleting `id` and `books` books with it.
    pub fn new(id: i64, books: u64) -> Self {
        DeletePayload {
            deleted_id: to_id(id),
            deleted_book_count: i64::try_from(books).unwrap_or(i64::MAX),
        }
    }
}
