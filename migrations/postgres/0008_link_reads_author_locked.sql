-- A link's trigger copies its author's name keys into the (publisher, author) pair it may
-- create (`pair_counted`, 0004). It read them without a lock, so a rename committing
-- meanwhile left the new pair with the old keys: the rename's own trigger had run before
-- the pair existed. The trigger now locks the author `for key share` first. A rename
-- changes columns of a unique index, so PostgreSQL has its update take the row `for
-- update`, which that lock waits for: a link waits for a rename in progress and then reads
-- its result, and a rename waits for the link and then renames the pair it finds. The
-- updates of an author's book count take a weaker lock, which `for key share` does not
-- wait for, so writes that only add books and links wait for each other no more than
-- before. Only an added link copies keys; a removed one takes no such lock.
--
-- A statement adding several links locks one link's author after another link's
-- publisher, against the order of 0005. Only a rename or a delete of that author can
-- close a cycle with it; PostgreSQL then reports a deadlock and the writer runs the
-- mutation again.

create or replace function link_counted() returns trigger language plpgsql as $$
declare
    link book_publisher := case when tg_op = 'INSERT' then new else old end;
    author bigint := (select author_id from book where id = link.book_id for share);
    authors_added bigint;
begin
    if not exists (select 1 from bulk_load) then
        if tg_op = 'INSERT' then
            perform 1 from author a where a.id = author for key share;
        end if;
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
