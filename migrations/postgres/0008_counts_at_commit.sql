-- Counts change at commit, not as each row is written. This replaces how 0002, 0004 and
-- 0005 apply count changes; what the counts mean, and the pair rows, stay.
--
-- A row lock is held until its transaction's commit reaches the disk. The count rows of an
-- author or a publisher are shared by every write of its books, so when triggers changed
-- them as each book and link was written, a writer held them through all of its statements
-- and its flush, and every other replica's writer that touched the same publisher waited
-- for all of that (bench/README.md, "Writes over replicas"). Now the triggers only note
-- each change in `count_change`, a table of the transaction's own, and one deferred trigger
-- applies them all when the transaction commits: the shared rows are locked for the last
-- few statements and the flush only, while everything else of the transaction runs side
-- by side with other writers.
--
-- Applied at commit, the changes take their row locks in one order in every transaction:
--
--     authors (by id)  ->  each publisher (by id), then its (publisher, author) pairs
--
-- A link's trigger still reads its book's author `for share`: a book moving to another
-- author holds that row until it commits, so a link added alongside is noted for the
-- author that wins, not for the one the link's snapshot saw.

-- Unlogged: every row is deleted by the transaction that wrote it before that commits, so
-- nothing here outlives a transaction, and PostgreSQL need not log it. Other transactions'
-- rows are never visible (uncommitted, then gone); `tx` keeps the look-up of one's own an
-- index scan however many dead rows await vacuum.
create unlogged table count_change (
    tx xid8 not null default pg_current_xact_id(),
    author_id bigint not null,
    -- Null: a change of the author's own book count; else of the (publisher, author)
    -- pair's, and with it the publisher's book count and, when the pair appears or goes,
    -- its author count.
    publisher_id bigint,
    books bigint not null
);

create index count_change_tx on count_change (tx);

-- `books` more books of `of_author` at `at_publisher`; 1 when the author is new there.
drop function pair_counted(bigint, bigint);
create function pair_counted(at_publisher bigint, of_author bigint, books bigint) returns bigint
language plpgsql as $$
declare
    now_books bigint;
begin
    insert into publisher_author (publisher_id, author_id, last_name_key, first_name_key, book_count)
    select at_publisher, a.id, a.last_name_key, a.first_name_key, books from author a where a.id = of_author
    on conflict (publisher_id, author_id)
        do update set book_count = publisher_author.book_count + excluded.book_count
    returning book_count into now_books;
    return case when now_books = books then 1 else 0 end;
end
$$;

-- `books` fewer books of `of_author` at `at_publisher`; 1 when those were the author's last
-- there. The decrement comes first: it waits for any other transaction holding the pair's
-- row and then counts from that transaction's result, where a delete filtered on the count
-- would judge by a stale snapshot. The row lives at zero only until the delete below.
drop function pair_uncounted(bigint, bigint);
create function pair_uncounted(at_publisher bigint, of_author bigint, books bigint) returns bigint
language plpgsql as $$
declare
    now_books bigint;
begin
    update publisher_author set book_count = book_count - books
    where publisher_id = at_publisher and author_id = of_author
    returning book_count into now_books;
    if now_books = 0 then
        delete from publisher_author where publisher_id = at_publisher and author_id = of_author;
        return 1;
    end if;
    return 0;
end
$$;

-- Applies every count change the transaction noted, summed, in the lock order above. The
-- first of the transaction's deferred calls applies them all; the rest find none. A
-- publisher deleted in the same transaction has no row left to count in; its pairs go.
create function count_changes_applied() returns trigger language plpgsql as $$
declare
    author_ids bigint[];
    author_books bigint[];
    pair_publishers bigint[];
    pair_authors bigint[];
    pair_books bigint[];
    authors_added bigint;
begin
    with taken as (
        delete from count_change where tx = pg_current_xact_id()
        returning author_id, publisher_id, books
    ), summed as (
        select author_id, publisher_id, sum(books)::bigint as books
        from taken
        group by author_id, publisher_id
        having sum(books) <> 0
    )
    select
        array_agg(author_id order by author_id) filter (where publisher_id is null),
        array_agg(books order by author_id) filter (where publisher_id is null),
        array_agg(publisher_id order by publisher_id, author_id) filter (where publisher_id is not null),
        array_agg(author_id order by publisher_id, author_id) filter (where publisher_id is not null),
        array_agg(books order by publisher_id, author_id) filter (where publisher_id is not null)
    into author_ids, author_books, pair_publishers, pair_authors, pair_books
    from summed;

    for i in 1 .. coalesce(array_length(author_ids, 1), 0) loop
        update author set book_count = book_count + author_books[i] where id = author_ids[i];
    end loop;

    for i in 1 .. coalesce(array_length(pair_publishers, 1), 0) loop
        if i = 1 or pair_publishers[i] <> pair_publishers[i - 1] then
            perform 1 from publisher where id = pair_publishers[i] for no key update;
        end if;
        if pair_books[i] > 0 then
            authors_added := pair_counted(pair_publishers[i], pair_authors[i], pair_books[i]);
        else
            authors_added := -pair_uncounted(pair_publishers[i], pair_authors[i], -pair_books[i]);
        end if;
        update publisher set
            book_count = book_count + pair_books[i],
            author_count = author_count + authors_added
        where id = pair_publishers[i];
    end loop;
    return null;
end
$$;

create constraint trigger count_changes_applied after insert on count_change
deferrable initially deferred
for each row execute function count_changes_applied();

create or replace function book_counted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        insert into count_change (author_id, books) values (new.author_id, 1);
    end if;
    return null;
end
$$;

-- Links go before their book, while the book still says who wrote it.
create or replace function book_uncounted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        insert into count_change (author_id, books) values (old.author_id, -1);
        delete from book_publisher where book_id = old.id;
    end if;
    return old;
end
$$;

create or replace function link_counted() returns trigger language plpgsql as $$
declare
    link book_publisher := case when tg_op = 'INSERT' then new else old end;
    author bigint := (select author_id from book where id = link.book_id for share);
begin
    if not exists (select 1 from bulk_load) then
        insert into count_change (author_id, publisher_id, books)
        values (author, link.publisher_id, case when tg_op = 'INSERT' then 1 else -1 end);
    end if;
    return null;
end
$$;

create or replace function book_moved() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        insert into count_change (author_id, publisher_id, books)
        values (old.author_id, null, -1), (new.author_id, null, 1);
        insert into count_change (author_id, publisher_id, books)
        select moved.author_id, bp.publisher_id, moved.books
        from book_publisher bp
        cross join (values (old.author_id, -1), (new.author_id, 1)) as moved(author_id, books)
        where bp.book_id = new.id;
    end if;
    return null;
end
$$;
