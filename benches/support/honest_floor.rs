//! The honest floor: the least work SQLite itself must do for Q1–Q3, through the plain
//! synchronous driver (rusqlite) on one in-process connection, with the rows turned into
//! the response JSON by serde. No GraphQL, no HTTP, no async pool and no bookgraph code,
//! so whatever the server spends above this is its own overhead.
//!
//! Each nesting level is one batched statement, prepared once and cached on the
//! connection. A batch's parent ids go in as one JSON array bound to `json_each(?1)`, so a
//! statement's text never changes with the batch size and is never prepared again.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, Params, Row};

use crate::shapes::{
    AuthorWithBooks, BookWithPublishers, Named, PublisherWithAuthors, PublisherWithCounts,
    authors_json, publishers_json,
};

/// Q1's authors: the first 100 by name.
const AUTHORS_BY_NAME: &str = "select id, first_name || ' ' || last_name from author \
     order by last_name_key, first_name_key, id limit 100";

/// Every book of each author, by title. `in (select value from json_each(..))` walks the
/// authors in id order through the index on `book (author_id, title_key)`, so the rows come
/// out already ordered and SQLite sorts nothing.
const BOOKS_OF_AUTHORS: &str = "select author_id, id, title from book \
     where author_id in (select value from json_each(?1)) \
     order by author_id, title_key, id";

/// Each book's publishers, by name. Driven from `json_each` with one sort at the end: the
/// `in` form sorts each book's few publishers apart, which measured half again as slow.
const PUBLISHERS_OF_BOOKS: &str = "select o.value, p.name from json_each(?1) o \
     join book_publisher bp on bp.book_id = o.value \
     join publisher p on p.id = bp.publisher_id \
     order by o.value, p.name_key, p.id";

/// Q2's page, counts included: they are stored on the row, in the `publisher_book_count`
/// index order, so this one statement is the whole query.
const PUBLISHERS_BY_BOOK_COUNT: &str = "select name, book_count, author_count from publisher \
     order by book_count desc, name_key, id limit 100";

/// Q3's publishers: the first 10 by name.
const PUBLISHERS_BY_NAME: &str = "select id, name from publisher \
     order by name_key, id limit 10";

/// The first 10 by name of the distinct authors of each publisher's books: per publisher,
/// the index `publisher_author_by_name` yields its first 10 pairs and stops (SQLite has no
/// lateral join; a correlated `in (.. limit 10)` keeps the limit per publisher).
const FIRST_AUTHORS_OF_PUBLISHERS: &str = "select o.value, a.id, \
         a.first_name || ' ' || a.last_name \
     from json_each(?1) o join author a on a.id in ( \
         select x.author_id from publisher_author x where x.publisher_id = o.value \
         order by x.last_name_key, x.first_name_key, x.author_id limit 10) \
     order by o.value, a.last_name_key, a.first_name_key, a.id";

/// The first 5 books of each author, by title: per author, the index on
/// `book (author_id, title_key)` yields its first 5 and stops, where a window would number
/// every book of every author first (measured ten times slower).
const FIRST_BOOKS_OF_AUTHORS: &str = "select o.value, b.id, b.title \
     from json_each(?1) o join book b on b.id in ( \
         select id from book where author_id = o.value order by title_key, id limit 5) \
     order by o.value, b.title_key, b.id";

/// A read-only connection to a bookgraph SQLite database, answering Q1–Q3 with the least
/// work SQLite needs.
pub struct HonestFloor {
    conn: Connection,
}

impl HonestFloor {
    /// Opens the database at `path` read-only; it must already hold bookgraph's schema.
    /// SQLite's default page cache is kept. The server's readers map the file instead
    /// (`db::readers`); without the mapping, one-client Q1 measured no different.
    pub fn open(path: &Path) -> HonestFloor {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap_or_else(|error| panic!("open {}: {error}", path.display()));
        HonestFloor { conn }
    }

    /// `{ authors(first: 100) { nodes { name books { title publishers { name } } } } }`
    pub fn q1(&self) -> String {
        let authors: Vec<Author> = self.rows(AUTHORS_BY_NAME, [], |row| {
            Ok(Author {
                id: row.get(0)?,
                name: row.get(1)?,
            })
        });
        let books = self.children(BOOKS_OF_AUTHORS, authors.iter().map(|a| a.id), read_book);
        let publishers = self.children(PUBLISHERS_OF_BOOKS, books.all().map(|b| b.id), read_name);
        let nodes = authors
            .iter()
            .map(|author| author_with_books(author, &books, &publishers))
            .collect();
        authors_json(nodes)
    }

    /// `{ publishers(first: 100, orderBy: {field: BOOK_COUNT, direction: DESC})
    ///    { nodes { name bookCount authorCount } } }`
    pub fn q2(&self) -> String {
        let rows: Vec<(String, i64, i64)> = self.rows(PUBLISHERS_BY_BOOK_COUNT, [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        });
        publishers_json(
            rows.iter()
                .map(|(name, book_count, author_count)| PublisherWithCounts {
                    name,
                    book_count: *book_count,
                    author_count: *author_count,
                })
                .collect(),
        )
    }

    /// `{ publishers(first: 10) { nodes { name authors(first: 10)
    ///    { name books(first: 5) { title publishers { name } } } } } }`
    pub fn q3(&self) -> String {
        let publishers: Vec<Publisher> = self.rows(PUBLISHERS_BY_NAME, [], |row| {
            Ok(Publisher {
                id: row.get(0)?,
                name: row.get(1)?,
            })
        });
        let authors = self.children(
            FIRST_AUTHORS_OF_PUBLISHERS,
            publishers.iter().map(|p| p.id),
            |row| {
                Ok(Author {
                    id: row.get(1)?,
                    name: row.get(2)?,
                })
            },
        );
        let books = self.children(
            FIRST_BOOKS_OF_AUTHORS,
            authors.all().map(|a| a.id),
            read_book,
        );
        let book_publishers =
            self.children(PUBLISHERS_OF_BOOKS, books.all().map(|b| b.id), read_name);
        let nodes = publishers
            .iter()
            .map(|publisher| PublisherWithAuthors {
                name: &publisher.name,
                authors: authors
                    .of(publisher.id)
                    .iter()
                    .map(|author| author_with_books(author, &books, &book_publishers))
                    .collect(),
            })
            .collect();
        publishers_json(nodes)
    }

    /// The rows of the cached statement `sql`, each read by `read`, gathered into `C`.
    fn rows<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> C {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_map(params, read)?.collect())
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// The children of `parent_ids`, grouped by parent: `sql` takes the ids as a JSON array
    /// in `?1` and gives each row's parent id in its first column, for `read` the rest.
    ///
    /// Each parent goes in once, however often it comes (an author of several publishers in
    /// Q3), since a statement that joins `json_each` would repeat its children.
    fn children<T>(
        &self,
        sql: &str,
        parent_ids: impl Iterator<Item = i64>,
        mut read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Groups<T> {
        let mut ids: Vec<i64> = parent_ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let ids = serde_json::to_string(&ids).expect("id list");
        self.rows(sql, [ids], |row| Ok((row.get(0)?, read(row)?)))
    }
}

/// Children by parent id, each parent's in the order its statement gave them.
struct Groups<T>(HashMap<i64, Vec<T>>);

impl<T> Groups<T> {
    /// A parent's children; none when the batch found none.
    fn of(&self, parent: i64) -> &[T] {
        self.0.get(&parent).map_or(&[], Vec::as_slice)
    }

    /// Every child of every parent.
    fn all(&self) -> impl Iterator<Item = &T> {
        self.0.values().flatten()
    }
}

impl<T> FromIterator<(i64, T)> for Groups<T> {
    fn from_iter<I: IntoIterator<Item = (i64, T)>>(rows: I) -> Self {
        let mut groups: HashMap<i64, Vec<T>> = HashMap::new();
        for (parent, child) in rows {
            groups.entry(parent).or_default().push(child);
        }
        Groups(groups)
    }
}

// ---- rows ---------------------------------------------------------------------------------

struct Author {
    id: i64,
    /// First and last name joined by one space, as SQL gives it.
    name: String,
}

struct Publisher {
    id: i64,
    name: String,
}

struct Book {
    id: i64,
    title: String,
}

/// The book of a `(parent id, book id, title)` row.
fn read_book(row: &Row<'_>) -> rusqlite::Result<Book> {
    Ok(Book {
        id: row.get(1)?,
        title: row.get(2)?,
    })
}

/// The name of a `(parent id, name)` row.
fn read_name(row: &Row<'_>) -> rusqlite::Result<String> {
    row.get(1)
}

fn author_with_books<'a>(
    author: &'a Author,
    books: &'a Groups<Book>,
    publishers: &'a Groups<String>,
) -> AuthorWithBooks<'a> {
    AuthorWithBooks {
        name: Cow::Borrowed(&author.name),
        books: books
            .of(author.id)
            .iter()
            .map(|book| BookWithPublishers {
                title: &book.title,
                publishers: publishers
                    .of(book.id)
                    .iter()
                    .map(|name| Named { name })
                    .collect(),
            })
            .collect(),
    }
}
