//! The graph's object types: authors, books and publishers, each a row.
//!
//! A selection on them is compiled once ([`plan`]) and resolved a level at a time over all
//! the rows it applies to ([`resolve`]): one column per field, one batched load per
//! relation through the request's loader. None of them runs SQL.

mod declare;
mod plan;
mod resolve;

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};
use futures_util::future::BoxFuture;

use super::ids::to_id;
use super::loaders::{
    AuthorsByPublisher, BooksByAuthor, BooksByPublisher, ById, PublishersByAuthor, PublishersByBook,
};
use crate::db::models::{AuthorCounts, AuthorRow, BookRow, PublisherCounts, PublisherRow};
use plan::{Fields, Nested, Plan, object_plan, unknown_field};
use resolve::{Origin, Resolve, Scope, Site, list, loaded, object, objects, read};

/// An author of one or more books.
#[derive(Clone)]
pub struct Author(pub AuthorRow);

/// A book, written by one author and published by one or more publishers.
#[derive(Clone)]
pub struct Book(pub BookRow);

/// A publisher of books.
#[derive(Clone)]
pub struct Publisher(pub PublisherRow);

/// A list of objects, resolved together: each nesting level below it costs one load for
/// all of its items.
pub struct List<T>(pub Vec<T>);

/// What a selection may ask of an author.
enum AuthorField {
    Id,
    FirstName,
    LastName,
    Name,
    BookCount,
    Books(Nested<BookField>),
    Publishers(Nested<PublisherField>),
}

/// What a selection may ask of a book.
enum BookField {
    Id,
    Title,
    Author(Plan<AuthorField>),
    Publishers(Nested<PublisherField>),
}

/// What a selection may ask of a publisher.
enum PublisherField {
    Id,
    Name,
    BookCount,
    AuthorCount,
    Books(Nested<BookField>),
    Authors(Nested<AuthorField>),
}

impl Fields for AuthorField {
    const TYPE: &'static str = "Author";

    fn compile(
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        occurrences: &[&Positioned<Field>],
    ) -> ServerResult<Self> {
        Ok(match name {
            "id" => Self::Id,
            "firstName" => Self::FirstName,
            "lastName" => Self::LastName,
            "name" => Self::Name,
            "bookCount" => Self::BookCount,
            "books" => Self::Books(Nested::compile(ctx, occurrences)?),
            "publishers" => Self::Publishers(Nested::compile(ctx, occurrences)?),
            _ => return Err(unknown_field(Self::TYPE, name, occurrences[0].pos)),
        })
    }

    fn values(&self) -> u64 {
        1
    }
}

impl Fields for BookField {
    const TYPE: &'static str = "Book";

    fn compile(
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        occurrences: &[&Positioned<Field>],
    ) -> ServerResult<Self> {
        Ok(match name {
            "id" => Self::Id,
            "title" => Self::Title,
            "author" => Self::Author(object_plan(ctx, occurrences)?),
            "publishers" => Self::Publishers(Nested::compile(ctx, occurrences)?),
            _ => return Err(unknown_field(Self::TYPE, name, occurrences[0].pos)),
        })
    }

    fn values(&self) -> u64 {
        match self {
            Self::Author(plan) => plan.values_per_item,
            _ => 1,
        }
    }
}

impl Fields for PublisherField {
    const TYPE: &'static str = "Publisher";

    fn compile(
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        occurrences: &[&Positioned<Field>],
    ) -> ServerResult<Self> {
        Ok(match name {
            "id" => Self::Id,
            "name" => Self::Name,
            "bookCount" => Self::BookCount,
            "authorCount" => Self::AuthorCount,
            "books" => Self::Books(Nested::compile(ctx, occurrences)?),
            "authors" => Self::Authors(Nested::compile(ctx, occurrences)?),
            _ => return Err(unknown_field(Self::TYPE, name, occurrences[0].pos)),
        })
    }

    fn values(&self) -> u64 {
        1
    }
}

fn id(key: i64) -> Value {
    Value::String(to_id(key).0)
}

impl Resolve for AuthorField {
    type Row = AuthorRow;

    fn column<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        rows: &'a [&'a AuthorRow],
        site: Site<'a>,
    ) -> BoxFuture<'a, ServerResult<Vec<Value>>> {
        let ids = || rows.iter().map(|row| row.id).collect();
        match self {
            Self::Id => read(rows, |row| id(row.id)),
            Self::FirstName => read(rows, |row| Value::String(row.first_name.clone())),
            Self::LastName => read(rows, |row| Value::String(row.last_name.clone())),
            Self::Name => read(rows, |row| {
                Value::String([row.first_name.as_str(), " ", &row.last_name].concat())
            }),
            Self::BookCount => {
                let keys = rows.iter().map(|row| ById::<AuthorCounts>::new(row.id));
                loaded(scope, keys.collect(), site, |counts: &AuthorCounts| {
                    Value::from(counts.book_count)
                })
            }
            Self::Books(nested) => list::<BooksByAuthor, _>(scope, nested, ids(), site),
            Self::Publishers(nested) => list::<PublishersByAuthor, _>(scope, nested, ids(), site),
        }
    }
}

impl Resolve for BookField {
    type Row = BookRow;

    fn column<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        rows: &'a [&'a BookRow],
        site: Site<'a>,
    ) -> BoxFuture<'a, ServerResult<Vec<Value>>> {
        match self {
            Self::Id => read(rows, |row| id(row.id)),
            Self::Title => read(rows, |row| Value::String(row.title.clone())),
            Self::Author(plan) => {
                let authors = rows.iter().map(|row| row.author_id).collect();
                object::<AuthorRow, _>(scope, plan, authors, site)
            }
            Self::Publishers(nested) => {
                let ids = rows.iter().map(|row| row.id).collect();
                list::<PublishersByBook, _>(scope, nested, ids, site)
            }
        }
    }
}

impl Resolve for PublisherField {
    type Row = PublisherRow;

    fn column<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        rows: &'a [&'a PublisherRow],
        site: Site<'a>,
    ) -> BoxFuture<'a, ServerResult<Vec<Value>>> {
        let ids = || rows.iter().map(|row| row.id).collect();
        let counts = |count: fn(&PublisherCounts) -> i64| {
            let keys = rows.iter().map(|row| ById::<PublisherCounts>::new(row.id));
            loaded(scope, keys.collect(), site, move |counts| {
                Value::from(count(counts))
            })
        };
        match self {
            Self::Id => read(rows, |row| id(row.id)),
            Self::Name => read(rows, |row| Value::String(row.name.clone())),
            Self::BookCount => counts(|counts| counts.book_count),
            Self::AuthorCount => counts(|counts| counts.author_count),
            Self::Books(nested) => list::<BooksByPublisher, _>(scope, nested, ids(), site),
            Self::Authors(nested) => list::<AuthorsByPublisher, _>(scope, nested, ids(), site),
        }
    }
}

/// The objects the field of `ctx` selects, made of `rows`: the items of a list when
/// `listed`, else one object.
async fn resolve_rows<F: Resolve>(
    ctx: &ContextSelectionSet<'_>,
    rows: &[&F::Row],
    listed: bool,
) -> ServerResult<Vec<Value>> {
    let plan = Plan::<F>::compile(ctx, &[ctx.item])?;
    let scope = Scope::new(ctx);
    let origin = Origin::Start { listed };
    objects(&scope, &plan, rows, &origin).await
}

/// Implements `OutputType` for the object type `$object` (a row of `$fields`) and for a
/// list of them.
macro_rules! object_type {
    ($object:ident, $fields:ty, $declare:path) => {
        impl OutputType for $object {
            fn type_name() -> Cow<'static, str> {
                Cow::Borrowed(<$fields as Fields>::TYPE)
            }

            fn create_type_info(registry: &mut Registry) -> String {
                declare::register::<Self>(registry, $declare)
            }

            async fn resolve(
                &self,
                ctx: &ContextSelectionSet<'_>,
                _field: &Positioned<Field>,
            ) -> ServerResult<Value> {
                let mut objects = resolve_rows::<$fields>(ctx, &[&self.0], false).await?;
                Ok(objects.pop().unwrap_or_default())
            }
        }

        impl OutputType for List<$object> {
            fn type_name() -> Cow<'static, str> {
                Cow::Owned(format!("[{}]", $object::qualified_type_name()))
            }

            fn qualified_type_name() -> String {
                format!("[{}]!", $object::qualified_type_name())
            }

            fn create_type_info(registry: &mut Registry) -> String {
                $object::create_type_info(registry);
                Self::qualified_type_name()
            }

            async fn resolve(
                &self,
                ctx: &ContextSelectionSet<'_>,
                _field: &Positioned<Field>,
            ) -> ServerResult<Value> {
                let rows: Vec<_> = self.0.iter().map(|object| &object.0).collect();
                let objects = resolve_rows::<$fields>(ctx, &rows, true).await?;
                Ok(Value::List(objects))
            }
        }
    };
}

object_type!(Author, AuthorField, declare::author);
object_type!(Book, BookField, declare::book);
object_type!(Publisher, PublisherField, declare::publisher);

impl From<AuthorRow> for Author {
    fn from(row: AuthorRow) -> Self {
        Author(row)
    }
}

impl From<BookRow> for Book {
    fn from(row: BookRow) -> Self {
        Book(row)
    }
}

impl From<PublisherRow> for Publisher {
    fn from(row: PublisherRow) -> Self {
        Publisher(row)
    }
}
