//! Mutations of authors.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::books::DeletePayload;
use super::{parse_name, write};
use crate::db;
use crate::error::ClientResult;
use crate::graphql::ids::parse_id;
use crate::graphql::types::Author;
use crate::names::MAX_NAME_CHARS;

/// Mutations of authors.
#[derive(Default)]
pub struct AuthorMutations;

#[Object]
impl AuthorMutations {
    /// Create an author. A name already taken (ignoring case) is a CONFLICT naming the
    /// existing author's ID in `extensions.existingId`.
    async fn create_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author to create.")] input: CreateAuthorInput,
    ) -> ClientResult<AuthorPayload> {
        let first = parse_name("input.firstName", &input.first_name, MAX_NAME_CHARS)?;
        let last = parse_name("input.lastName", &input.last_name, MAX_NAME_CHARS)?;
        let author = write(ctx, move |tx| {
            Box::pin(async move { db::authors::create(tx, &first, &last).await })
        })
        .await?;
        Ok(AuthorPayload {
            author: Author(author),
        })
    }

    /// Rename an author ("Stephen King becomes Richard Bachman"). Renaming onto another
    /// author's name (ignoring case) is a CONFLICT naming that author.
    async fn update_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author and its new name.")] input: UpdateAuthorInput,
    ) -> ClientResult<AuthorPayload> {
        let id = parse_id("input.id", &input.id)?;
        let first = input
            .first_name
            .map(|name| parse_name("input.firstName", &name, MAX_NAME_CHARS))
            .transpose()?;
        let last = input
            .last_name
            .map(|name| parse_name("input.lastName", &name, MAX_NAME_CHARS))
            .transpose()?;
        let author = write(ctx, move |tx| {
            Box::pin(
                async move { db::authors::rename(tx, id, first.as_ref(), last.as_ref()).await },
            )
        })
        .await?;
        Ok(AuthorPayload {
            author: Author(author),
        })
    }

    /// Delete an author. One with books is a CONFLICT unless `cascade` is true; then the
    /// books and their links go too, and the payload says how many books.
    async fn delete_author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author to delete.")] input: DeleteAuthorInput,
    ) -> ClientResult<DeletePayload> {
        let id = parse_id("input.id", &input.id)?;
        let books = write(ctx, move |tx| {
            Box::pin(async move { db::authors::delete(tx, id, input.cascade).await })
        })
        .await?;
        Ok(DeletePayload::new(id, books))
    }
}

/// A new author. Names are trimmed and inner white space collapsed.
#[derive(InputObject)]
pub struct CreateAuthorInput {
    /// First name (at most 200 characters).
    pub first_name: String,
    /// Last name (at most 200 characters).
    pub last_name: String,
}

/// A new name for an author; an omitted part keeps its value.
#[derive(InputObject)]
pub struct UpdateAuthorInput {
    /// The author to rename.
    pub id: ID,
    /// New first name (at most 200 characters).
    pub first_name: Option<String>,
    /// New last name (at most 200 characters).
    pub last_name: Option<String>,
}

/// The author to delete.
#[derive(InputObject)]
pub struct DeleteAuthorInput {
    /// The author's ID.
    pub id: ID,
    /// Also delete the author's books (and their links) instead of refusing.
    #[graphql(default)]
    pub cascade: bool,
}

/// An author after a change.
#[derive(SimpleObject)]
pub struct AuthorPayload {
    /// The author, as stored now.
    pub author: Author,
}
