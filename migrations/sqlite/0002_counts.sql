-- Book and author counts kept current in the rows they describe, so that ordering
-- publishers or authors by a count is an index scan instead of a recount of every link
-- on every request.
--
-- Triggers maintain them inside the very transaction that changes books or links, so they
-- cannot drift from the rows they count: a rolled-back write rolls its counts back too.
-- The relation "publisher publishes author" stays derived: author_count is recomputed from
-- books at the edges where it can change, never stored as pairs.

alter table author add column book_count integer not null default 0;
alter table publisher add column book_count integer not null default 0;
alter table publisher add column author_count integer not null default 0;

update author set book_count = (select count(*) from book where book.author_id = author.id);
update publisher set
    book_count = (select count(*) from book_publisher bp where bp.publisher_id = publisher.id),
    author_count = (
        select count(distinct b.author_id)
        from book_publisher bp join book b on b.id = bp.book_id
        where bp.publisher_id = publisher.id
    );

-- Most-first is the order reports ask for; ties go by name, then id.
create index author_book_count on author (book_count desc, last_name_key, first_name_key, id);
create index publisher_book_count on publisher (book_count desc, name_key, id);
create index publisher_author_count on publisher (author_count desc, name_key, id);

-- While a bulk import runs it puts a row here, and the triggers below stand aside: the
-- import recounts everything once before it commits (`db::bulk`), which is far cheaper than
-- counting row by row. Other writers never see the row, since the import holds the write
-- lock from its first statement to its commit.
create table bulk_load (active integer not null);

create trigger book_counted after insert on book
when not exists (select 1 from bulk_load)
begin
    update author set book_count = book_count + 1 where id = new.author_id;
end;

-- Links go before their book, while the book still says who wrote it; the foreign key's
-- cascade would remove them after the book is gone, too late to count authors.
create trigger book_uncounted before delete on book
when not exists (select 1 from bulk_load)
begin
    delete from book_publisher where book_id = old.id;
    update author set book_count = book_count - 1 where id = old.author_id;
end;

create trigger link_counted after insert on book_publisher
when not exists (select 1 from bulk_load)
begin
    update publisher set
        book_count = book_count + 1,
        author_count = author_count + (
            -- The first book of this author at this publisher adds the author.
            select case when exists (
                select 1
                from book b join book_publisher bp
                    on bp.book_id = b.id and bp.publisher_id = new.publisher_id
                where b.author_id = (select author_id from book where id = new.book_id)
                    and b.id <> new.book_id
            ) then 0 else 1 end
        )
    where id = new.publisher_id;
end;

create trigger link_uncounted after delete on book_publisher
when not exists (select 1 from bulk_load)
begin
    update publisher set
        book_count = book_count - 1,
        author_count = author_count - (
            select case when exists (
                select 1
                from book b join book_publisher bp
                    on bp.book_id = b.id and bp.publisher_id = old.publisher_id
                where b.author_id = (select author_id from book where id = old.book_id)
                    and b.id <> old.book_id
            ) then 0 else 1 end
        )
    where id = old.publisher_id;
end;

create trigger book_moved after update of author_id on book
when old.author_id <> new.author_id and not exists (select 1 from bulk_load)
begin
    update author set book_count = book_count - 1 where id = old.author_id;
    update author set book_count = book_count + 1 where id = new.author_id;
    -- At each of the book's publishers, the old author may leave and the new one arrive.
    update publisher set author_count = author_count
        - (select case when exists (
                select 1 from book b join book_publisher bp
                    on bp.book_id = b.id and bp.publisher_id = publisher.id
                where b.author_id = old.author_id and b.id <> new.id
            ) then 0 else 1 end)
        + (select case when exists (
                select 1 from book b join book_publisher bp
                    on bp.book_id = b.id and bp.publisher_id = publisher.id
                where b.author_id = new.author_id and b.id <> new.id
            ) then 0 else 1 end)
    where id in (select publisher_id from book_publisher where book_id = new.id);
end;
