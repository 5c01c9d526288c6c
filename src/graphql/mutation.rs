//! The mutation root: `addBook`, the tutorial's `add_new_book`.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::types::Book;
use crate::book_entry::{AddOutcome, BookEntry};
use crate::db::{self, Db};
use crate::error::{ClientResult, Error};

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
    pub outcome: AddOutcome,
    /// Whether the author was created by this call.
    pub author_created: bool,
    /// Whether the publisher was created by this call.
    pub publisher_created: bool,
}

/// Entry points for changing the catalogue.
pub struct MutationRoot;

/// Entry points for changing the catalogue.
#[Object(name = "Mutation")]
impl MutationRoot {
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
        let added = db::add_book::add_one(ctx.data_unchecked::<Db>(), &entry).await?;
        Ok(AddBookPayload {
            book: Book(added.book),
            outcome: added.outcome,
            author_created: added.author_created,
            publisher_created: added.publisher_created,
        })
    }
}
