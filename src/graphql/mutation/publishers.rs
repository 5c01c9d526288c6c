//! Mutations of publishers.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::books::DeletePayload;
use super::{parse_name, write};
use crate::db;
use crate::error::ClientResult;
use crate::graphql::ids::parse_id;
use crate::graphql::types::Publisher;
use crate::names::MAX_NAME_CHARS;

/// Mutations of publishers.
#[derive(Default)]
pub struct PublisherMutations;

#[Object]
impl PublisherMutations {
    /// Create a publisher. A name already taken (ignoring case) is a CONFLICT naming the
    /// existing publisher's ID in `extensions.existingId`.
    async fn create_publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The publisher to create.")] input: CreatePublisherInput,
    ) -> ClientResult<PublisherPayload> {
        let name = parse_name("input.name", &input.name, MAX_NAME_CHARS)?;
        let publisher = write(ctx, move |tx| {
            Box::pin(async move { db::publishers::create(tx, &name).await })
        })
        .await?;
        Ok(PublisherPayload {
            publisher: Publisher(publisher),
        })
    }

    /// Rename a publisher. Renaming onto another publisher's name (ignoring case) is a
    /// CONFLICT naming that publisher.
    async fn update_publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The publisher and its new name.")] input: UpdatePublisherInput,
    ) -> ClientResult<PublisherPayload> {
        let id = parse_id("input.id", &input.id)?;
        let name = parse_name("input.name", &input.name, MAX_NAME_CHARS)?;
        let publisher = write(ctx, move |tx| {
            Box::pin(async move { db::publishers::rename(tx, id, &name).await })
        })
        .await?;
        Ok(PublisherPayload {
            publisher: Publisher(publisher),
        })
    }

    /// Delete a publisher. One with books is a CONFLICT unless `cascade` is true; then its
    /// books and their links go too, and the payload says how many books.
    async fn delete_publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The publisher to delete.")] input: DeletePublisherInput,
    ) -> ClientResult<DeletePayload> {
        let id = parse_id("input.id", &input.id)?;
        let books = write(ctx, move |tx| {
            Box::pin(async move { db::publishers::delete(tx, id, input.cascade).await })
        })
        .await?;
        Ok(DeletePayload::new(id, books))
    }
}

/// A new publisher. The name is trimmed and inner white space collapsed.
#[derive(InputObject)]
pub struct CreatePublisherInput {
    /// The name (at most 200 characters).
    pub name: String,
}

/// A new name for a publisher.
#[derive(InputObject)]
pub struct UpdatePublisherInput {
    /// The publisher to rename.
    pub id: ID,
    /// The new name (at most 200 characters).
    pub name: String,
}

/// The publisher to delete.
#[derive(InputObject)]
pub struct DeletePublisherInput {
    /// The publisher's ID.
    pub id: ID,
    /// Also delete the publisher's books (and their links) instead of refusing.
    #[graphql(default)]
    pub cascade: bool,
}

/// A publisher after a change.
#[derive(SimpleObject)]
pub struct PublisherPayload {
    /// The publisher, as stored now.
    pub publisher: Publisher,
}
