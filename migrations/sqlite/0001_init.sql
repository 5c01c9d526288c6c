-- The catalogue: authors write books, books are published by publishers.
--
-- Uniqueness ignores letter case through the *_key columns. The application fills them
-- with the Unicode-lowercased, white-space-collapsed form of the name, because SQLite's
-- NOCASE folds ASCII only ("Émile" vs "émile") and PostgreSQL has no NOCASE at all; a
-- plain unique index over a key column ports to both unchanged.
--
-- There is deliberately no author_publisher table: which authors a publisher publishes
-- follows from its books, so it is derived by query and can never drift from them.

create table author (
    id integer primary key,
    first_name text not null,
    last_name text not null,
    first_name_key text not null,
    last_name_key text not null
);

-- Also the index behind the default author order: last name, then first name.
create unique index author_name_key on author (last_name_key, first_name_key);

create table publisher (
    id integer primary key,
    name text not null,
    name_key text not null
);

create unique index publisher_name_key on publisher (name_key);

create table book (
    id integer primary key,
    author_id integer not null references author (id),
    title text not null,
    title_key text not null
);

-- One book of a title per author; also serves "books of these authors, by title".
create unique index book_author_title_key on book (author_id, title_key);
create index book_title_key on book (title_key, id);

-- A link is removed with its book or its publisher; a book is never removed implicitly
-- with its author.
create table book_publisher (
    book_id integer not null references book (id) on delete cascade,
    publisher_id integer not null references publisher (id) on delete cascade,
    primary key (book_id, publisher_id)
);

-- The primary key serves book -> publishers; this serves publisher -> books.
create index book_publisher_publisher on book_publisher (publisher_id, book_id);
