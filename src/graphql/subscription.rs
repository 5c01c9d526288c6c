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

/// Declares the subscription fields, each the events of one variant of [`Event`] with its
/// payload wrapped as the field's type. A macro rather than nine methods written out:
/// `#[Subscription]` wants a method per field, and they would differ only in names.
macro_rules! subscription_fields {
    ($($(#[doc = $doc:literal])* $field:ident: $item:ty = $variant:ident($wrap:expr);)*) => {
        /// Changes to the catalogue, announced once their transaction has committed. A call that
        /// changed nothing (`addBook` answering `ALREADY_EXISTED`) or was rolled back announces
        /// nothing.
        #[Subscription(name = "Subscription")]
        impl SubscriptionRoot {
            $(
                $(#[doc = $doc])*
                async fn $field(
                    &self,
                    ctx: &Context<'_>,
                ) -> impl Stream<Item = Result<$item>> + use<> {
                    events(ctx, |event| match event {
                        Event::$variant(payload) => Some($wrap(payload)),
                        _ => None,
                    })
                }
            )*
        }
    };
}

subscription_fields! {
    /// Each book created from now on.
    book_added: Book = BookAdded(Book);
    /// Each book whose title, author or publishers change from now on (a new publisher
    /// link included).
    book_changed: Book = BookChanged(Book);
    /// The ID of each book deleted from now on.
    book_deleted: ID = BookDeleted(to_id);
    /// Each author created from now on.
    author_added: Author = AuthorAdded(Author);
    /// Each author renamed from now on.
    author_changed: Author = AuthorChanged(Author);
    /// The ID of each author deleted from now on.
    author_deleted: ID = AuthorDeleted(to_id);
    /// Each publisher created from now on.
    publisher_added: Publisher = PublisherAdded(Publisher);
    /// Each publisher renamed from now on.
    publisher_changed: Publisher = PublisherChanged(Publisher);
    /// The ID of each publisher deleted from now on.
    publisher_deleted: ID = PublisherDeleted(to_id);
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
                            db.scope().restart();
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
