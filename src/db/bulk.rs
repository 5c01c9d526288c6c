//! `add_book`'s find-or-create for many entries at once, for imports. The rules are the
//! same (keys decide identity, existing rows keep their spelling); what differs is the
//! cost: keys already seen are held in memory and new rows go in hundreds per statement,
//! instead of four statements per CSV row.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::WriteTx;
use super::sql::{Dialect, Sql};
use crate::book_entry::{BookEntry, CatalogueEntry};
use crate::error::{Error, Result};
use crate::names::Name;

/// Rows per multi-row `insert`: 4 bound values each keeps a statement far below SQLite's
/// limit of 32,766 variables.
const ROWS_PER_INSERT: usize = 1000;

/// What a batch of entries created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    /// New authors.
    pub authors: u64,
    /// New books.
    pub books: u64,
    /// New publishers.
    pub publishers: u64,
    /// New book–publisher links.
    pub links: u64,
}

/// The ids of every author, publisher and book by key, as of the transaction it serves.
pub struct BulkAdder {
    authors: HashMap<(String, String), i64>,
    publishers: HashMap<String, i64>,
    books: HashMap<(i64, String), i64>,
}

impl BulkAdder {
    /// Reads the keys already in the catalogue. The transaction holds the write lock, so
    /// nobody else can add rows while this map is in use: SQLite's, or on PostgreSQL
    /// [`super::WRITE_LOCK`] held exclusively ([`super::Db::write_alone`]).
    /// Also switches the count triggers off for this transaction; [`BulkAdder::finish`]
    /// recounts and switches them back on.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn load(tx: &mut WriteTx) -> Result<BulkAdder> {
        sqlx::query("insert into bulk_load (active) values (1)")
            .execute(tx.conn())
            .await?;
        Ok(BulkAdder {
            authors: AUTHORS.ids(tx).await?,
            publishers: PUBLISHERS.ids(tx).await?,
            books: BOOKS.ids(tx).await?,
        })
    }

    /// Records `entries` as `add_book` would, one after the other; an author or publisher
    /// alone as `createAuthor` or `createPublisher` would, except that one already there is
    /// no conflict.
    #[tracing::instrument(level = "debug", skip_all, fields(entries = entries.len()))]
    pub async fn add(&mut self, tx: &mut WriteTx, entries: &[CatalogueEntry]) -> Result<Created> {
        let books: Vec<&BookEntry> = entries.iter().filter_map(CatalogueEntry::book).collect();
        // Order matters: books need their authors' ids, links their books' and publishers'.
        let authors = self.add_authors(tx, entries).await?;
        let publishers = self.add_publishers(tx, entries).await?;
        let new_books = self.add_books(tx, &books).await?;
        let links = self.add_links(tx, &books).await?;
        Ok(Created {
            authors,
            books: new_books,
            publishers,
            links,
        })
    }

    async fn add_authors(&mut self, tx: &mut WriteTx, entries: &[CatalogueEntry]) -> Result<u64> {
        let authors = entries.iter().filter_map(CatalogueEntry::author);
        AUTHORS
            .add_missing(
                tx,
                &mut self.authors,
                authors.map(|(first, last)| (author_key(first, last), (first, last))),
                "insert into author (first_name, last_name, first_name_key, last_name_key) ",
                |row, (first, last)| {
                    row.push_bind(first.as_str().to_owned())
                        .push(", ")
                        .push_bind(last.as_str().to_owned())
                        .push(", ")
                        .push_bind(first.key().to_owned())
                        .push(", ")
                        .push_bind(last.key().to_owned());
                },
            )
            .await
    }

    async fn add_publishers(
        &mut self,
        tx: &mut WriteTx,
        entries: &[CatalogueEntry],
    ) -> Result<u64> {
        let names = entries.iter().filter_map(CatalogueEntry::publisher);
        PUBLISHERS
            .add_missing(
                tx,
                &mut self.publishers,
                names.map(|name| (name.key().to_owned(), name)),
                "insert into publisher (name, name_key) ",
                |row, name| {
                    row.push_bind(name.as_str().to_owned())
                        .push(", ")
                        .push_bind(name.key().to_owned());
                },
            )
            .await
    }

    async fn add_books(&mut self, tx: &mut WriteTx, entries: &[&BookEntry]) -> Result<u64> {
        let books = entries
            .iter()
            .map(|&entry| {
                let author_id = self.author_id(entry)?;
                Ok((
                    (author_id, entry.title.key().to_owned()),
                    (author_id, entry),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        BOOKS
            .add_missing(
                tx,
                &mut self.books,
                books,
                "insert into book (author_id, title, title_key) ",
                |row, (author_id, entry)| {
                    row.push_bind(*author_id)
                        .push(", ")
                        .push_bind(entry.title.as_str().to_owned())
                        .push(", ")
                        .push_bind(entry.title.key().to_owned());
                },
            )
            .await
    }

    async fn add_links(&mut self, tx: &mut WriteTx, entries: &[&BookEntry]) -> Result<u64> {
        let mut links = Vec::with_capacity(entries.len());
        for entry in entries {
            let book = self.books[&(self.author_id(entry)?, entry.title.key().to_owned())];
            let publisher = self.publishers[entry.publisher_name.key()];
            links.push((book, publisher));
        }
        links.sort_unstable();
        links.dedup();
        let added: Vec<(i64,)> = insert_returning(
            tx,
            "insert into book_publisher (book_id, publisher_id) ",
            &links,
            |row, (book, publisher)| {
                row.push_bind(*book).push(", ").push_bind(*publisher);
            },
            " on conflict (book_id, publisher_id) do nothing returning book_id",
        )
        .await?;
        Ok(added.len() as u64)
    }

    /// Recounts every author's books, every publisher's books and authors and the
    /// (publisher, author) pairs, and lets
    /// the triggers count again; call once, before committing.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn finish(self, tx: &mut WriteTx) -> Result<()> {
        sqlx::query(
            "update author set book_count = (select count(*) from book where book.author_id = author.id)",
        )
        .execute(tx.conn())
        .await?;
        sqlx::query("delete from publisher_author")
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "insert into publisher_author
                (publisher_id, author_id, last_name_key, first_name_key, book_count)
             select bp.publisher_id, a.id, a.last_name_key, a.first_name_key, count(*)
             from book_publisher bp
             join book b on b.id = bp.book_id
             join author a on a.id = b.author_id
             group by bp.publisher_id, a.id",
        )
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "update publisher set
                book_count = (select count(*) from book_publisher bp where bp.publisher_id = publisher.id),
                author_count = (
                    select count(*) from publisher_author pa where pa.publisher_id = publisher.id
                )",
        )
        .execute(tx.conn())
        .await?;
        if tx.dialect == Dialect::Postgres {
            // Concurrent writers' parts of the counts (migrations/postgres/0009) are in
            // the columns now.
            sqlx::raw_sql("delete from author_count_part; delete from publisher_count_part")
                .execute(tx.conn())
                .await?;
        }
        sqlx::query("delete from bulk_load")
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    fn author_id(&self, entry: &BookEntry) -> Result<i64> {
        let key = author_key(&entry.author_first_name, &entry.author_last_name);
        match self.authors.get(&key) {
            Some(id) if *id != 0 => Ok(*id),
            _ => Err(Error::Inconsistent("an imported author has no id")),
        }
    }
}

/// How one table's rows are known by key: `select` reads every row and an insert's
/// `returning` each new one as `R` (its id and key columns), which `entry` makes a map entry.
struct KeyedTable<R, K> {
    select: &'static str,
    returning: &'static str,
    entry: fn(R) -> (K, i64),
}

const AUTHORS: KeyedTable<(i64, String, String), (String, String)> = KeyedTable {
    select: "select id, first_name_key, last_name_key from author",
    returning: " returning id, first_name_key, last_name_key",
    entry: |(id, first, last)| ((first, last), id),
};

const PUBLISHERS: KeyedTable<(i64, String), String> = KeyedTable {
    select: "select id, name_key from publisher",
    returning: " returning id, name_key",
    entry: |(id, name)| (name, id),
};

const BOOKS: KeyedTable<(i64, i64, String), (i64, String)> = KeyedTable {
    select: "select id, author_id, title_key from book",
    returning: " returning id, author_id, title_key",
    entry: |(id, author, title)| ((author, title), id),
};

impl<R, K> KeyedTable<R, K>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    K: Eq + Hash,
{
    /// The id of every row, by key.
    async fn ids(&self, tx: &mut WriteTx) -> Result<HashMap<K, i64>> {
        let rows: Vec<R> = sqlx::query_as(self.select).fetch_all(tx.conn()).await?;
        Ok(rows.into_iter().map(self.entry).collect())
    }

    /// Inserts, with `insert` and `bind`, those of `rows` whose key `ids` lacks, and adds
    /// their new ids to `ids`; returns how many it inserted.
    async fn add_missing<T>(
        &self,
        tx: &mut WriteTx,
        ids: &mut HashMap<K, i64>,
        rows: impl IntoIterator<Item = (K, T)>,
        insert: &str,
        bind: impl Fn(&mut Sql, &T) + Copy,
    ) -> Result<u64> {
        let mut new = Vec::new();
        for (key, row) in rows {
            // 0 marks "new in this batch"; the insert below gives the real id.
            if let Entry::Vacant(slot) = ids.entry(key) {
                slot.insert(0);
                new.push(row);
            }
        }
        let inserted: Vec<R> = insert_returning(tx, insert, &new, bind, self.returning).await?;
        let count = inserted.len() as u64;
        ids.extend(inserted.into_iter().map(self.entry));
        Ok(count)
    }
}

fn author_key(first: &Name, last: &Name) -> (String, String) {
    (first.key().to_owned(), last.key().to_owned())
}

/// Inserts `rows` with `head … values (…), (…) tail`, a thousand per statement, and
/// returns what the statements return.
async fn insert_returning<T, R>(
    tx: &mut WriteTx,
    head: &str,
    rows: &[T],
    bind: impl Fn(&mut Sql, &T) + Copy,
    tail: &str,
) -> Result<Vec<R>>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut returned = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut query = Sql::of_many_values(tx.dialect, head);
        query.push("values ").push_list(chunk, ", ", |query, row| {
            query.push("(");
            bind(query, row);
            query.push(")");
        });
        query.push(tail);
        returned.extend(query.build_query_as::<R>().fetch_all(tx.conn()).await?);
    }
    Ok(returned)
}
