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
    create table if not exists read.builds (
      projection text not null,
      generation integer not null,
      started_at timestamptz not null default now(),
      primary key (projection, generation));
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

/**
 * The highest generation ever started (a build, checkpoints or the pointer): a new build goes
 * beyond it, so it never reuses the consumer group (and committed offsets) of one that died.
 */
export async function latestGeneration(db: Queryable, projection: string): Promise<number> {
  const { rows } = await db.query<{ n: number | null }>(
    `select greatest(
       (select max(generation) from read.builds where projection = $1),
       (select max(generation) from read.checkpoints where projection = $1),
       (select generation from read.generations where projection = $1)) as n`,
    [projection],
  );
  return rows[0]?.n ?? 0;
}

/** Records that a build of this generation started (until it is dropped). */
export async function recordBuild(db: Queryable, projection: string, generation: number) {
  await db.query(
    'insert into read.builds (projection, generation) values ($1, $2) on conflict do nothing',
    [projection, generation],
  );
}

/** Builds that were started and never became the current generation (their rebuild died). */
export async function abandonedBuilds(db: Queryable, projection: string): Promise<number[]> {
  const { rows } = await db.query<{ generation: number }>(
    `select b.generation from read.builds b
     where b.projection = $1
       and b.generation is distinct from (select generation from read.generations where projection = $1)
     order by b.generation`,
    [projection],
  );
  return rows.map((r) => r.generation);
}

export async function forgetBuild(db: Queryable, projection: string, generation: number) {
  await db.query('delete from read.builds where projection = $1 and generation = $2', [
    projection,
    generation,
  ]);
}

/**
 * One rebuild of a projection at a time: a session lock held by a dedicated connection, so it is
 * let go when the process dies. Returns its release, or undefined when another rebuild holds it.
 */
export async function lockRebuild(pool: Pool, projection: string) {
  const client = await pool.connect();
  const key = `parley.rebuild:${projection}`;
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'select pg_try_advisory_lock(hashtext($1)) as locked',
      [key],
    );
    if (!rows[0]?.locked) {
      client.release();
      return undefined;
    }
  } catch (error) {
    client.release();
    throw error;
  }
  return async () => {
    try {
      await client.query('select pg_advisory_unlock(hashtext($1))', [key]);
    } finally {
      client.release();
    }
  };
}

export async function dropCheckpoints(db: Queryable, projection: string, generation: number) {
  await db.query('delete from read.checkpoints where projection = $1 and generation = $2', [
    projection,
    generation,
  ]);
}

/** Builds of these projections that are not the current generation: rebuilds running or dead. */
export async function unswitchedBuilds(
  db: Queryable,
  projections: readonly string[],
): Promise<Array<{ projection: string; generation: number; startedAt: Date }>> {
  const { rows } = await db.query<{ projection: string; generation: number; started_at: Date }>(
    `select b.projection, b.generation, b.started_at from read.builds b
     left join read.generations g on g.projection = b.projection
     where b.projection = any($1) and b.generation is distinct from g.generation
     order by b.projection, b.generation`,
    [projections],
  );
  return rows.map((r) => ({
    projection: r.projection,
    generation: r.generation,
    startedAt: r.started_at,
  }));
}
