-- The data version in sixteen rows instead of one. A write transaction replaces the token
-- of one of them, picked at random, just before it commits (`db::version`); the version
-- readers see is all sixteen together, so it still changes with every commit.
--
-- With one row, the row lock that replacing its token takes was held until the commit had
-- reached the disk, so every commit waited for the one before it to be flushed, whichever
-- replica made it: replicas wrote one transaction at a time, and PostgreSQL could not flush
-- two commits together. Two transactions now meet on a row once in sixteen times.

alter table data_version drop constraint data_version_id_check;
alter table data_version add constraint data_version_id_check check (id between 1 and 16);

insert into data_version (id, token)
select shard, gen_random_uuid()::text from generate_series(2, 16) as shard;
