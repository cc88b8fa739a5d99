/**
 * Versioned SQL migrations for the schema a service owns, applied in order at start-up, each in
 * its own transaction, under an advisory lock so instances starting together apply each once.
 * Applied versions are recorded in <schema>.migrations; a changed migration is refused.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export class MigrationError extends Error {}

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

export async function migrate(
  pool: Pool,
  schema: string,
  migrations: readonly Migration[],
): Promise<number[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new MigrationError(`bad schema name '${schema}'`);
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [`migrate:${schema}`]);
    await client.query(`create schema if not exists ${schema}`);
    await client.query(
      `create table if not exists ${schema}.migrations (
         version integer primary key,
         name text not null,
         checksum text not null,
         applied_at timestamptz not null default now())`,
    );
    const { rows } = await client.query<{ version: number; checksum: string }>(
      `select version, checksum from ${schema}.migrations`,
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      const sum = checksum(migration.sql);
      const earlier = done.get(migration.version);
      if (earlier !== undefined) {
        if (earlier !== sum) {
          throw new MigrationError(
            `${schema} migration ${migration.version} (${migration.name}) changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await client.query('begin');
      try {
        await client.query(migration.sql);
        await client.query(
          `insert into ${schema}.migrations (version, name, checksum) values ($1, $2, $3)`,
          [migration.version, migration.name, sum],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      }
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await client
      .query('select pg_advisory_unlock(hashtext($1))', [`migrate:${schema}`])
      .catch(() => {});
    client.release();
  }
}
