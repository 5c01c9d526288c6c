//! Rows as SQL returns them. No GraphQL here: `graphql::types` wraps these.
//!
//! Batched reads deliver rows as JSON arrays of their columns in field order, which serde's
//! derived `Deserialize` reads as it reads an object; writes read them with `FromRow`.

use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::names::cmp_by_key;

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

/// The order the lists of a row type are in, wherever they appear: the order of the key
/// columns that `lookup::Children::order` sorts by in SQL, compared here on the names the
/// keys are made from.
pub trait ListOrder {
    /// How `self` and `other` compare in a list.
    fn cmp_listed(&self, other: &Self) -> Ordering;
}

/// Books by title, then id.
impl ListOrder for BookRow {
    fn cmp_listed(&self, other: &Self) -> Ordering {
        cmp_by_key(&self.title, &other.title).then(self.id.cmp(&other.id))
    }
}

/// Publishers by name, then id.
impl ListOrder for PublisherRow {
    fn cmp_listed(&self, other: &Self) -> Ordering {
        cmp_by_key(&self.name, &other.name).then(self.id.cmp(&other.id))
    }
}

/// Authors by last name, then first name, then id.
impl ListOrder for AuthorRow {
    fn cmp_listed(&self, other: &Self) -> Ordering {
        cmp_by_key(&self.last_name, &other.last_name)
            .then_with(|| cmp_by_key(&self.first_name, &other.first_name))
            .then(self.id.cmp(&other.id))
    }
}

/// A child row of a batched one-to-many lookup with the id of its parent, read from the
/// flat JSON array `[parent, column, …]`: one array per row, not one inside another,
/// which SQLite builds and serde reads at less cost.
#[derive(Debug)]
pub struct WithParent<T> {
    /// Id of the parent row the batch was keyed by.
    pub parent: i64,
    /// The child.
    pub row: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WithParent<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Flat<T>(PhantomData<fn() -> T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Flat<T> {
            type Value = WithParent<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an array of a parent id and a row's columns")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let parent = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                // The rest of the array is the row, as its own array would be.
                let row = T::deserialize(SeqAccessDeserializer::new(&mut seq))?;
                Ok(WithParent { parent, row })
            }
        }

        deserializer.deserialize_seq(Flat(PhantomData))
    }
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

/// The children of a batch of parents, each parent's in the relation's order, the parents
/// sorted so that one parent's children are found by a binary search, not a hash.
#[derive(Debug)]
pub struct Families<T>(Vec<ChildrenOf<T>>);

impl<T> Families<T> {
    /// Gathers `families` of distinct parents, in any order.
    pub fn new(mut families: Vec<ChildrenOf<T>>) -> Self {
        families.sort_unstable_by_key(|family| family.parent);
        Families(families)
    }

    /// The children of `parent`: none when it has none, or was not asked for.
    pub fn of(&self, parent: i64) -> &[T] {
        self.0
            .binary_search_by_key(&parent, |family| family.parent)
            .map_or(&[], |found| &self.0[found].children)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn family(parent: i64, children: &[&str]) -> ChildrenOf<String> {
        let children = children.iter().map(|&child| child.to_owned()).collect();
        ChildrenOf { parent, children }
    }

    #[test]
    fn families_find_each_parents_children_whatever_order_they_came_in() {
        let families = Families::new(vec![
            family(9, &["c"]),
            family(2, &["a", "b"]),
            family(5, &[]),
        ]);
        assert_eq!(families.of(2), ["a", "b"]);
        assert_eq!(families.of(9), ["c"]);
        assert!(families.of(5).is_empty());
        assert!(
            families.of(7).is_empty(),
            "a parent never asked for has no children"
        );
    }
}
