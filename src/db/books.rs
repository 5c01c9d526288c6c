//! Statements that read and write the `book` and `book_publisher` tables.

use super::WriteTx;
use super::events::Event;
use super::lookup::{ById, Children};
use super::models::BookRow;
use super::pages::{Filter, SortColumn, SortKind, SortOrder};
use super::publishers::PUBLISHERS;
use super::sql::{Dialect, Sql, push_contains};
use super::transaction::update_row;
use crate::error::{Entity, Error, Result};
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

impl Filter for BookFilter {
    type Row = BookRow;
    type Order = BookOrder;
    const SELECT: &'static str = "b.id, b.author_id, b.title, b.title_key";
    const TABLE: &'static str = "book b";
    const COLUMNS: &'static [&'static str] = &["id", "author_id", "title"];

    fn push_where(&self, query: &mut Sql) {
        query.push(" where 1 = 1");
        if let Some(needle) = &self.title_contains {
            query.push(" and");
            push_contains(query, "b.title_key", needle);
        }
        if let Some(author_id) = self.author_id {
            query.push(" and b.author_id = ").push_bind(author_id);
        }
        if let Some(publisher_id) = self.publisher_id {
            query
                .push(" and exists (select 1 from book_publisher bp where bp.book_id = b.id and bp.publisher_id = ")
                .push_bind(publisher_id)
                .push(")");
        }
    }
}

/// What books can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOrder {
    /// Title; equal titles (by different authors) go by id.
    Title,
}

impl SortOrder for BookOrder {
    fn columns(self, descending: bool) -> Vec<SortColumn> {
        match self {
            BookOrder::Title => vec![
                SortColumn::new("title_key", SortKind::Text, descending),
                SortColumn::new("id", SortKind::Int, false),
            ],
        }
    }
}

/// The books, by id.
pub const BOOKS: ById<BookRow> = ById::new(Entity::Book, "book", "id, author_id, title");

/// Each author's books, by title, at most `first` per author.
pub const BOOKS_OF_AUTHORS: Children = Children {
    all_rows: "from ids join book c on c.author_id = ids.id",
    parent: "c.author_id",
    first_rows: "select b.id, b.author_id, b.title, b.title_key
           from book b
           where b.author_id = parent.id
           order by b.title_key, b.id",
    columns: "c.id, c.author_id, c.title",
    order: "c.title_key, c.id",
    shared: false,
};

/// Each publisher's books, by title, at most `first` per publisher.
pub const BOOKS_OF_PUBLISHERS: Children = Children {
    all_rows: "from ids join book_publisher bp on bp.publisher_id = ids.id
               join book c on c.id = bp.book_id",
    parent: "bp.publisher_id",
    first_rows: "select b.id, b.author_id, b.title, b.title_key
           from book_publisher bp join book b on b.id = bp.book_id
           where bp.publisher_id = parent.id
           order by b.title_key, b.id",
    columns: "c.id, c.author_id, c.title",
    order: "c.title_key, c.id",
    shared: true,
};

/// The author's book of this title, created if missing; `true` when it was created. An
/// existing book keeps its own spelling.
#[tracing::instrument(level = "debug", skip_all)]
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
#[tracing::instrument(level = "debug", skip_all)]
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

/// The book with this id, if any, which no other transaction may change, delete or link
/// until this one ends: a rule over the book's links, read and then acted on, stays true
/// until commit. SQLite's one writer needs no lock.
async fn find_locked(tx: &mut WriteTx, id: i64) -> Result<BookRow> {
    let lock = match tx.dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " for no key update",
    };
    BOOKS.find_locking(tx, id, lock).await
}

/// Retitles a book and/or moves it to another author. The author may not already have a
/// book of that title (ignoring case).
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn update(
    tx: &mut WriteTx,
    id: i64,
    title: Option<&Name>,
    author_id: Option<i64>,
) -> Result<BookRow> {
    let before = BOOKS.find(tx, id).await?;
    let title = title
        .cloned()
        .unwrap_or_else(|| Name::stored(before.title.clone()));
    let author_id = author_id.unwrap_or(before.author_id);
    let author: Option<i64> = sqlx::query_scalar("select id from author where id = $1")
        .bind(author_id)
        .fetch_optional(tx.conn())
        .await?;
    if author.is_none() {
        return Err(Error::NotFound {
            what: Entity::Author,
            id: author_id,
        });
    }
    let existing: Option<i64> = sqlx::query_scalar(
        "select id from book where author_id = $1 and title_key = $2 and id <> $3",
    )
    .bind(author_id)
    .bind(title.key())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(existing) = existing {
        return Err(Error::conflict(
            format!(
                "author {author_id} already has book {existing} titled {}",
                title.as_str()
            ),
            Some(existing),
        ));
    }
    let update = sqlx::query_as(
        "update book set title = $1, title_key = $2, author_id = $3 where id = $4
         returning id, author_id, title",
    )
    .bind(title.as_str())
    .bind(title.key())
    .bind(author_id)
    .bind(id);
    update_row(tx, &before, update, Event::BookChanged).await
}

/// Deletes a book and its links.
#[tracing::instrument(level = "debug", skip_all, fields(id))]
pub async fn delete(tx: &mut WriteTx, id: i64) -> Result<()> {
    BOOKS.find(tx, id).await?;
    BOOKS.delete(tx, id).await?;
    tx.record(Event::BookDeleted(id));
    Ok(())
}

/// Adds a publisher to a book; `false` when it already published it.
#[tracing::instrument(level = "debug", skip_all, fields(book_id, publisher_id))]
pub async fn add_publisher(
    tx: &mut WriteTx,
    book_id: i64,
    publisher_id: i64,
) -> Result<(BookRow, bool)> {
    let book = BOOKS.find(tx, book_id).await?;
    PUBLISHERS.find(tx, publisher_id).await?;
    let added = link_publisher(tx, book_id, publisher_id).await?;
    if added {
        tx.record(Event::BookChanged(book.clone()));
    }
    Ok((book, added))
}

/// Removes a publisher from a book. A book keeps at least one publisher: removing the last
/// is a conflict (delete the book instead).
#[tracing::instrument(level = "debug", skip_all, fields(book_id, publisher_id))]
pub async fn remove_publisher(
    tx: &mut WriteTx,
    book_id: i64,
    publisher_id: i64,
) -> Result<BookRow> {
    // Locked: two replicas removing the book's last two publishers at once would each see
    // the other's still there, and leave the book with none.
    let book = find_locked(tx, book_id).await?;
    PUBLISHERS.find(tx, publisher_id).await?;
    let publishers: Vec<i64> =
        sqlx::query_scalar("select publisher_id from book_publisher where book_id = $1")
            .bind(book_id)
            .fetch_all(tx.conn())
            .await?;
    if !publishers.contains(&publisher_id) {
        return Err(Error::conflict(
            format!("book {book_id} is not published by publisher {publisher_id}"),
            None,
        ));
    }
    if publishers.len() == 1 {
        return Err(Error::conflict(
            format!(
                "publisher {publisher_id} is the last publisher of book {book_id}; delete the book instead"
            ),
            None,
        ));
    }
    sqlx::query("delete from book_publisher where book_id = $1 and publisher_id = $2")
        .bind(book_id)
        .bind(publisher_id)
        .execute(tx.conn())
        .await?;
    tx.record(Event::BookChanged(book.clone()));
    Ok(book)
}
