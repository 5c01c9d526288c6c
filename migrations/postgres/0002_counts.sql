-- Book and author counts kept in the rows they describe, as in migrations/sqlite: the
-- same columns, indexes and trigger rules, written as PL/pgSQL trigger functions.
--
-- PostgreSQL runs these row triggers once the whole statement is done, SQLite row by row:
-- the two agree for statements that insert or move one row, which is how the application
-- writes (bulk imports switch the triggers off). A multi-row insert of links would miscount
-- authors here.
--
-- The author_count rules read "does this author have another book at this publisher",
-- which is only right when writes do not interleave. Every write transaction therefore
-- takes one advisory lock first (`db::Db::begin_write`), so writers run one at a time
-- across every replica, exactly as they do on SQLite's single writer.

alter table author add column book_count bigint not null default 0;
alter table publisher add column book_count bigint not null default 0;
alter table publisher add column author_count bigint not null default 0;

create index author_book_count on author (book_count desc, last_name_key, first_name_key, id);
create index publisher_book_count on publisher (book_count desc, name_key, id);
create index publisher_author_count on publisher (author_count desc, name_key, id);

-- While a bulk import runs it puts a row here and the triggers stand aside; the import
-- recounts once before it commits.
create table bulk_load (active integer not null);

-- 1 when `of_author` has no book at `at_publisher` other than `except_book`, else 0.
create function only_book_of_author_at(of_author bigint, at_publisher bigint, except_book bigint)
returns bigint language sql stable as $$
    select case when exists (
        select 1
        from book b join book_publisher bp on bp.book_id = b.id and bp.publisher_id = at_publisher
        where b.author_id = of_author and b.id <> except_book
    ) then 0 else 1 end
$$;

create function book_counted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        update author set book_count = book_count + 1 where id = new.author_id;
    end if;
    return null;
end
$$;

create trigger book_counted after insert on book
for each row execute function book_counted();

-- Links go before their book, while the book still says who wrote it.
create function book_uncounted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        delete from book_publisher where book_id = old.id;
        update author set book_count = book_count - 1 where id = old.author_id;
    end if;
    return old;
end
$$;

create trigger book_uncounted before delete on book
for each row execute function book_uncounted();

-- A link added counts its book and, if it is the author's first book there, its author; a
-- link removed uncounts them.
create function link_counted() returns trigger language plpgsql as $$
declare
    link book_publisher := case when tg_op = 'INSERT' then new else old end;
    step bigint := case when tg_op = 'INSERT' then 1 else -1 end;
begin
    if not exists (select 1 from bulk_load) then
        update publisher set
            book_count = book_count + step,
            author_count = author_count + step * only_book_of_author_at(
                (select author_id from book where id = link.book_id), link.publisher_id, link.book_id)
        where id = link.publisher_id;
    end if;
    return null;
end
$$;

create trigger link_counted after insert or delete on book_publisher
for each row execute function link_counted();

create function book_moved() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from bulk_load) then
        update author set book_count = book_count - 1 where id = old.author_id;
        update author set book_count = book_count + 1 where id = new.author_id;
        update publisher set author_count = author_count
            - only_book_of_author_at(old.author_id, publisher.id, new.id)
            + only_book_of_author_at(new.author_id, publisher.id, new.id)
        where id in (select publisher_id from book_publisher where book_id = new.id);
    end if;
    return null;
end
$$;

create trigger book_moved after update of author_id on book
for each row when (old.author_id <> new.author_id) execute function book_moved();
