-- Readers take counts from `counted_author` and `counted_publisher`, on either backend. On
-- PostgreSQL those views add up the parts that concurrent writers keep
-- (migrations/postgres/0009); SQLite's one writer keeps each count in its row, so here
-- they are the tables' own columns, and an ordering by a count still scans its index.

create view counted_author as
select id, first_name, last_name, first_name_key, last_name_key, book_count from author;

create view counted_publisher as
select id, name, name_key, book_count, author_count from publisher;
