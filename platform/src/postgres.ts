/** The one place PostgreSQL pools are made (node-postgres). */
import pg from 'pg';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';

export type { Pool, PoolClient, QueryResult } from 'pg';

export const postgresSettings = {
  POSTGRES_URL: env.url(['postgres', 'postgresql'], {
    default: { dev: 'postgres://parley@127.0.0.1:15432/parley' },
  }),
  /** Kept out of the URL so it can come from a mounted secret file. Empty locally (trust auth). */
  POSTGRES_PASSWORD: env.secret({ default: { dev: '' } }),
  POSTGRES_POOL_MAX: env.int(1, 200, { default: 10 }),
};

export interface PostgresOptions {
  url: string;
  password?: string;
  max?: number;
  applicationName: string;
}

export function createPostgresPool(options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(options.password ? { password: options.password } : {}),
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/**
 * Runs `work` in one transaction on a client of the pool: committed when it resolves, rolled back
 * when it throws (the error goes on), the client released either way.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export function postgresHealthCheck(pool: pg.Pool): HealthCheck {
  return {
    name: 'postgres',
    check: async () => {
      await pool.query('select 1');
    },
  };
}

/** A pool from the shared settings, with its readiness check and how to close it. */
export function connectPostgres(
  config: ConfigOf<typeof postgresSettings>,
  applicationName: string,
) {
  const pool = createPostgresPool({
    url: config.POSTGRES_URL,
    password: config.POSTGRES_PASSWORD,
    max: config.POSTGRES_POOL_MAX,
    applicationName,
  });
  return {
    pool,
    check: postgresHealthCheck(pool),
    resource: { name: 'postgres', close: () => pool.end() },
  };
}
