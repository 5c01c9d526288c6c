//! A page of a top-level list, read with the first nested list its items select in one
//! statement, and the list that list's items select, if any, in a second statement run
//! beside the first. The page's level and the two levels below it would otherwise be three
//! statements one after the other, each a hand-off to the database's thread and back (on
//! PostgreSQL, a round trip over the network); side by side, two readers share the work of
//! one request.
//!
//! The lists read ahead are kept by the request's loader ([`Catalog::keep_read_ahead`]),
//! the page's level first, where the levels below take them instead of loading them;
//! everything else about those levels (their arguments' errors, their paths) stays as a
//! load would have it. Their rows count against the request's row budget when they are
//! kept, even when a level then loads its own: when a write committed between the two
//! statements, so that the second read other children than the first.

use async_graphql::{Context, SelectionField, Value};
use futures_util::future::{self, BoxFuture};

use super::ids::nested_first;
use super::loaders::{
    AuthorsByPublisher, BooksByAuthor, BooksByPublisher, Catalog, Keyed, Loaders, MAX_BATCH,
    PublishersByAuthor, PublishersByBook, Relation,
};
use super::types::{Author, Book, Publisher};
use crate::db::lookup::Children;
use crate::db::models::{AuthorRow, BookRow, PublisherRow};
use crate::db::pages::{Along, BelowPage, Filter, Page, PageArgs, WithChildren};
use crate::db::{self, Db};
use crate::error::Result;

/// An object type listed in pages, with the lists its items may select.
pub trait ListsBelow {
    /// The row each item is made of.
    type Row: Keyed;

    /// The page `reader` reads, with the list `field` of its items, when `field` is one.
    fn read_with<'a, F: Filter<Row = Self::Row>>(
        field: SelectionField<'a>,
        reader: PageReader<'a, F>,
    ) -> Option<BoxFuture<'a, Result<Page<Self::Row>>>>;

    /// The lists `field` of the items, when `field` is a list, read for the items of a
    /// nested list of a page's rows by `reader`.
    fn read_below<'a, F: Filter>(
        field: &str,
        reader: BelowReader<'a, F>,
    ) -> Option<BoxFuture<'a, Keep<'a>>>;
}

/// Keeps lists read ahead for the level that shows them, once the levels above are kept.
pub type Keep<'a> = Box<dyn FnOnce() + Send + 'a>;

/// A relation whose children are objects of `Object`.
pub trait ChildObject: Relation {
    /// The object type of the children.
    type Object: ListsBelow<Row = Self::Row>;
}

/// One page of a top-level list, to read.
pub struct PageReader<'a, F: Filter> {
    db: &'a Db,
    catalog: &'a Catalog,
    filter: &'a F,
    order: F::Order,
    descending: bool,
    page: &'a PageArgs,
    /// The `first` of the nested list read with it.
    first: Option<i64>,
}

// By hand: a derive would ask the filter to be `Copy` too.
impl<F: Filter> Clone for PageReader<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F: Filter> Copy for PageReader<'_, F> {}

impl<'a, F: Filter> PageReader<'a, F>
where
    F::Row: Keyed,
{
    /// The page, with at most `first` children along `R` of each of its rows, and the lists
    /// their items select in `field`, kept for the levels below.
    fn read<R: ChildObject>(
        self,
        field: SelectionField<'a>,
    ) -> BoxFuture<'a, Result<Page<F::Row>>> {
        Box::pin(async move {
            let level = db::pages::page_with_children::<F, R::Row>(
                self.db,
                self.filter,
                self.order,
                self.descending,
                self.page,
                R::CHILDREN,
                self.first,
            );
            let below = field.selection_set().find_map(|nested| {
                let reader = BelowReader {
                    page: self,
                    children: R::CHILDREN,
                    first: first_argument(&nested)?,
                };
                R::Object::read_below(nested.name(), reader)
            });
            let (level, keep_below) = match below {
                Some(below) => {
                    let (level, keep_below) = future::join(level, below).await;
                    (level, Some(keep_below))
                }
                None => (level.await, None),
            };
            let WithChildren { page, children } = level?;
            let owners = page.rows.iter().map(Keyed::id).collect();
            self.catalog
                .keep_read_ahead::<R>(owners, self.first, children);
            if let Some(keep_below) = keep_below {
                keep_below();
            }
            Ok(page)
        })
    }
}

/// The lists below the nested list of a page's rows, to read.
pub struct BelowReader<'a, F: Filter> {
    /// The page, with the `first` of its nested list.
    page: PageReader<'a, F>,
    /// The relation of the page's nested list.
    children: &'static Children,
    /// The `first` of the lists below it.
    first: Option<i64>,
}

impl<'a, F: Filter> BelowReader<'a, F> {
    /// At most `first` children along `R` of each item of the page's nested list, to keep
    /// for the level that shows them. If the statement fails, or there are more items than
    /// a batch of the loader takes, that level loads them itself and meets any error
    /// there, with its path.
    fn read<R: Relation>(self) -> BoxFuture<'a, Keep<'a>> {
        Box::pin(async move {
            let reader = self.page;
            let below = db::pages::children_below_page::<F, R::Row>(
                reader.db,
                (reader.filter, reader.order, reader.descending),
                reader.page,
                Along {
                    children: self.children,
                    first: reader.first,
                },
                Along {
                    children: R::CHILDREN,
                    first: self.first,
                },
                MAX_BATCH,
            )
            .await;
            let keep: Keep<'a> = match below {
                Ok(Some(BelowPage { parents, children })) => Box::new(move || {
                    reader
                        .catalog
                        .keep_read_ahead::<R>(parents, self.first, children);
                }),
                Ok(None) => Box::new(|| {}),
                Err(error) => {
                    tracing::warn!(%error, "reading a level ahead failed; it loads its lists itself");
                    Box::new(|| {})
                }
            };
            keep
        })
    }
}

/// The page of `filter` in `order` that the connection field of `ctx` asks for, read with
/// the first nested list its items select.
pub async fn page<T: ListsBelow, F: Filter<Row = T::Row>>(
    ctx: &Context<'_>,
    filter: &F,
    order: F::Order,
    descending: bool,
    page: &PageArgs,
) -> Result<Page<F::Row>> {
    let db = ctx.data_unchecked::<Db>();
    let mut reader = PageReader {
        db,
        catalog: ctx.data_unchecked::<Loaders>().loader(),
        filter,
        order,
        descending,
        page,
        first: None,
    };
    for field in item_fields(ctx.field()) {
        let Some(first) = first_argument(&field) else {
            continue;
        };
        reader.first = first;
        if let Some(read) = T::read_with(field, reader) {
            return read.await;
        }
    }
    db::pages::page(db, filter, order, descending, page).await
}

/// The fields selected on the items of a connection: under `nodes`, and under `edges`'
/// `node`, in the order they come.
fn item_fields(connection: SelectionField<'_>) -> Vec<SelectionField<'_>> {
    let mut items = Vec::new();
    for field in connection.selection_set() {
        match field.name() {
            "nodes" => items.push(field),
            "edges" => items.extend(field.selection_set().filter(|edge| edge.name() == "node")),
            _ => {}
        }
    }
    items.iter().flat_map(|item| item.selection_set()).collect()
}

/// The `first` of a nested list as the loader takes it, when `field` has a valid one (or
/// none). An invalid one is the list's own error, raised when it resolves.
fn first_argument(field: &SelectionField<'_>) -> Option<Option<i64>> {
    let arguments = field.arguments().ok()?;
    let first = match arguments.iter().find(|(name, _)| name.as_str() == "first") {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::Number(number))) => Some(i32::try_from(number.as_i64()?).ok()?),
        Some(_) => return None,
    };
    nested_first(first).ok()
}

/// Implements [`ListsBelow`] for `$object`, made of `$row`, whose list fields are each
/// `$field`, along `$relation`.
macro_rules! lists_below {
    ($object:ty, $row:ty, $($field:literal => $relation:ty),+) => {
        impl ListsBelow for $object {
            type Row = $row;

            fn read_with<'a, F: Filter<Row = $row>>(
                field: SelectionField<'a>,
                reader: PageReader<'a, F>,
            ) -> Option<BoxFuture<'a, Result<Page<$row>>>> {
                match field.name() {
                    $($field => Some(reader.read::<$relation>(field)),)+
                    _ => None,
                }
            }

            fn read_below<'a, F: Filter>(
                field: &str,
                reader: BelowReader<'a, F>,
            ) -> Option<BoxFuture<'a, Keep<'a>>> {
                match field {
                    $($field => Some(reader.read::<$relation>()),)+
                    _ => None,
                }
            }
        }
    };
}

lists_below!(Author, AuthorRow, "books" => BooksByAuthor, "publishers" => PublishersByAuthor);
lists_below!(Book, BookRow, "publishers" => PublishersByBook);
lists_below!(Publisher, PublisherRow, "books" => BooksByPublisher, "authors" => AuthorsByPublisher);

/// Implements [`ChildObject`] for each `$relation`, whose children are `$object`s.
macro_rules! child_object {
    ($($relation:ty => $object:ty),+) => {
        $(impl ChildObject for $relation {
            type Object = $object;
        })+
    };
}

child_object!(
    BooksByAuthor => Book,
    BooksByPublisher => Book,
    PublishersByAuthor => Publisher,
    PublishersByBook => Publisher,
    AuthorsByPublisher => Author
);
