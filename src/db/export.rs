//! The catalogue flattened back into the tutorial's one-row-per-link shape, plus a row for
//! each author and each publisher without books, which no link would mention.

use futures_util::TryStreamExt as _;
use sqlx::FromRow;

use super::Db;
use crate::error::Result;

/// One book–publisher link with the names around it; or an author without books (title and
/// publisher empty), or a publisher without books (only the publisher set).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FlatRow {
    /// The author's first name.
    pub first_name: String,
    /// The author's last name.
    pub last_name: String,
    /// The book's title.
    pub title: String,
    /// The publisher's name.
    pub publisher: String,
}

/// How many rows [`for_each_flat_row`] will produce.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn flat_row_count(db: &Db) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select (select count(*) from book_publisher)
            + (select count(*) from author a
               where not exists (select 1 from book b where b.author_id = a.id))
            + (select count(*) from publisher p
               where not exists (select 1 from book_publisher bp where bp.publisher_id = p.id))",
    )
    .fetch_one(&mut *db.read().await?)
    .await?)
}

/// Streams every link and every author and publisher without books, by last name, first
/// name, title and publisher (empty first), to `each` without holding the catalogue in memory.
///
/// Books without publishers get no row: every way of changing the catalogue keeps each book
/// published (a book's last publisher cannot be removed, and a publisher deleted with its
/// books takes them along), so there are none to lose.
/// The lonely rows ask for no books rather than trusting the stored counts: an export is
/// what a move between databases relies on.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn for_each_flat_row(db: &Db, mut each: impl FnMut(FlatRow) -> Result<()>) -> Result<()> {
    let mut reader = db.read().await?;
    let mut rows = sqlx::query_as::<_, FlatRow>(
        "select first_name, last_name, title, publisher from (
             select a.first_name, a.last_name, b.title, p.name as publisher,
                 a.last_name_key as last_key, a.first_name_key as first_key,
                 b.title_key as title_key, p.name_key as publisher_key
             from book_publisher bp
             join book b on b.id = bp.book_id
             join author a on a.id = b.author_id
             join publisher p on p.id = bp.publisher_id
           union all
             select a.first_name, a.last_name, '', '', a.last_name_key, a.first_name_key, '', ''
             from author a
             where not exists (select 1 from book b where b.author_id = a.id)
           union all
             select '', '', '', p.name, '', '', '', p.name_key
             from publisher p
             where not exists (select 1 from book_publisher bp where bp.publisher_id = p.id)
         ) as flat
         order by last_key, first_key, title_key, publisher_key",
    )
    .fetch(&mut *reader);
    while let Some(row) = rows.try_next().await? {
        each(row)?;
    }
    Ok(())
}
