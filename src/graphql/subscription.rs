//! The subscription root: committed changes to the catalogue, as they happen. Each field
//! follows the database's event channel and keeps the events of its kind; nothing here
//! reads SQL, and nested fields of an event resolve through the operation's loader, each
//! event with a fresh row budget.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::ids::to_id;
use super::types::{Author, Book, Publisher};
use crate::db::Db;
use crate::db::events::Event;
use crate::error::{ClientError, Error};

/// Changes to the catalogue, announced once their transaction has committed. A call that
/// changed nothing (`addBook` answering `ALREADY_EXISTED`) or was rolled back announces
/// nothing.
pub struct SubscriptionRoot;

/// Changes to the catalogue, announced once their transaction has committed. A call that
/// changed nothing (`addBook` answering `ALREADY_EXISTED`) or was rolled back announces
/// nothing.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Each book created from now on.
    async fn book_added(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<Book>> + use<> {
        events(ctx, |event| match event {
            Event::BookAdded(row) => Some(Book(row)),
            _ => None,
        })
    }

    /// Each book whose title, author or publishers change from now on (a new publisher
    /// link included).
    async fn book_changed(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<Book>> + use<> {
        events(ctx, |event| match event {
            Event::BookChanged(row) => Some(Book(row)),
            _ => None,
        })
    }

    /// The ID of each book deleted from now on.
    async fn book_deleted(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<ID>> + use<> {
        events(ctx, |event| match event {
            Event::BookDeleted(id) => Some(to_id(id)),
            _ => None,
        })
    }

    /// Each author created from now on.
    async fn author_added(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<Author>> + use<> {
        events(ctx, |event| match event {
            Event::AuthorAdded(row) => Some(Author(row)),
            _ => None,
        })
    }

    /// Each author renamed from now on.
    async fn author_changed(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = Result<Author>> + use<> {
        events(ctx, |event| match event {
            Event::AuthorChanged(row) => Some(Author(row)),
            _ => None,
        })
    }

    /// The ID of each author deleted from now on.
    async fn author_deleted(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<ID>> + use<> {
        events(ctx, |event| match event {
            Event::AuthorDeleted(id) => Some(to_id(id)),
            _ => None,
        })
    }

    /// Each publisher created from now on.
    async fn publisher_added(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = Result<Publisher>> + use<> {
        events(ctx, |event| match event {
            Event::PublisherAdded(row) => Some(Publisher(row)),
            _ => None,
        })
    }

    /// Each publisher renamed from now on.
    async fn publisher_changed(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = Result<Publisher>> + use<> {
        events(ctx, |event| match event {
            Event::PublisherChanged(row) => Some(Publisher(row)),
            _ => None,
        })
    }

    /// The ID of each publisher deleted from now on.
    async fn publisher_deleted(&self, ctx: &Context<'_>) -> impl Stream<Item = Result<ID>> + use<> {
        events(ctx, |event| match event {
            Event::PublisherDeleted(id) => Some(to_id(id)),
            _ => None,
        })
    }
}

/// The events `pick` keeps, from the moment of the call. A subscriber that falls more than
/// the channel's backlog behind gets an error and its subscription ends: skipping what it
/// missed would leave it believing it had seen every change.
fn events<T>(
    ctx: &Context<'_>,
    pick: fn(Event) -> Option<T>,
) -> impl Stream<Item = Result<T>> + use<T> {
    let db = ctx.data_unchecked::<Db>().clone();
    let receiver = db.events().subscribe();
    futures_util::stream::unfold(Some(receiver), move |receiver| {
        let db = db.clone();
        async move {
            let mut receiver = receiver?;
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        if let Some(item) = pick(event) {
                            db.restart_scope();
                            return Some((Ok(item), Some(receiver)));
                        }
                    }
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::info!(
                            skipped,
                            "a subscriber fell behind; ending its subscription"
                        );
                        let error = ClientError::from(Error::FellBehind { skipped });
                        return Some((Err(error.into()), None));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    })
}
