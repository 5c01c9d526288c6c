//! The graph's object types. Each wraps a row and resolves its relations through the
//! request's loader; none of them runs SQL.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use futures_util::future::BoxFuture;

use super::budget::ResponseBudget;
use super::ids::{nested_first, to_id};
use super::loaders::{
    AuthorBookCount, Authors, AuthorsByPublisher, BooksByAuthor, BooksByPublisher, ById,
    CountsOfPublisher, ListOf, Loaders, PublishersByAuthor, PublishersByBook, Relation,
};
use crate::db::models::{AuthorRow, BookRow, PublisherCounts, PublisherRow};
use crate::error::{ClientResult, Error};

/// An author of one or more books.
#[derive(Clone)]
pub struct Author(pub AuthorRow);

/// A book, written by one author and published by one or more publishers.
#[derive(Clone)]
pub struct Book(pub BookRow);

/// A publisher of books.
#[derive(Clone)]
pub struct Publisher(pub PublisherRow);

/// The request's loader. `graphql::prepare` attaches one to every request the service
/// executes, so its absence is a programming error, not a client's.
fn loader<'a>(ctx: &Context<'a>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// Up to `first` children of `owner` along relation `R`, wrapped as GraphQL objects.
///
/// Boxed: a DataLoader's future is large, and async-graphql keeps every field's future
/// as big as the biggest one of its type, so unboxed it would be moved and allocated in
/// full for every `title` and `name` too.
fn children<'a, R, T>(
    ctx: &'a Context<'_>,
    owner: i64,
    first: Option<i32>,
) -> BoxFuture<'a, ClientResult<Vec<T>>>
where
    R: Relation,
    T: From<R::Row> + Send + 'a,
{
    Box::pin(async move {
        let key = ListOf::<R>::new(owner, nested_first(first)?);
        let rows = loader(ctx).load_one(key).await?.unwrap_or_default();
        // Subscriptions carry no budget: see `graphql::BookSchema::operation`.
        if let Some(budget) = ctx.data_opt::<Arc<ResponseBudget>>() {
            budget.charge(rows.len(), ctx.field())?;
        }
        Ok(rows.iter().cloned().map(T::from).collect())
    })
}

/// An author of one or more books.
#[Object]
impl Author {
    /// The author's ID.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The author's first name.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }

    /// The author's last name.
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }

    /// First and last name joined by one space.
    async fn name(&self) -> String {
        format!("{} {}", self.0.first_name, self.0.last_name)
    }

    /// This author's books, ordered by title.
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many (0 to 100); all when omitted.")] first: Option<i32>,
    ) -> ClientResult<Vec<Book>> {
        children::<BooksByAuthor, _>(ctx, self.0.id, first).await
    }

    /// Publishers of at least one of this author's books, ordered by name.
    async fn publishers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many (0 to 100); all when omitted.")] first: Option<i32>,
    ) -> ClientResult<Vec<Publisher>> {
        children::<PublishersByAuthor, _>(ctx, self.0.id, first).await
    }

    /// How many books this author has.
    async fn book_count(&self, ctx: &Context<'_>) -> ClientResult<i64> {
        let count = Box::pin(loader(ctx).load_one(AuthorBookCount(self.0.id))).await?;
        Ok(count.unwrap_or(0))
    }
}

/// A book, written by one author and published by one or more publishers.
#[Object]
impl Book {
    /// The book's ID.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The book's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The book's author.
    async fn author(&self, ctx: &Context<'_>) -> ClientResult<Author> {
        let author = Box::pin(loader(ctx).load_one(ById::<Authors>::new(self.0.author_id))).await?;
        let author = author.ok_or(Error::Inconsistent("a book's author is missing"))?;
        Ok(Author(author))
    }

    /// This book's publishers, ordered by name.
    async fn publishers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many (0 to 100); all when omitted.")] first: Option<i32>,
    ) -> ClientResult<Vec<Publisher>> {
        children::<PublishersByBook, _>(ctx, self.0.id, first).await
    }
}

impl Publisher {
    async fn counts(&self, ctx: &Context<'_>) -> ClientResult<PublisherCounts> {
        let counts = Box::pin(loader(ctx).load_one(CountsOfPublisher(self.0.id))).await?;
        Ok(counts.unwrap_or_default())
    }
}

/// A publisher of books.
#[Object]
impl Publisher {
    /// The publisher's ID.
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The publisher's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Books this publisher publishes, ordered by title.
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many (0 to 100); all when omitted.")] first: Option<i32>,
    ) -> ClientResult<Vec<Book>> {
        children::<BooksByPublisher, _>(ctx, self.0.id, first).await
    }

    /// Distinct authors of this publisher's books, ordered by last name, then first name.
    async fn authors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many (0 to 100); all when omitted.")] first: Option<i32>,
    ) -> ClientResult<Vec<Author>> {
        children::<AuthorsByPublisher, _>(ctx, self.0.id, first).await
    }

    /// How many books this publisher publishes.
    async fn book_count(&self, ctx: &Context<'_>) -> ClientResult<i64> {
        Ok(self.counts(ctx).await?.book_count)
    }

    /// How many distinct authors this publisher publishes.
    async fn author_count(&self, ctx: &Context<'_>) -> ClientResult<i64> {
        Ok(self.counts(ctx).await?.author_count)
    }
}

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
