-- FerretDB 1.24 filters documents with `_jsonb -> '_id' @> value`, which its own B-tree index on
-- `_id` cannot serve: every update, replace or find by _id scans the whole collection table. A
-- GIN index (jsonb_path_ops serves @>) on each collection table's _id fixes that for the local
-- stand-in; MongoDB indexes _id itself. Run on every start of the stack: idempotent.

create or replace function parley_index_document_ids(target regclass) returns void
language plpgsql as $$
begin
  execute format(
    'create index if not exists %I on %s using gin ((_jsonb -> ''_id'') jsonb_path_ops)',
    'parley_id_gin_' || target::oid, target);
end $$;

-- Collection tables made from now on.
create or replace function parley_index_new_document_tables() returns event_trigger
language plpgsql as $$
declare command record;
begin
  for command in select * from pg_event_trigger_ddl_commands()
    where command_tag = 'CREATE TABLE' and object_type = 'table' loop
    if exists (select 1 from pg_attribute where attrelid = command.objid and attname = '_jsonb') then
      perform parley_index_document_ids(command.objid::regclass);
    end if;
  end loop;
end $$;

drop event trigger if exists parley_index_new_document_tables;
create event trigger parley_index_new_document_tables on ddl_command_end
  when tag in ('CREATE TABLE') execute function parley_index_new_document_tables();

-- Collection tables already there.
do $$
declare t record;
begin
  for t in select a.attrelid::regclass as target from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    where a.attname = '_jsonb' and c.relkind = 'r' loop
    perform parley_index_document_ids(t.target);
  end loop;
end $$;
