//! Rows as SQL returns them. No GraphQL here: `graphql::types` wraps these.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

/// One `author` row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct AuthorRow {
    /// Primary key.
    pub id: i64,
    /// As first stored, normalised.
    pub first_name: String,
    /// As first stored, normalised.
    pub last_name: String,
}

/// One `book` row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct BookRow {
    /// Primary key.
    pub id: i64,
    /// The book's one author.
    pub author_id: i64,
    /// As first stored, normalised.
    pub title: String,
}

/// One `publisher` row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct PublisherRow {
    /// Primary key.
    pub id: i64,
    /// As first stored, normalised.
    pub name: String,
}

/// A row of a batched one-to-many lookup, tagged with the id of the parent it belongs to.
#[derive(Debug, FromRow)]
pub struct Owned<T> {
    /// Id of the parent row the batch was keyed by.
    pub owner_id: i64,
    /// The child row.
    #[sqlx(flatten)]
    pub row: T,
}

/// Aggregates of one publisher, derived from its books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct PublisherCounts {
    /// Books linked to the publisher.
    pub book_count: i64,
    /// Distinct authors of those books.
    pub author_count: i64,
}
