-- Counts in parts, so that replicas writing books of the same authors and publishers stop
-- queueing on one row each.
--
-- Every write used to add its change to the author's and the publisher's own row. PostgreSQL
-- keeps a row's lock until the commit that changed it is on disk, so two transactions adding
-- books of one publisher ran one after the other, flush included, whichever replica ran them:
-- with W1's 20 publishers, every lot of one replica waited for the other's.
--
-- A count is now its row's column plus the parts in `author_count_part` and
-- `publisher_count_part`, at most sixteen per author or publisher. A transaction adds its
-- changes to the part its transaction id picks (`count_part`), so two writers meet on a row
-- once in sixteen times, as they do on the data version (0006). The column holds what the
-- last import counted (which clears the parts, `db::bulk`) and the parts folded into it
-- since (`fold_count_parts`, below), so that it stays in its index. Readers take counts
-- from the views `counted_author` and `counted_publisher`, which add the parts up; SQLite,
-- with its one writer, keeps counts in the columns alone behind views of the same names.
--
-- The lock order of 0005 stays, with a publisher's part in the place of its row:
--
--     book  ->  author  ->  author's part  ->  publisher's part  ->  (publisher, author) pair
--
-- Two writers on different parts share only pairs, which a statement of links takes in
-- (publisher, author) order. A write that finds its author or publisher gone (deleted
-- earlier in its own transaction, its links going after it) leaves the parts alone;
-- deleting an author or a publisher deletes its parts.

create table author_count_part (
    author_id bigint not null references author (id) on delete cascade,
    part smallint not null,
    book_count bigint not null,
    primary key (author_id, part)
);

create table publisher_count_part (
    publisher_id bigint not null references publisher (id) on delete cascade,
    part smallint not null,
    book_count bigint not null,
    author_count bigint not null,
    primary key (publisher_id, part)
);

-- The part this transaction writes: the same for all of its writes, so that they lock one
-- part of each row, in the order above.
create function count_part() returns smallint language sql volatile as $$
    select (txid_current() % 16)::smallint
$$;

-- The parts summed per row by one aggregate joined to the rows rather than by a subquery per
-- row: parts are few once folded, and a read that selects no count drops the join.
create view counted_author as
select a.id, a.first_name, a.last_name, a.first_name_key, a.last_name_key,
    a.book_count + coalesce(parts.books, 0) as book_count
from author a
left join (
    select author_id, sum(book_count)::bigint as books
    from author_count_part group by author_id
) as parts on parts.author_id = a.id;

create view counted_publisher as
select p.id, p.name, p.name_key,
    p.book_count + coalesce(parts.books, 0) as book_count,
    p.author_count + coalesce(parts.authors, 0) as author_count
from publisher p
left join (
    select publisher_id, sum(book_count)::bigint as books, sum(author_count)::bigint as authors
    from publisher_count_part group by publisher_id
) as parts on parts.publisher_id = p.id;

-- `books` more books of `of_author`, in this transaction's part, unless the author is gone.
-- PL/pgSQL, not SQL, for its cached plans: these run for every book and link written.
create function author_books_added(of_author bigint, books bigint) returns void
language plpgsql as $$
begin
    insert into author_count_part (author_id, part, book_count)
    select a.id, count_part(), books from author a where a.id = of_author
    on conflict (author_id, part)
        do update set book_count = author_count_part.book_count + excluded.book_count;
end
$$;

-- `books` more books and `authors` more authors at `at_publisher`, in this transaction's
-- part, unless the publisher is gone. A change of zero locks the part all the same: the
-- place its pairs take in the lock order.
create function publisher_counts_added(at_publisher bigint, books bigint, authors bigint)
returns void language plpgsql as $$
begin
    insert into publisher_count_part (publisher_id, part, book_count, author_count)
    select p.id, count_part(), books, authors from publisher p where p.id = at_publisher
    on conflict (publisher_id, part) do update set
        book_count = publisher_count_part.book_count + excluded.book_count,
        author_count = publisher_count_part.author_count + excluded.author_count;
end
$$;

-- Books and links added are counted once per statement, from the statement's rows, rather
-- than once per row: a lot of `addBook`s inserts all its books in one statement and all its
-- links in another, and a trigger call with its statements for every row was a good part
-- of PostgreSQL's work per write. Removals and moves stay row by row, as in 0005.
drop trigger book_counted on book;
drop function book_counted();
drop trigger link_counted on book_publisher;

create function books_counted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        insert into author_count_part (author_id, part, book_count)
        select author_id, count_part(), count(*) from added group by author_id order by author_id
        on conflict (author_id, part)
            do update set book_count = author_count_part.book_count + excluded.book_count;
    end if;
    return null;
end
$$;

create trigger books_counted after insert on book
referencing new table as added
for each statement execute function books_counted();

-- In the lock order above: the books, their authors, the publishers' parts, then the pairs,
-- each in key order; the authors the new pairs bring follow in the parts already locked.
create function links_counted() returns trigger language plpgsql as $$
declare
    -- Once, into a variable: in a `where`, a volatile call would be made for every row
    -- and keep the parts' key from being used.
    this_part smallint := count_part();
begin
    if exists (select 1 from bulk_load) then
        return null;
    end if;
    perform 1 from book b join added l on l.book_id = b.id order by b.id for share of b;
    perform 1 from author a
    where a.id in (select b.author_id from added l join book b on b.id = l.book_id)
    order by a.id for key share;
    insert into publisher_count_part (publisher_id, part, book_count, author_count)
    select publisher_id, this_part, count(*), 0 from added
    group by publisher_id order by publisher_id
    on conflict (publisher_id, part)
        do update set book_count = publisher_count_part.book_count + excluded.book_count;
    with pairs as (
        select l.publisher_id, b.author_id, count(*) as books
        from added l join book b on b.id = l.book_id
        group by l.publisher_id, b.author_id
    ), counted as (
        insert into publisher_author
            (publisher_id, author_id, last_name_key, first_name_key, book_count)
        select pairs.publisher_id, a.id, a.last_name_key, a.first_name_key, pairs.books
        from pairs join author a on a.id = pairs.author_id
        order by pairs.publisher_id, a.id
        on conflict (publisher_id, author_id)
            do update set book_count = publisher_author.book_count + excluded.book_count
        returning publisher_id, author_id, book_count
    ), arrived as (
        -- A pair whose count is what this statement added is new: the author arrived.
        select counted.publisher_id, count(*) as authors
        from counted join pairs using (publisher_id, author_id)
        where counted.book_count = pairs.books
        group by counted.publisher_id
    )
    update publisher_count_part c set author_count = c.author_count + arrived.authors
    from arrived
    where c.publisher_id = arrived.publisher_id and c.part = this_part;
    return null;
end
$$;

create trigger links_counted after insert on book_publisher
referencing new table as added
for each statement execute function links_counted();

create or replace function book_uncounted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        perform author_books_added(old.author_id, -1);
        delete from book_publisher where book_id = old.id;
    end if;
    return old;
end
$$;

-- A link removed: the publisher's part before the pair, so the part's lock orders writers
-- of one publisher as the publisher's row did.
create or replace function link_counted() returns trigger language plpgsql as $$
declare
    author bigint := (select author_id from book where id = old.book_id for share);
    authors_removed bigint;
begin
    if not exists (select 1 from bulk_load) then
        perform publisher_counts_added(old.publisher_id, -1, 0);
        authors_removed := pair_uncounted(old.publisher_id, author);
        if authors_removed <> 0 then
            perform publisher_counts_added(old.publisher_id, 0, -authors_removed);
        end if;
    end if;
    return null;
end
$$;

create trigger link_counted after delete on book_publisher
for each row execute function link_counted();

-- The two authors' parts in id order, then each publisher's part and its two pairs, in
-- publisher order and each publisher's pairs in author order.
create or replace function book_moved() returns trigger language plpgsql as $$
declare
    at_publisher bigint;
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
        if old.author_id < new.author_id then
            perform author_books_added(old.author_id, -1);
            perform author_books_added(new.author_id, 1);
        else
            perform author_books_added(new.author_id, 1);
            perform author_books_added(old.author_id, -1);
        end if;
        for at_publisher in
            select publisher_id from book_publisher where book_id = new.id order by publisher_id
        loop
            perform publisher_counts_added(at_publisher, 0, 0);
            if new.author_id < old.author_id then
                authors_added := pair_counted(at_publisher, new.author_id);
                authors_added := authors_added - pair_uncounted(at_publisher, old.author_id);
            else
                authors_added := -pair_uncounted(at_publisher, old.author_id);
                authors_added := authors_added + pair_counted(at_publisher, new.author_id);
            end if;
            if authors_added <> 0 then
                perform publisher_counts_added(at_publisher, 0, authors_added);
            end if;
        end loop;
    end if;
    return null;
end
$$;


-- Moves the parts that no writer holds into their rows' columns, so that parts stay few:
-- an ordering by a count reads its rows by the columns' indexes and adds up only the rows
-- that have parts (`db::pages`). Each replica calls it now and then while it writes
-- (`db::fold`). It waits for no one: it takes only the rows and parts that nobody holds
-- (`skip locked`; a row `for no key update`, which writers' `key share` locks do not
-- conflict with), and leaves the rest to a later call. It holds bookgraph's write lock
-- shared (`write_lock`), as every writer does, so it never runs while an import recounts,
-- and `fold_lock` lets one replica fold at a time, and a session put folding off. Returns
-- whether it ran.
create function fold_count_parts(write_lock bigint, fold_lock bigint) returns boolean
language plpgsql as $$
begin
    if not (pg_try_advisory_xact_lock_shared(write_lock)
            and pg_try_advisory_xact_lock(fold_lock)) then
        return false;
    end if;
    with held as (
        select a.id from author a
        where a.id in (select author_id from author_count_part)
        for no key update of a skip locked
    ), taken as (
        select c.author_id, c.part from author_count_part c join held on held.id = c.author_id
        for update of c skip locked
    ), moved as (
        delete from author_count_part c using taken
        where c.author_id = taken.author_id and c.part = taken.part
        returning c.author_id, c.book_count
    )
    update author a set book_count = a.book_count + sums.books
    from (select author_id, sum(book_count) as books from moved group by author_id) as sums
    where a.id = sums.author_id;
    with held as (
        select p.id from publisher p
        where p.id in (select publisher_id from publisher_count_part)
        for no key update of p skip locked
    ), taken as (
        select c.publisher_id, c.part from publisher_count_part c
        join held on held.id = c.publisher_id
        for update of c skip locked
    ), moved as (
        delete from publisher_count_part c using taken
        where c.publisher_id = taken.publisher_id and c.part = taken.part
        returning c.publisher_id, c.book_count, c.author_count
    )
    update publisher p set
        book_count = p.book_count + sums.books,
        author_count = p.author_count + sums.authors
    from (
        select publisher_id, sum(book_count) as books, sum(author_count) as authors
        from moved group by publisher_id
    ) as sums
    where p.id = sums.publisher_id;
    return true;
end
$$;
