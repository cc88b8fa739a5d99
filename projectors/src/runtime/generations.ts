/**
 * The generation pointer of each projection (`read.generations`): which build of its read model
 * readers use. A rebuild fills generation n+1 beside n and then moves the pointer in one update.
 */
import type { Pool, PoolClient } from '@parley/platform/postgres';

type Queryable = Pool | PoolClient;

export const READ_SCHEMA = 'read';

export async function ensureReadSchema(pool: Pool): Promise<void> {
  await pool.query(`
    create schema if not exists read;
    create table if not exists read.generations (
      projection text primary key,
      generation integer not null,
      switched_at timestamptz not null default now());
    create table if not exists read.checkpoints (
      projection text not null,
      generation integer not null,
      topic text not null,
      partition integer not null,
      next_offset bigint not null,
      primary key (projection, generation, topic, partition));
  `);
}

export async function currentGeneration(
  db: Queryable,
  projection: string,
): Promise<number | undefined> {
  const { rows } = await db.query<{ generation: number }>(
    'select generation from read.generations where projection = $1',
    [projection],
  );
  return rows[0]?.generation;
}

export async function switchGeneration(db: Queryable, projection: string, generation: number) {
  await db.query(
    `insert into read.generations (projection, generation) values ($1, $2)
     on conflict (projection) do update set generation = excluded.generation, switched_at = now()`,
    [projection, generation],
  );
}

/** The highest generation with checkpoints or a pointer: where a new build must go beyond. */
export async function latestGeneration(db: Queryable, projection: string): Promise<number> {
  const { rows } = await db.query<{ n: number | null }>(
    `select greatest(
       (select max(generation) from read.checkpoints where projection = $1),
       (select generation from read.generations where projection = $1)) as n`,
    [projection],
  );
  return rows[0]?.n ?? 0;
}

export async function dropCheckpoints(db: Queryable, projection: string, generation: number) {
  await db.query('delete from read.checkpoints where projection = $1 and generation = $2', [
    projection,
    generation,
  ]);
}
