-- The catalogue's data version, as in migrations/sqlite: one row whose token every write
-- transaction replaces just before it commits (`db::version`). It lives in the database
-- every replica shares, so all replicas tag the same data with the same version.

create table data_version (
    id integer primary key check (id = 1),
    token text not null
);

insert into data_version (id, token) values (1, gen_random_uuid()::text);
