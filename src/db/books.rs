//! Statements that read and write the `book` and `book_publisher` tables.

use sqlx::{QueryBuilder, Sqlite};

use super::models::{BookRow, Owned};
use super::pages::{Page, PageArgs, SortColumn, SortKind, fetch_page};
use super::{Db, WriteTx, push_contains, push_first_and_order, push_id_list};
use crate::error::Result;
use crate::names::Name;

/// Which books a list holds; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookFilter {
    /// Case-folded substring of the title.
    pub title_contains: Option<String>,
    /// Only this author's books.
    pub author_id: Option<i64>,
    /// Only this publisher's books.
    pub publisher_id: Option<i64>,
}

/// The sort columns of the title order; equal titles (by different authors) go by id.
pub fn title_order(descending: bool) -> Vec<SortColumn> {
    vec![
        SortColumn::new("title_key", SortKind::Text, descending),
        SortColumn::new("id", SortKind::Int, false),
    ]
}

/// The books with these ids, in no particular order; unknown ids are skipped.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn by_ids(db: &Db, ids: &[i64]) -> Result<Vec<BookRow>> {
    let mut query = QueryBuilder::new("select id, author_id, title from book where id in ");
    push_id_list(&mut query, ids);
    Ok(query.build_query_as().fetch_all(db.read()).await?)
}

/// One page of books matching `filter`, by title.
#[tracing::instrument(skip_all)]
pub async fn page(
    db: &Db,
    filter: &BookFilter,
    descending: bool,
    page: &PageArgs,
) -> Result<Page<BookRow>> {
    let listed = |query: &mut QueryBuilder<Sqlite>| {
        query.push("select b.id, b.author_id, b.title, b.title_key from book b");
        push_filter(query, filter);
    };
    fetch_page(db, listed, &title_order(descending), page).await
}

/// How many books match `filter`.
#[tracing::instrument(skip_all)]
pub async fn count(db: &Db, filter: &BookFilter) -> Result<i64> {
    let mut query = QueryBuilder::new("select count(*) from book b");
    push_filter(&mut query, filter);
    Ok(query.build_query_scalar().fetch_one(db.read()).await?)
}

fn push_filter(query: &mut QueryBuilder<Sqlite>, filter: &BookFilter) {
    query.push(" where 1 = 1");
    if let Some(needle) = &filter.title_contains {
        query.push(" and");
        push_contains(query, "b.title_key", needle);
    }
    if let Some(author_id) = filter.author_id {
        query.push(" and b.author_id = ").push_bind(author_id);
    }
    if let Some(publisher_id) = filter.publisher_id {
        query
            .push(" and exists (select 1 from book_publisher bp where bp.book_id = b.id and bp.publisher_id = ")
            .push_bind(publisher_id)
            .push(")");
    }
}

/// Each author's books, by title, at most `first` per author.
#[tracing::instrument(skip_all, fields(authors = author_ids.len()))]
pub async fn of_authors(
    db: &Db,
    author_ids: &[i64],
    first: Option<i64>,
) -> Result<Vec<Owned<BookRow>>> {
    let mut query = QueryBuilder::new(
        "select owner_id, id, author_id, title from (
            select b.author_id as owner_id, b.id, b.author_id, b.title,
                row_number() over (partition by b.author_id order by b.title_key, b.id)
                    as position
            from book b
            where b.author_id in ",
    );
    push_id_list(&mut query, author_ids);
    query.push(") as t");
    push_first_and_order(&mut query, first);
    Ok(query.build_query_as().fetch_all(db.read()).await?)
}

/// Each publisher's books, by title, at most `first` per publisher.
#[tracing::instrument(skip_all, fields(publishers = publisher_ids.len()))]
pub async fn of_publishers(
    db: &Db,
    publisher_ids: &[i64],
    first: Option<i64>,
) -> Result<Vec<Owned<BookRow>>> {
    let mut query = QueryBuilder::new(
        "select owner_id, id, author_id, title from (
            select bp.publisher_id as owner_id, b.id, b.author_id, b.title,
                row_number() over (partition by bp.publisher_id order by b.title_key, b.id)
                    as position
            from book_publisher bp join book b on b.id = bp.book_id
            where bp.publisher_id in ",
    );
    push_id_list(&mut query, publisher_ids);
    query.push(") as t");
    push_first_and_order(&mut query, first);
    Ok(query.build_query_as().fetch_all(db.read()).await?)
}

/// The author's book of this title, created if missing; `true` when it was created. An
/// existing book keeps its own spelling.
#[tracing::instrument(skip_all)]
pub async fn find_or_create(
    tx: &mut WriteTx,
    author_id: i64,
    title: &Name,
) -> Result<(BookRow, bool)> {
    let inserted: Option<BookRow> = sqlx::query_as(
        "insert into book (author_id, title, title_key) values ($1, $2, $3)
         on conflict (author_id, title_key) do nothing
         returning id, author_id, title",
    )
    .bind(author_id)
    .bind(title.as_str())
    .bind(title.key())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(book) = inserted {
        return Ok((book, true));
    }
    let book = sqlx::query_as(
        "select id, author_id, title from book where author_id = $1 and title_key = $2",
    )
    .bind(author_id)
    .bind(title.key())
    .fetch_one(tx.conn())
    .await?;
    Ok((book, false))
}

/// Links the book to the publisher; `false` when the link already existed.
#[tracing::instrument(skip_all)]
pub async fn link_publisher(tx: &mut WriteTx, book_id: i64, publisher_id: i64) -> Result<bool> {
    let linked = sqlx::query(
        "insert into book_publisher (book_id, publisher_id) values ($1, $2)
         on conflict (book_id, publisher_id) do nothing",
    )
    .bind(book_id)
    .bind(publisher_id)
    .execute(tx.conn())
    .await?;
    Ok(linked.rows_affected() == 1)
}
