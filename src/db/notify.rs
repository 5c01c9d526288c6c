//! Changes fanned out across processes through PostgreSQL's `LISTEN/NOTIFY`: a write
//! transaction notifies before it commits (PostgreSQL delivers on commit, or never), and
//! every process, the writer's own included, relays what it hears to its subscribers.
//!
//! Order without a lock shared by all writers: PostgreSQL appends a transaction's
//! notifications to its one queue as it commits, so every listener hears transactions in
//! the order they committed, and each one's notifications in the order sent. Two writes to
//! the same row cannot commit out of order: the second waits for the first's row lock
//! until the first has committed. So each change is heard once, by every replica, after
//! every earlier change to its rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::events::{Event, Events};
use super::sql::string_literal;
use crate::error::Result;

/// The channel every bookgraph process on a database listens on.
const CHANNEL: &str = "bookgraph_events";

/// PostgreSQL refuses payloads of 8000 bytes or more; events are packed into JSON arrays
/// that stay below this.
const MAX_PAYLOAD: usize = 7000;

/// The statements that send `events`, in order, to every listener once the transaction
/// they run in commits. Each payload is written into the statement as a literal: these go
/// out in the commit's round trip, where no value can be bound.
pub(super) fn announcements(events: &[Event]) -> Result<String> {
    Ok(payloads(events)?
        .iter()
        .map(|payload| {
            format!(
                "select pg_notify('{CHANNEL}', {});",
                string_literal(payload)
            )
        })
        .collect())
}

/// `events` as JSON arrays of at most [`MAX_PAYLOAD`] bytes each (one event is far below
/// it: names are limited to 500 characters).
fn payloads(events: &[Event]) -> Result<Vec<String>> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    for event in events {
        let json = serde_json::to_string(event).map_err(std::io::Error::other)?;
        if !current.is_empty() && current.len() + json.len() + 2 > MAX_PAYLOAD {
            current.push(']');
            payloads.push(std::mem::take(&mut current));
        }
        current.push(if current.is_empty() { '[' } else { ',' });
        current.push_str(&json);
    }
    if !current.is_empty() {
        current.push(']');
        payloads.push(current);
    }
    Ok(payloads)
}

/// How often a listener that lost its connection tries to get it back.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// The task relaying notifications to this process's [`Events`].
#[derive(Debug)]
pub(super) struct Listener {
    task: JoinHandle<()>,
    connected: Arc<AtomicBool>,
}

impl Listener {
    /// Listens on [`CHANNEL`] before returning, so no change committed after this
    /// process starts serving is missed.
    pub(super) async fn start(url: &str, events: Events) -> Result<Listener> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let connected = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn(relay(listener, events, Arc::clone(&connected)));
        Ok(Listener { task, connected })
    }

    /// Whether changes from other processes reach this one right now.
    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(super) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Publishes every notification; when the connection is lost, marks the listener
/// disconnected until a new connection listens again. Changes committed in between are not
/// replayed, so subscribers may miss them; `/ready` says so meanwhile.
async fn relay(mut listener: PgListener, events: Events, connected: Arc<AtomicBool>) {
    loop {
        match listener.recv().await {
            Ok(notification) => match serde_json::from_str::<Vec<Event>>(notification.payload()) {
                Ok(batch) => events.publish(batch),
                Err(error) => tracing::warn!(%error, "ignored a malformed change notification"),
            },
            Err(error) => {
                connected.store(false, Ordering::Relaxed);
                tracing::warn!(%error, "lost the change notification connection; reconnecting");
                // A statement on the listener reconnects it and listens again.
                while sqlx::query("select 1")
                    .execute(&mut listener)
                    .await
                    .is_err()
                {
                    tokio::time::sleep(RECONNECT_EVERY).await;
                }
                connected.store(true, Ordering::Relaxed);
                tracing::info!("the change notification connection is back");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_below_postgres_limit_and_keep_every_event_in_order() {
        let events: Vec<Event> = (0..100).map(Event::BookDeleted).collect::<Vec<_>>();
        let long = (0..50)
            .map(|id| {
                Event::AuthorAdded(crate::db::models::AuthorRow {
                    id,
                    first_name: "é".repeat(500),
                    last_name: "ß".repeat(500),
                })
            })
            .collect::<Vec<_>>();
        let all = [events, long].concat();
        let payloads = payloads(&all).unwrap();
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|payload| payload.len() < MAX_PAYLOAD));
        let decoded: Vec<Event> = payloads
            .iter()
            .flat_map(|payload| serde_json::from_str::<Vec<Event>>(payload).unwrap())
            .collect();
        assert_eq!(decoded, all);
    }
}
