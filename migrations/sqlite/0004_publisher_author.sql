-- Which authors each publisher publishes, and with how many books: one row per
-- (publisher, author) pair that has at least one link, kept by the link triggers.
--
-- `Publisher.authors(first: 10)` reads ten entries of `publisher_author_by_name` instead
-- of every book the publisher has; `author_count` changes exactly when a pair's row comes
-- or goes. The author's name keys are copied here so that the index is the list's order;
-- `author_renamed` keeps the copies current.
--
-- This replaces 0001's "no author_publisher table": the pairs still follow from the books
-- and links alone, since the same triggers that change those change these, in the same
-- transaction, and a bulk import recounts them (`db::bulk`). A pair's count reaches zero
-- only inside a trigger, which then deletes the row.

create table publisher_author (
    publisher_id integer not null,
    author_id integer not null,
    last_name_key text not null,
    first_name_key text not null,
    book_count integer not null check (book_count >= 0),
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

drop trigger link_counted;
drop trigger link_uncounted;
drop trigger book_moved;

-- A link counts its book at the publisher and, when the pair is new, its author.
create trigger link_counted after insert on book_publisher
when not exists (select 1 from bulk_load)
begin
    insert into publisher_author (publisher_id, author_id, last_name_key, first_name_key, book_count)
    select new.publisher_id, a.id, a.last_name_key, a.first_name_key, 1
    from book b join author a on a.id = b.author_id
    where b.id = new.book_id
    on conflict (publisher_id, author_id) do update set book_count = book_count + 1;
    update publisher set
        book_count = book_count + 1,
        author_count = author_count + (
            select pa.book_count = 1 from publisher_author pa
            where pa.publisher_id = new.publisher_id
                and pa.author_id = (select author_id from book where id = new.book_id)
        )
    where id = new.publisher_id;
end;

-- Links are removed while their book still exists (`book_uncounted` removes a book's links
-- before the book), so the book still says whose pair to uncount. A pair whose count
-- reaches zero goes, and its author from the publisher's count with it.
create trigger link_uncounted after delete on book_publisher
when not exists (select 1 from bulk_load)
begin
    update publisher_author set book_count = book_count - 1
    where publisher_id = old.publisher_id
        and author_id = (select author_id from book where id = old.book_id);
    update publisher set
        book_count = book_count - 1,
        author_count = author_count - (
            select count(*) from publisher_author pa
            where pa.publisher_id = old.publisher_id
                and pa.author_id = (select author_id from book where id = old.book_id)
                and pa.book_count = 0
        )
    where id = old.publisher_id;
    delete from publisher_author
    where publisher_id = old.publisher_id
        and author_id = (select author_id from book where id = old.book_id)
        and book_count = 0;
end;

-- A book moved to another author moves its count, at each of its publishers, from the
-- old author's pair to the new author's, by the same rules as a link removed and added.
create trigger book_moved after update of author_id on book
when old.author_id <> new.author_id and not exists (select 1 from bulk_load)
begin
    update author set book_count = book_count - 1 where id = old.author_id;
    update author set book_count = book_count + 1 where id = new.author_id;
    update publisher_author set book_count = book_count - 1
    where author_id = old.author_id
        and publisher_id in (select publisher_id from book_publisher where book_id = new.id);
    insert into publisher_author (publisher_id, author_id, last_name_key, first_name_key, book_count)
    select bp.publisher_id, a.id, a.last_name_key, a.first_name_key, 1
    from book_publisher bp join author a on a.id = new.author_id
    where bp.book_id = new.id
    on conflict (publisher_id, author_id) do update set book_count = book_count + 1;
    update publisher set author_count = author_count
        - (select count(*) from publisher_author pa
           where pa.publisher_id = publisher.id and pa.author_id = old.author_id
               and pa.book_count = 0)
        + (select count(*) from publisher_author pa
           where pa.publisher_id = publisher.id and pa.author_id = new.author_id
               and pa.book_count = 1)
    where id in (select publisher_id from book_publisher where book_id = new.id);
    delete from publisher_author where author_id = old.author_id and book_count = 0;
end;

-- The pairs' copies of an author's name keys follow the author's.
create trigger author_renamed after update of first_name_key, last_name_key on author
begin
    update publisher_author
    set first_name_key = new.first_name_key, last_name_key = new.last_name_key
    where author_id = new.id;
end;
