//! One DataLoader per request, batching every relation the schema resolves.
//!
//! Each relation is a key type named after it; all of them load through [`Catalog`], so a
//! request holds one `DataLoader` and each nesting level of a query costs one statement
//! whatever the number of parents.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use serde::de::DeserializeOwned;

use super::batch::BatchQueue;
use crate::db::lookup::Children;
use crate::db::models::{
    AuthorCounts, AuthorRow, BookRow, ChildrenOf, Families, ListOrder, PublisherCounts,
    PublisherRow,
};
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// Ids per statement: bounds the id list and the answer of one statement. A level with more
/// parents than this takes a statement per this many.
pub(super) const MAX_BATCH: usize = 10_000;

/// The loader of one request.
pub type Loaders = DataLoader<Catalog>;

/// Builds the loader for one request over `db`; its batches run from `queue`.
pub(super) fn loaders(db: Db, queue: &BatchQueue) -> Loaders {
    let queue = queue.clone();
    // The batch size bounds the ids of `ById` keys; `ListsOf` keys chunk their owners.
    DataLoader::new(Catalog::new(db), move |batch| queue.spawn(batch))
        .delay(Duration::ZERO)
        .max_batch_size(MAX_BATCH)
}

/// Builds a loader over `db` whose batches run as tasks of their own, after async-graphql's
/// default 1 ms of collecting keys. For subscriptions: their events are resolved outside
/// [`super::execute`], so nothing would poll a [`BatchQueue`].
pub(super) fn spawned_loaders(db: Db) -> Loaders {
    DataLoader::new(Catalog::new(db), tokio::spawn).max_batch_size(MAX_BATCH)
}

/// Loads every relation of the catalogue in batches.
pub struct Catalog {
    db: Db,
    /// Lists read with the page of their parents, for the level below the page to take
    /// instead of loading them.
    read_ahead: ReadAhead,
}

/// The lists along relation `R` of some parents, as loading them gives them: shared, since
/// every parent's key gets a copy.
pub type Lists<R> = Result<Arc<Families<<R as Relation>::Row>>, Arc<Error>>;

impl Catalog {
    fn new(db: Db) -> Self {
        Catalog {
            db,
            read_ahead: ReadAhead::default(),
        }
    }

    /// Keeps `children`, at most `first` along `R` of each of `owners`, read with their
    /// page, for [`Catalog::read_ahead`]. Their rows count against the request's budget now,
    /// as a load's would; going over it is the error of the level that shows them.
    pub fn keep_read_ahead<R: Relation>(
        &self,
        owners: Vec<i64>,
        first: Option<i64>,
        children: Vec<ChildrenOf<R::Row>>,
    ) {
        let lists = match self.counted(owners.len(), &children) {
            Ok(()) => Ok(Arc::new(Families::new(children))),
            Err(error) => Err(Arc::new(error)),
        };
        self.read_ahead.keep::<R>(owners, first, lists);
    }

    /// The lists along `R`, at most `first` each, of every one of `owners`, if they were
    /// read ahead.
    pub fn read_ahead<R: Relation>(&self, owners: &[i64], first: Option<i64>) -> Option<Lists<R>> {
        self.read_ahead.find::<R>(owners, first)
    }

    /// Counts one statement's `families`, of `parents` parents: the batch in the
    /// statistics, the rows against the request's budget.
    fn counted<T>(&self, parents: usize, families: &[ChildrenOf<T>]) -> Result<()> {
        if parents > 0 {
            self.db.stats().observe_batch(parents);
        }
        let rows = families.iter().map(|family| family.children.len()).sum();
        self.db.scope().charge_rows(rows)
    }
}

/// Lists read ahead of the level that shows them, in one request.
#[derive(Default)]
struct ReadAhead(Mutex<Vec<KeptLists>>);

/// The lists along one relation of some parents.
struct KeptLists {
    relation: TypeId,
    first: Option<i64>,
    /// The parents, sorted.
    owners: Vec<i64>,
    /// The [`Lists`] of the relation.
    lists: Box<dyn Any + Send>,
}

impl ReadAhead {
    fn keep<R: Relation>(&self, mut owners: Vec<i64>, first: Option<i64>, lists: Lists<R>) {
        owners.sort_unstable();
        let kept = KeptLists {
            relation: TypeId::of::<R>(),
            first,
            owners,
            lists: Box::new(lists),
        };
        self.lock().push(kept);
    }

    /// Lists kept for every one of `owners`, and for none but the parents they were read
    /// for: a level of other parents loads its own.
    fn find<R: Relation>(&self, owners: &[i64], first: Option<i64>) -> Option<Lists<R>> {
        self.lock()
            .iter()
            .filter(|kept| kept.relation == TypeId::of::<R>() && kept.first == first)
            .filter(|kept| {
                owners
                    .iter()
                    .all(|owner| kept.owners.binary_search(owner).is_ok())
            })
            .find_map(|kept| kept.lists.downcast_ref().cloned())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<KeptLists>> {
        // Nothing panics while holding it with a list half-pushed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
    type Row: Clone + DeserializeOwned + ListOrder + Send + Sync + 'static;
    /// How the database finds the children of a batch of parents.
    const CHILDREN: &'static Children;
}

/// Key: the row of type `T` with this id.
pub struct ById<T>(pub i64, PhantomData<fn() -> T>);

/// Key: at most `first` children along relation `R` of each of `owners`, the parents of one
/// list field at one level. Keys are compared by identity, not by their owners: a key per
/// owner, which the DataLoader hashes several times over, cost a tenth of a nested query's
/// CPU.
pub struct ListsOf<R> {
    owners: Arc<[i64]>,
    first: Option<i64>,
    relation: PhantomData<fn() -> R>,
}

impl<T> ById<T> {
    /// The key for `id`.
    pub fn new(id: i64) -> Self {
        ById(id, PhantomData)
    }
}

impl<R> ListsOf<R> {
    /// The key for the first `first` children (all when `None`) of each of `owners`.
    pub fn new(owners: Arc<[i64]>, first: Option<i64>) -> Self {
        ListsOf {
            owners,
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
impl<R> Clone for ListsOf<R> {
    fn clone(&self) -> Self {
        ListsOf::new(Arc::clone(&self.owners), self.first)
    }
}
impl<R> PartialEq for ListsOf<R> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.owners, &other.owners) && self.first == other.first
    }
}
impl<R> Eq for ListsOf<R> {}
impl<R> Hash for ListsOf<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.owners), state);
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

/// Shared, not copied: DataLoader hands every key its own clone of the value, and the
/// families of one `first` are the same for every key of the batch.
impl<R: Relation> Loader<ListsOf<R>> for Catalog {
    type Value = Arc<Families<R::Row>>;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[ListsOf<R>],
    ) -> Result<HashMap<ListsOf<R>, Arc<Families<R::Row>>>, Arc<Error>> {
        // Fields at one level normally share one `first`; each distinct value costs a
        // statement per `MAX_BATCH` parents, never one per parent.
        let mut firsts: Vec<Option<i64>> = keys.iter().map(|key| key.first).collect();
        firsts.sort_unstable();
        firsts.dedup();
        let mut lists = HashMap::with_capacity(keys.len());
        for first in firsts {
            let keys = keys.iter().filter(|key| key.first == first);
            let mut owners: Vec<i64> = keys
                .clone()
                .flat_map(|key| key.owners.iter().copied())
                .collect();
            owners.sort_unstable();
            owners.dedup();
            let mut families = Vec::new();
            for owners in owners.chunks(MAX_BATCH) {
                let chunk = R::CHILDREN.fetch(&self.db, owners, first).await?;
                self.counted(owners.len(), &chunk)?;
                families.extend(chunk);
            }
            let families = Arc::new(Families::new(families));
            for key in keys {
                lists.insert(key.clone(), Arc::clone(&families));
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
            const CHILDREN: &'static Children = &$children;
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
