//! The statements of an `addBook` lot ([`super::AddBooks`]), written out whole for each
//! backend. Each binds the lot's entries, or rows made of them, as JSON arrays (`$1`, and
//! `$2` for the links of [`Writes`]), taken apart as rows `e` with the element in `e.value`
//! and its place in `e.position`.
//!
//! Every author, publisher, book and link is found through its unique key, one entry at a
//! time, whatever the size of the tables. SQLite plans its joins that way by itself. PostgreSQL
//! estimates a JSON array at 100 rows and would rather hash-join them against sequential
//! scans of whole tables, a cost per lot that grows with the catalogue and with the number of
//! lots: each look-up is a lateral subquery with `limit 1`, which PostgreSQL never merges into
//! a join, so it runs once per entry as a scan of the key's index. (Typed arrays through
//! `unnest` would need array binds, which sqlx's `Any` driver lacks, and would be estimated
//! as blindly.) Both backends take the array apart as binary JSON (`jsonb_each` on SQLite,
//! `jsonb` on PostgreSQL), parsed once: as text, every `->>` parses its element's text
//! again, which was a sixth of PostgreSQL's CPU time under `addBook` over two replicas.

use crate::db::sql::Dialect;

/// A lot's statements on one backend.
pub(super) struct Statements {
    /// Every entry's `[author, publisher, book, book's title, 1 when linked else 0]` as one
    /// JSON array in the entries' order (nulls for what does not exist: left joins on unique
    /// keys keep one row per entry), and the largest book id where the lot chooses the new
    /// books' ids ([`Writes::Together`]). Entries: `[last name key, first name key,
    /// publisher key, title key]`.
    pub(super) plan: &'static str,
    /// How the new books and the links are written.
    pub(super) writes: Writes,
}

/// How a lot writes its new books and links them all to their publishers, in one call:
/// every call is a round trip to the connection while the lot holds its locks.
pub(super) enum Writes {
    /// Two statements in one call, which only SQLite takes: the new books, with the ids the
    /// lot chose, from `$1` (`[id, author id, title, title key]` each), then the links of the
    /// entries whose publisher does not publish their book yet, from `$2` (`[book id,
    /// publisher id]` each).
    Together(&'static str),
    /// One statement, the new books' ids drawn from a sequence that other replicas draw
    /// from too: inserts the new books from `$1` (`[author id, title, title key]` each),
    /// links the entries whose publisher does not publish their book yet from `$2` (`[book
    /// id, or null for a new book, author id, title key, publisher id]` each), each in the
    /// order given, and returns the new books as one JSON array (`[author id, title key,
    /// id]` each) with the number of links made.
    Returning(&'static str),
}

/// The lot's statements on `dialect`'s backend.
pub(super) fn statements(dialect: Dialect) -> &'static Statements {
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

static SQLITE: Statements = Statements {
    plan: "select json_group_array(json_array(a.id, p.id, b.id, b.title, case when exists (
                   select 1 from book_publisher bp
                   where bp.book_id = b.id and bp.publisher_id = p.id
               ) then 1 else 0 end) order by e.position),
               (select max(id) from book)
           from (select value, key as position from jsonb_each($1)) as e
           left join author a
               on a.last_name_key = e.value ->> 0 and a.first_name_key = e.value ->> 1
           left join publisher p on p.name_key = e.value ->> 2
           left join book b on b.author_id = a.id and b.title_key = e.value ->> 3",
    // `where true` tells SQLite's parser that the links' `on conflict` starts the upsert.
    writes: Writes::Together(
        "insert into book (id, author_id, title, title_key)
           select cast(e.value ->> 0 as bigint), cast(e.value ->> 1 as bigint),
               e.value ->> 2, e.value ->> 3
           from (select value, key as position from jsonb_each($1)) as e
           order by e.position;
         insert into book_publisher (book_id, publisher_id)
           select cast(e.value ->> 0 as bigint), cast(e.value ->> 1 as bigint)
           from (select value, key as position from jsonb_each($2)) as e
           where true
           order by e.position
           on conflict (book_id, publisher_id) do nothing",
    ),
};

// The lot's insert returns its new books' ids, and so has no use for the largest.
static POSTGRES: Statements = Statements {
    plan: "select coalesce(json_agg(json_build_array(
                   a.id, p.id, b.id, b.title, coalesce(bp.linked, 0)
               ) order by e.position), '[]')::text,
               null::bigint
           from jsonb_array_elements($1::jsonb) with ordinality as e(value, position)
           left join lateral (
               select id from author
               where last_name_key = e.value ->> 0 and first_name_key = e.value ->> 1
               limit 1
           ) as a on true
           left join lateral (
               select id from publisher where name_key = e.value ->> 2 limit 1
           ) as p on true
           left join lateral (
               select id, title from book where author_id = a.id and title_key = e.value ->> 3
               limit 1
           ) as b on true
           left join lateral (
               select 1 as linked from book_publisher
               where book_id = b.id and publisher_id = p.id
               limit 1
           ) as bp on true",
    // The links see the books inserted beside them through `added`: every part of one
    // statement reads the table as it was before the statement. Foreign keys and the
    // counts' triggers run after the whole statement, and see both.
    writes: Writes::Returning(
        "with added as (
               insert into book (author_id, title, title_key)
               select cast(e.value ->> 0 as bigint), e.value ->> 1, e.value ->> 2
               from jsonb_array_elements($1::jsonb) with ordinality as e(value, position)
               order by e.position
               returning id, author_id, title_key
           ), linked as (
               insert into book_publisher (book_id, publisher_id)
               select coalesce(cast(e.value ->> 0 as bigint), added.id),
                   cast(e.value ->> 3 as bigint)
               from jsonb_array_elements($2::jsonb) with ordinality as e(value, position)
               left join added on added.author_id = cast(e.value ->> 1 as bigint)
                   and added.title_key = e.value ->> 2
               order by e.position
               on conflict (book_id, publisher_id) do nothing
               returning book_id
           )
           select coalesce(
                   (select json_agg(json_build_array(author_id, title_key, id)) from added),
                   '[]'
               )::text,
               (select count(*) from linked)",
    ),
};
