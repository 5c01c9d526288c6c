-- Writers no longer run one at a time: every write transaction takes bookgraph's advisory
-- lock in shared mode only (`db::PostgresStore::begin`), so replicas write side by side, and
-- only a bulk import, whose triggers stand aside until it recounts, takes it exclusively.
-- This replaces what 0002's header says about the lock.
--
-- Every count is now kept by row-level increments (author, publisher) or by the
-- `publisher_author` pair's row under its row lock (0004); no trigger decides from a
-- snapshot of other rows any more. What is left is the order in which triggers take row
-- locks, so that two writers wait for each other at most one way round, never in a cycle:
--
--     book  ->  author (by id)  ->  publisher (by id)  ->  (publisher, author) pair
--
-- A link's trigger locks its book first, for share: a book moving to another author holds
-- that row while it moves the book's pairs, so a link added alongside is counted for the
-- author that wins, not for the one the link's snapshot saw. It then locks the publisher
-- before the pair (0004 had the pair first), the order a batch of links sorted by publisher
-- takes them in. Cycles the order cannot rule out (two transactions that each run several
-- mutations) end in PostgreSQL's deadlock error, and the writer runs the mutation again.

create or replace function link_counted() returns trigger language plpgsql as $$
declare
    link book_publisher := case when tg_op = 'INSERT' then new else old end;
    author bigint := (select author_id from book where id = link.book_id for share);
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
        perform 1 from publisher where id = link.publisher_id for no key update;
        if tg_op = 'INSERT' then
            authors_added := pair_counted(link.publisher_id, author);
            update publisher set
                book_count = book_count + 1,
                author_count = author_count + authors_added
            where id = link.publisher_id;
        else
            authors_added := -pair_uncounted(link.publisher_id, author);
            update publisher set
                book_count = book_count - 1,
                author_count = author_count + authors_added
            where id = link.publisher_id;
        end if;
    end if;
    return null;
end
$$;

-- The two authors in id order, then each publisher and its pairs in publisher order.
create or replace function book_moved() returns trigger language plpgsql as $$
declare
    at_publisher bigint;
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
        perform 1 from author where id in (old.author_id, new.author_id)
        order by id for no key update;
        update author set book_count = book_count - 1 where id = old.author_id;
        update author set book_count = book_count + 1 where id = new.author_id;
        for at_publisher in
            select publisher_id from book_publisher where book_id = new.id order by publisher_id
        loop
            perform 1 from publisher where id = at_publisher for no key update;
            authors_added := pair_counted(at_publisher, new.author_id)
                - pair_uncounted(at_publisher, old.author_id);
            update publisher set author_count = author_count + authors_added
            where id = at_publisher;
        end loop;
    end if;
    return null;
end
$$;

-- A book deleted: its author before its links' publishers and pairs, in the order above.
create or replace function book_uncounted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        update author set book_count = book_count - 1 where id = old.author_id;
        delete from book_publisher where book_id = old.id;
    end if;
    return old;
end
$$;
