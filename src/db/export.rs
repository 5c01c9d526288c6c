//! The catalogue flattened back into the tutorial's one-row-per-link shape.

use futures_util::TryStreamExt as _;
use sqlx::FromRow;

use super::Db;
use crate::error::Result;

/// One book–publisher link with the names around it.
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
#[tracing::instrument(skip_all)]
pub async fn flat_row_count(db: &Db) -> Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from book_publisher")
        .fetch_one(db.read())
        .await?)
}

/// Streams every link, by last name, first name, title and publisher, to `each` without
/// holding the catalogue in memory.
#[tracing::instrument(skip_all)]
pub async fn for_each_flat_row(db: &Db, mut each: impl FnMut(FlatRow) -> Result<()>) -> Result<()> {
    let mut rows = sqlx::query_as::<_, FlatRow>(
        "select a.first_name, a.last_name, b.title, p.name as publisher
         from book_publisher bp
         join book b on b.id = bp.book_id
         join author a on a.id = b.author_id
         join publisher p on p.id = bp.publisher_id
         order by a.last_name_key, a.first_name_key, b.title_key, p.name_key",
    )
    .fetch(db.read());
    while let Some(row) = rows.try_next().await? {
        each(row)?;
    }
    Ok(())
}
