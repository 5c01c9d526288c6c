//! Rows as SQL returns them. No GraphQL here: `graphql::types` wraps these.
//!
//! Batched reads deliver rows as JSON arrays of their columns in field order, which serde's
//! derived `Deserialize` reads as it reads an object; writes read them with `FromRow`.

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

/// The children of one parent in a batched one-to-many lookup, in the relation's order.
/// Read from the JSON array `[parent, [child, …]]`.
#[derive(Debug, Deserialize)]
pub struct ChildrenOf<T> {
    /// Id of the parent row the batch was keyed by.
    pub parent: i64,
    /// Its children.
    pub children: Vec<T>,
}

/// Aggregates of one author, derived from its books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct AuthorCounts {
    /// The author's id.
    pub id: i64,
    /// Books by the author.
    pub book_count: i64,
}

/// Aggregates of one publisher, derived from its books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct PublisherCounts {
    /// The publisher's id.
    pub id: i64,
    /// Books linked to the publisher.
    pub book_count: i64,
    /// Distinct authors of those books.
    pub author_count: i64,
}
