-- The name keys copied into `publisher_author` (0004) compare byte by byte, as the keys they
-- copy do (0001): with the database's locale, a publisher's `authors(first: n)` picked and
-- ordered its authors in another order than its full list of authors.

alter table publisher_author
    alter column last_name_key type text collate "C",
    alter column first_name_key type text collate "C";
