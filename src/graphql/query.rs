//! The query root: single lookups by ID and the three top-level connections.

use async_graphql::{Context, ID, Object, OutputType};

use super::connection::{Connection, Edge};
use super::ids::{decode_cursor, page_first, parse_id};
use super::inputs::{
    AuthorFilter, AuthorOrder, BookFilter, BookOrder, ListOrder, PublisherFilter, PublisherOrder,
};
use super::loaders::{ById, Keyed, Loaders};
use super::read_ahead::{self, ListsBelow};
use super::types::{Author, Book, List, Publisher};
use crate::config;
use crate::db::models::{AuthorRow, BookRow, PublisherRow};
use crate::db::pages::{Filter, PageArgs};
use crate::db::{self, Db};
use crate::error::ClientResult;

/// Entry points for reading the catalogue.
pub struct QueryRoot;

/// Entry points for reading the catalogue.
#[Object(name = "Query")]
impl QueryRoot {
    /// The author with this ID, or null when there is none.
    async fn author(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The author's ID.")] id: ID,
    ) -> ClientResult<Option<Author>> {
        by_id::<AuthorRow, _>(ctx, &id).await
    }

    /// The book with this ID, or null when there is none.
    async fn book(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The book's ID.")] id: ID,
    ) -> ClientResult<Option<Book>> {
        by_id::<BookRow, _>(ctx, &id).await
    }

    /// The publisher with this ID, or null when there is none.
    async fn publisher(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The publisher's ID.")] id: ID,
    ) -> ClientResult<Option<Publisher>> {
        by_id::<PublisherRow, _>(ctx, &id).await
    }

    /// Authors, by default ordered by last name, then first name.
    async fn authors(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(config::PAGE_SIZE)",
            desc = "Page size, 0 to 100."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the item with this cursor.")] after: Option<String>,
        #[graphql(desc = "Only authors matching this.")] filter: Option<AuthorFilter>,
        #[graphql(desc = "Order of the items; by name when omitted.")] order_by: Option<
            AuthorOrder,
        >,
    ) -> ClientResult<Connection<Author>> {
        let filter = filter.unwrap_or_default().parse()?;
        connection(ctx, order_by.unwrap_or_default(), &filter, first, after).await
    }

    /// Books, by default ordered by title.
    async fn books(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(config::PAGE_SIZE)",
            desc = "Page size, 0 to 100."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the item with this cursor.")] after: Option<String>,
        #[graphql(desc = "Only books matching this.")] filter: Option<BookFilter>,
        #[graphql(desc = "Order of the items; by title when omitted.")] order_by: Option<BookOrder>,
    ) -> ClientResult<Connection<Book>> {
        let filter = filter.unwrap_or_default().parse()?;
        connection(ctx, order_by.unwrap_or_default(), &filter, first, after).await
    }

    /// Publishers, by default ordered by name.
    async fn publishers(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(config::PAGE_SIZE)",
            desc = "Page size, 0 to 100."
        )]
        first: Option<i32>,
        #[graphql(desc = "Start after the item with this cursor.")] after: Option<String>,
        #[graphql(desc = "Only publishers matching this.")] filter: Option<PublisherFilter>,
        #[graphql(desc = "Order of the items; by name when omitted.")] order_by: Option<
            PublisherOrder,
        >,
    ) -> ClientResult<Connection<Publisher>> {
        let filter = filter.unwrap_or_default().parse()?;
        connection(ctx, order_by.unwrap_or_default(), &filter, first, after).await
    }
}

/// The row `T` named by `id`, if any.
async fn by_id<T, W>(ctx: &Context<'_>, id: &ID) -> ClientResult<Option<W>>
where
    T: Keyed,
    W: From<T>,
{
    let key = ById::<T>::new(parse_id("id", id)?);
    let row = ctx.data_unchecked::<Loaders>().load_one(key).await?;
    Ok(row.map(W::from))
}

/// One page of a top-level list: the rows `filter` keeps, in `order`. Counts them alongside,
/// and only when the client selected `totalCount`: counting a large filtered list costs as
/// much as listing it. Likewise the rows' sort keys are read only when the client selected a
/// cursor, and edges are built only when selected.
async fn connection<F, O, T>(
    ctx: &Context<'_>,
    order: O,
    filter: &F,
    first: Option<i32>,
    after: Option<String>,
) -> ClientResult<Connection<T>>
where
    F: Filter,
    O: ListOrder<Sort = F::Order>,
    T: OutputType + Clone + From<F::Row> + ListsBelow<Row = F::Row>,
    Edge<T>: OutputType,
    List<T>: OutputType,
{
    let list = order.cursor_list();
    let selected = ctx.look_ahead();
    let with_edges = selected.field("edges").exists();
    let page_info = selected.field("pageInfo");
    let page = PageArgs {
        first: page_first(first, config::PAGE_SIZE)?,
        after: after
            .map(|cursor| decode_cursor(&list, &cursor))
            .transpose()?,
        with_keys: with_edges
            || page_info.field("startCursor").exists()
            || page_info.field("endCursor").exists(),
    };
    let db = ctx.data_unchecked::<Db>();
    let total = async {
        if selected.field("totalCount").exists() {
            db::pages::count(db, filter).await
        } else {
            Ok(0)
        }
    };
    let (rows, total) = tokio::try_join!(
        read_ahead::page::<T, F>(ctx, filter, order.sort(), order.descending(), &page),
        total
    )?;
    Ok(Connection::new(
        &list,
        rows,
        page.after.is_some(),
        total,
        with_edges,
    ))
}
