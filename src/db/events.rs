//! Changes to the catalogue, announced to subscribers once their transaction has committed.
//! Write transactions collect events as they change rows; a rolled-back transaction, or one
//! that changed nothing, announces nothing. On PostgreSQL the events of every process on the
//! database arrive here, relayed by the listener in `notify`.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::models::{AuthorRow, BookRow, PublisherRow};

/// Events kept for a subscriber that falls behind; one that falls further is ended.
const BACKLOG: usize = 1024;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A book was created.
    BookAdded(BookRow),
    /// A book's title, author or publishers changed.
    BookChanged(BookRow),
    /// A book was deleted.
    BookDeleted(i64),
    /// An author was created.
    AuthorAdded(AuthorRow),
    /// An author was renamed.
    AuthorChanged(AuthorRow),
    /// An author was deleted.
    AuthorDeleted(i64),
    /// A publisher was created.
    PublisherAdded(PublisherRow),
    /// A publisher was renamed.
    PublisherChanged(PublisherRow),
    /// A publisher was deleted.
    PublisherDeleted(i64),
}

/// The channel events go out on; cloning shares it.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(BACKLOG).0)
    }
}

impl Events {
    /// Whether anyone listens; writers skip collecting events otherwise.
    pub fn has_subscribers(&self) -> bool {
        self.0.receiver_count() > 0
    }

    /// How many listen.
    pub fn subscriber_count(&self) -> usize {
        self.0.receiver_count()
    }

    /// Announces committed changes, in order.
    pub fn publish(&self, events: Vec<Event>) {
        for event in events {
            // No receiver is not an error: nobody is listening right now.
            let _ = self.0.send(event);
        }
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
