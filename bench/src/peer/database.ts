/**
 * The stack's PostgreSQL as the Emmett peer uses it: a database of its own, made before its run
 * and dropped after (with whatever connections are left), since Emmett cannot share one with
 * Parley's schemas; and the CPU the server spends, as the peer's store.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createPostgresPool } from '@parley/platform/postgres';

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `url` with its database replaced by `name`. */
export function databaseUrl(url: string, name: string): string {
  const at = new URL(url);
  at.pathname = `/${name}`;
  return at.toString();
}

export async function createDatabase(
  config: { POSTGRES_URL: string; POSTGRES_PASSWORD: string },
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!NAME.test(name)) throw new Error(`bad database name '${name}'`);
  const pool = createPostgresPool({
    url: config.POSTGRES_URL,
    password: config.POSTGRES_PASSWORD,
    max: 1,
    applicationName: 'bench.peer-database',
  });
  const drop = () => pool.query(`drop database if exists ${name} with (force)`);
  try {
    // A run that was killed leaves its database behind.
    await drop();
    await pool.query(`create database ${name}`);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    url: databaseUrl(config.POSTGRES_URL, name),
    drop: async () => {
      try {
        await drop();
      } finally {
        await pool.end();
      }
    },
  };
}

/**
 * CPU time (user + system, seconds) of every PostgreSQL server process on this machine so far:
 * the postmaster, its workers and every connection's backend, ended ones included (their time
 * moves to the postmaster's children's time).
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // it ended meanwhile
    }
    if (!stat.includes(' (postgres) ')) continue;
    // Fields 14-17 of /proc/<pid>/stat (own and reaped children's), after the name in parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0);
    total += ticks / 100;
  }
  return total;
}
