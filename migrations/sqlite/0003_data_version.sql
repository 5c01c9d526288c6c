-- The catalogue's data version: one row whose token every write transaction replaces just
-- before it commits (`db::version`), whichever process writes. HTTP caching puts the token
-- into the ETag of a query's response, so a write anywhere makes every earlier ETag stale.
--
-- A random token rather than a counter: a counter starts again at the same values in a
-- database recreated or restored from a copy, where an old ETag could then match data it
-- never described. SQLite's `pragma data_version` is no substitute: it is per connection,
-- starts afresh in every process and does not count the connection's own writes.

create table data_version (
    id integer primary key check (id = 1),
    token text not null
);

insert into data_version (id, token) values (1, lower(hex(randomblob(16))));
