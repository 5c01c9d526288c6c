//! One DataLoader per request, batching every relation the schema resolves.
//!
//! Each relation is a key type named after it; all of them load through [`Catalog`], so a
//! request holds one `DataLoader` and each nesting level of a query costs one statement
//! whatever the number of parents.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};

use super::batch::BatchQueue;
use crate::db::models::{
    AuthorCounts, AuthorRow, BookRow, ChildrenOf, PublisherCounts, PublisherRow,
};
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// Keys per batch: bounds the id list and the answer of one statement. A level with more
/// parents than this takes a statement per this many.
const MAX_BATCH: usize = 10_000;

/// The loader of one request.
pub type Loaders = DataLoader<Catalog>;

/// Builds the loader for one request over `db`; its batches run from `queue`.
pub(super) fn loaders(db: Db, queue: &BatchQueue) -> Loaders {
    let queue = queue.clone();
    DataLoader::new(Catalog { db }, move |batch| queue.spawn(batch))
        .delay(Duration::ZERO)
        .max_batch_size(MAX_BATCH)
}

/// Builds a loader over `db` whose batches run as tasks of their own, after async-graphql's
/// default 1 ms of collecting keys. For subscriptions: their events are resolved outside
/// [`super::execute`], so nothing would poll a [`BatchQueue`].
pub(super) fn spawned_loaders(db: Db) -> Loaders {
    DataLoader::new(Catalog { db }, tokio::spawn).max_batch_size(MAX_BATCH)
}

/// Loads every relation of the catalogue in batches.
pub struct Catalog {
    db: Db,
}

/// A row type, or some columns of one, looked up by primary key.
pub trait Keyed: Clone + Send + Sync + 'static {
    /// The rows with these ids.
    fn fetch(db: &Db, ids: &[i64]) -> impl Future<Output = Result<Vec<Self>>> + Send;
    /// The row's primary key.
    fn id(&self) -> i64;
}

/// A one-to-many relation, read in batches of parents with at most `first` children each.
pub trait Relation: Send + Sync + 'static {
    /// The child row type.
    type Row: Clone + Send + Sync + 'static;
    /// The children of each of these parents, in the relation's order.
    fn fetch(
        db: &Db,
        owners: &[i64],
        first: Option<i64>,
    ) -> impl Future<Output = Result<Vec<ChildrenOf<Self::Row>>>> + Send;
}

/// Key: the row of type `T` with this id.
pub struct ById<T>(pub i64, PhantomData<fn() -> T>);

/// Key: at most `first` children of `owner` along relation `R`.
pub struct ListOf<R> {
    owner: i64,
    first: Option<i64>,
    relation: PhantomData<fn() -> R>,
}

impl<T> ById<T> {
    /// The key for `id`.
    pub fn new(id: i64) -> Self {
        ById(id, PhantomData)
    }
}

impl<R> ListOf<R> {
    /// The key for `owner`'s first `first` children (all when `None`).
    pub fn new(owner: i64, first: Option<i64>) -> Self {
        ListOf {
            owner,
            first,
            relation: PhantomData,
        }
    }
}

// Hand-written so the row type needs no derives of its own.
impl<T> Clone for ById<T> {
    fn clone(&self) -> Self {
        ById::new(self.0)
    }
}
impl<T> PartialEq for ById<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T> Eq for ById<T> {}
impl<T> Hash for ById<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl<R> Clone for ListOf<R> {
    fn clone(&self) -> Self {
        ListOf::new(self.owner, self.first)
    }
}
impl<R> PartialEq for ListOf<R> {
    fn eq(&self, other: &Self) -> bool {
        (self.owner, self.first) == (other.owner, other.first)
    }
}
impl<R> Eq for ListOf<R> {}
/// The owner alone: keys of one owner with different `first`s are rare, and the DataLoader
/// hashes every key several times.
impl<R> Hash for ListOf<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.owner.hash(state);
    }
}

impl<T: Keyed> Loader<ById<T>> for Catalog {
    type Value = T;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ById<T>]) -> Result<HashMap<ById<T>, T>, Arc<Error>> {
        self.db.stats().observe_batch(keys.len());
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let rows = T::fetch(&self.db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| (ById::new(row.id()), row))
            .collect())
    }
}

/// Shared, not copied: DataLoader hands every parent asking for a key its own clone of the
/// value, so one author's books shown under a hundred publishers would be copied a hundred
/// times before the response budget (charged per parent, in `types`) could refuse them.
impl<R: Relation> Loader<ListOf<R>> for Catalog {
    type Value = Arc<[R::Row]>;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[ListOf<R>],
    ) -> Result<HashMap<ListOf<R>, Arc<[R::Row]>>, Arc<Error>> {
        // Fields at one level normally share one `first`; each distinct value costs one
        // statement, never one per parent.
        self.db.stats().observe_batch(keys.len());
        let mut owners_by_first: Vec<(Option<i64>, Vec<i64>)> = Vec::new();
        for key in keys {
            match owners_by_first
                .iter_mut()
                .find(|(first, _)| *first == key.first)
            {
                Some((_, owners)) => owners.push(key.owner),
                None => owners_by_first.push((key.first, vec![key.owner])),
            }
        }
        // Owners without children are left out: a missing key is an empty list.
        let mut lists = HashMap::with_capacity(keys.len());
        for (first, owners) in owners_by_first {
            let families = R::fetch(&self.db, &owners, first).await?;
            let rows = families.iter().map(|family| family.children.len()).sum();
            self.db.scope().charge_rows(rows)?;
            for ChildrenOf { parent, children } in families {
                lists.insert(ListOf::new(parent, first), children.into());
            }
        }
        Ok(lists)
    }
}

/// Implements [`Keyed`] for `$row`, read by the lookup `$by_id`.
macro_rules! keyed {
    ($row:ty, $by_id:path) => {
        impl Keyed for $row {
            fn fetch(db: &Db, ids: &[i64]) -> impl Future<Output = Result<Vec<$row>>> + Send {
                $by_id.fetch(db, ids)
            }
            fn id(&self) -> i64 {
                self.id
            }
        }
    };
}

/// Implements [`Relation`] for the marker `$relation`: children `$row`, read by the lookup
/// `$children`.
macro_rules! relation {
    ($relation:ty, $row:ty, $children:path) => {
        impl Relation for $relation {
            type Row = $row;
            fn fetch(
                db: &Db,
                owners: &[i64],
                first: Option<i64>,
            ) -> impl Future<Output = Result<Vec<ChildrenOf<$row>>>> + Send {
                $children.fetch(db, owners, first)
            }
        }
    };
}

keyed!(AuthorRow, db::authors::AUTHORS);
keyed!(BookRow, db::books::BOOKS);
keyed!(PublisherRow, db::publishers::PUBLISHERS);
keyed!(AuthorCounts, db::authors::BOOK_COUNTS);
keyed!(PublisherCounts, db::publishers::COUNTS);

/// Relation: an author's books, by title.
pub struct BooksByAuthor;
/// Relation: the distinct publishers of an author's books, by name.
pub struct PublishersByAuthor;
/// Relation: a book's publishers, by name.
pub struct PublishersByBook;
/// Relation: a publisher's books, by title.
pub struct BooksByPublisher;
/// Relation: the distinct authors of a publisher's books, by last then first name.
pub struct AuthorsByPublisher;

relation!(BooksByAuthor, BookRow, db::books::BOOKS_OF_AUTHORS);
relation!(
    PublishersByAuthor,
    PublisherRow,
    db::publishers::PUBLISHERS_OF_AUTHORS
);
relation!(
    PublishersByBook,
    PublisherRow,
    db::publishers::PUBLISHERS_OF_BOOKS
);
relation!(BooksByPublisher, BookRow, db::books::BOOKS_OF_PUBLISHERS);
relation!(
    AuthorsByPublisher,
    AuthorRow,
    db::authors::AUTHORS_OF_PUBLISHERS
);
