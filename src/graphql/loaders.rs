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
use crate::db::models::{AuthorRow, BookRow, ChildrenOf, PublisherCounts, PublisherRow};
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// Keys per batch: bounds the id list and the answer of one statement. A level with more
/// parents than this takes a statement per this many.
const MAX_BATCH: usize = 10_000;

/// The loader of one request.
pub type Loaders = DataLoader<Catalog>;

/// Builds the loader for one request over `db`; its batches run from `queue`.
pub fn loaders(db: Db, queue: &BatchQueue) -> Loaders {
    let queue = queue.clone();
    DataLoader::new(Catalog { db }, move |batch| queue.spawn(batch))
        .delay(Duration::ZERO)
        .max_batch_size(MAX_BATCH)
}

/// Builds a loader over `db` whose batches run as tasks of their own, after async-graphql's
/// default 1 ms of collecting keys. For WebSocket connections: their operations do not run
/// inside [`super::execute`], so nothing would poll a [`BatchQueue`].
pub fn spawned_loaders(db: Db) -> Loaders {
    DataLoader::new(Catalog { db }, tokio::spawn).max_batch_size(MAX_BATCH)
}

/// Loads every relation of the catalogue in batches.
pub struct Catalog {
    db: Db,
}

/// A table whose rows are looked up by primary key.
pub trait Table: Send + Sync + 'static {
    /// The row type.
    type Row: Clone + Send + Sync + 'static;
    /// The rows with these ids.
    fn fetch(db: &Db, ids: &[i64]) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;
    /// The row's primary key.
    fn id(row: &Self::Row) -> i64;
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

/// Key: the row of table `T` with this id.
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

// Hand-written so the marker types need no derives of their own.
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
impl<R> Hash for ListOf<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.owner, self.first).hash(state);
    }
}

impl<T: Table> Loader<ById<T>> for Catalog {
    type Value = T::Row;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ById<T>]) -> Result<HashMap<ById<T>, T::Row>, Arc<Error>> {
        self.db.stats().observe_batch(keys.len());
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let rows = T::fetch(&self.db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| (ById::new(T::id(&row)), row))
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
        let mut owners_by_first: HashMap<Option<i64>, Vec<i64>> = HashMap::new();
        for key in keys {
            owners_by_first
                .entry(key.first)
                .or_default()
                .push(key.owner);
        }
        let mut lists = HashMap::with_capacity(keys.len());
        for (first, owners) in owners_by_first {
            let families = R::fetch(&self.db, &owners, first).await?;
            let rows = families.iter().map(|family| family.children.len()).sum();
            self.db.charge_rows(rows)?;
            for ChildrenOf { parent, children } in families {
                lists.insert(ListOf::new(parent, first), children.into());
            }
            for owner in owners {
                lists.entry(ListOf::new(owner, first)).or_default();
            }
        }
        Ok(lists)
    }
}

/// Key: how many books the author with this id has.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthorBookCount(pub i64);

impl Loader<AuthorBookCount> for Catalog {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[AuthorBookCount],
    ) -> Result<HashMap<AuthorBookCount, i64>, Arc<Error>> {
        self.db.stats().observe_batch(keys.len());
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let counts = db::authors::book_counts(&self.db, &ids).await?;
        Ok(counts
            .into_iter()
            .map(|(id, count)| (AuthorBookCount(id), count))
            .collect())
    }
}

/// Key: the book and author counts of the publisher with this id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountsOfPublisher(pub i64);

impl Loader<CountsOfPublisher> for Catalog {
    type Value = PublisherCounts;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[CountsOfPublisher],
    ) -> Result<HashMap<CountsOfPublisher, PublisherCounts>, Arc<Error>> {
        self.db.stats().observe_batch(keys.len());
        let ids: Vec<i64> = keys.iter().map(|key| key.0).collect();
        let counts = db::publishers::counts(&self.db, &ids).await?;
        Ok(counts
            .into_iter()
            .map(|(id, counts)| (CountsOfPublisher(id), counts))
            .collect())
    }
}

/// Marker: the `author` table.
pub struct Authors;
/// Marker: the `book` table.
pub struct Books;
/// Marker: the `publisher` table.
pub struct Publishers;

macro_rules! table {
    ($table:ty, $row:ty, $fetch:path) => {
        impl Table for $table {
            type Row = $row;
            fn fetch(db: &Db, ids: &[i64]) -> impl Future<Output = Result<Vec<$row>>> + Send {
                $fetch(db, ids)
            }
            fn id(row: &$row) -> i64 {
                row.id
            }
        }
    };
}

table!(Authors, AuthorRow, db::authors::by_ids);
table!(Books, BookRow, db::books::by_ids);
table!(Publishers, PublisherRow, db::publishers::by_ids);

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

macro_rules! relation {
    ($relation:ty, $row:ty, $fetch:path) => {
        impl Relation for $relation {
            type Row = $row;
            fn fetch(
                db: &Db,
                owners: &[i64],
                first: Option<i64>,
            ) -> impl Future<Output = Result<Vec<ChildrenOf<$row>>>> + Send {
                $fetch(db, owners, first)
            }
        }
    };
}

relation!(BooksByAuthor, BookRow, db::books::of_authors);
relation!(PublishersByAuthor, PublisherRow, db::publishers::of_authors);
relation!(PublishersByBook, PublisherRow, db::publishers::of_books);
relation!(BooksByPublisher, BookRow, db::books::of_publishers);
relation!(AuthorsByPublisher, AuthorRow, db::authors::of_publishers);
