-- Which authors each publisher publishes, and with how many books, as in migrations/sqlite:
-- one row per (publisher, author) pair with at least one link, kept by the link triggers,
-- the author's name keys copied so that `publisher_author_by_name` is the list's order.
--
-- Each link added or removed changes its pair's row with one upsert or one decrement, so
-- the row lock on the pair, not a rule reading other rows, decides when an author arrives
-- at or leaves a publisher. That also makes a multi-row insert of links count right.

create table publisher_author (
    publisher_id bigint not null,
    author_id bigint not null,
    last_name_key text not null,
    first_name_key text not null,
    book_count bigint not null check (book_count >= 0),
    primary key (publisher_id, author_id)
);

create index publisher_author_by_name
    on publisher_author (publisher_id, last_name_key, first_name_key, author_id);
create index publisher_author_author on publisher_author (author_id);

insert into publisher_author (publisher_id, author_id, last_name_key, first_name_key, book_count)
select bp.publisher_id, a.id, a.last_name_key, a.first_name_key, count(*)
from book_publisher bp
join book b on b.id = bp.book_id
join author a on a.id = b.author_id
group by bp.publisher_id, a.id;

update publisher set
    author_count = (select count(*) from publisher_author pa where pa.publisher_id = publisher.id);

-- One more book of `of_author` at `at_publisher`; 1 when the author is new there, else 0.
create function pair_counted(at_publisher bigint, of_author bigint) returns bigint
language plpgsql as $$
declare
    books bigint;
begin
    insert into publisher_author (publisher_id, author_id, last_name_key, first_name_key, book_count)
    select at_publisher, a.id, a.last_name_key, a.first_name_key, 1 from author a where a.id = of_author
    on conflict (publisher_id, author_id)
        do update set book_count = publisher_author.book_count + 1
    returning book_count into books;
    return case when books = 1 then 1 else 0 end;
end
$$;

-- One book fewer of `of_author` at `at_publisher`; 1 when that was the author's last there.
-- The decrement comes first: it waits for any other transaction holding the pair's row and
-- then counts from that transaction's result, where a delete filtered on the count would
-- judge by a stale snapshot. The row lives at zero only until the delete below.
create function pair_uncounted(at_publisher bigint, of_author bigint) returns bigint
language plpgsql as $$
declare
    books bigint;
begin
    update publisher_author set book_count = book_count - 1
    where publisher_id = at_publisher and author_id = of_author
    returning book_count into books;
    if books = 0 then
        delete from publisher_author where publisher_id = at_publisher and author_id = of_author;
        return 1;
    end if;
    return 0;
end
$$;

-- The pair's row changes in a statement of its own, before the publisher's: functions with
-- side effects inside an UPDATE's SET would run again if a concurrent write made PostgreSQL
-- re-evaluate the row, and would not run at all once the publisher is gone (a publisher
-- deleted removes its links after itself).
create or replace function link_counted() returns trigger language plpgsql as $$
declare
    link book_publisher := case when tg_op = 'INSERT' then new else old end;
    author bigint := (select author_id from book where id = link.book_id);
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
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

create or replace function book_moved() returns trigger language plpgsql as $$
declare
    at_publisher bigint;
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
        update author set book_count = book_count - 1 where id = old.author_id;
        update author set book_count = book_count + 1 where id = new.author_id;
        for at_publisher in
            select publisher_id from book_publisher where book_id = new.id order by publisher_id
        loop
            authors_added := pair_counted(at_publisher, new.author_id)
                - pair_uncounted(at_publisher, old.author_id);
            update publisher set author_count = author_count + authors_added
            where id = at_publisher;
        end loop;
    end if;
    return null;
end
$$;

drop function only_book_of_author_at(bigint, bigint, bigint);

-- The pairs' copies of an author's name keys follow the author's.
create function author_renamed() returns trigger language plpgsql as $$
begin
    update publisher_author
    set first_name_key = new.first_name_key, last_name_key = new.last_name_key
    where author_id = new.id;
    return null;
end
$$;

create trigger author_renamed after update of first_name_key, last_name_key on author
for each row execute function author_renamed();
