/**
 * users -> PostgreSQL `read.users_g<n>`: profile (decrypted), role, status, created/updated and
 * the aggregate version. An erased user's row keeps its id, role and status but no email or
 * name; a replay finds their data keys gone and writes the same.
 */
import type { PoolClient } from '@parley/platform/postgres';
import { physical, usersTable } from '@parley/platform/read-model-names';
import type { UserRow } from '@parley/platform/read-models';
import type { EncryptedText } from '@parley/schemas/generated/records';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import { openSealed, personalDataIn } from '../../runtime/content.ts';
import type { Generation, PostgresProjection, Stores } from '../../runtime/projection.ts';
import { type FoldedUser, foldUsers, type Personal } from './fold.ts';

const identity = CONTEXTS.find((c) => c.name === 'identity');

const isSealed = (value: Personal): value is EncryptedText =>
  value !== null && typeof value === 'object';

/** The rows to write: sealed values decrypted (null once their person was erased). */
async function opened(rows: readonly FoldedUser[], stores: Stores): Promise<UserRow[]> {
  const sealed = rows.flatMap((r) => [r.email, r.display_name]).filter(isSealed);
  // Every data key the batch's final values need in one query, not one per person.
  const clear = await openSealed(stores, sealed);
  const open = (value: Personal) => (isSealed(value) ? (clear.get(value) ?? null) : value);
  return rows.map((r) => ({ ...r, email: open(r.email), display_name: open(r.display_name) }));
}

export const usersProjection: PostgresProjection = {
  name: 'users',
  store: 'postgres',
  // About 4,000 events a batch: half the transactions of 1 MB, a fifth faster in a rebuild.
  batchBytes: 2 * 1024 * 1024,
  topics: (names) => (identity ? [names.events(identity)] : []),

  async prepare({ pool }, g) {
    await pool.query(`
      create table if not exists ${usersTable(g)} (
        user_id uuid primary key,
        email text,
        display_name text,
        role text not null,
        status text not null,
        locale text,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        version integer not null);
      create index if not exists ${physical(g, 'users')}_email on ${usersTable(g)} (email);
      create index if not exists ${physical(g, 'users')}_status on ${usersTable(g)} (status, created_at);
      -- The accounts whose tokens the query API refuses (deactivated or erased lately).
      create index if not exists ${physical(g, 'users')}_inactive on ${usersTable(g)} (updated_at)
        where status <> 'active';
    `);
  },

  async drop({ pool }, g) {
    await pool.query(`drop table if exists ${usersTable(g)}`);
  },

  async checksum({ pool }, g) {
    const { rows } = await pool.query<{ sum: string | null }>(
      `select md5(string_agg(t::text, '|' order by user_id)) as sum from ${usersTable(g)} t`,
    );
    return rows[0]?.sum ?? 'empty';
  },

  async apply(client: PoolClient, stores, g, events) {
    const ids = [...new Set(events.map((e) => e.value.metadata.aggregateId))];
    // The rows, and the data keys the batch's personal data may need, at the same time.
    const [{ rows }] = await Promise.all([
      client.query<UserRow>(`select * from ${usersTable(g)} where user_id = any($1::uuid[])`, [
        ids,
      ]),
      stores.cipher.prepare(events.flatMap(personalDataIn)),
    ]);
    const changed = foldUsers(new Map(rows.map((r) => [r.user_id, r])), events);
    if (changed.size === 0) return;
    const list = await opened([...changed.values()], stores);
    const column = <K extends keyof UserRow>(k: K) => list.map((r) => r[k]);
    // One statement for the whole batch.
    await client.query(
      `insert into ${usersTable(g)} (user_id, email, display_name, role, status, locale, created_at, updated_at, version)
       select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::timestamptz[], $8::timestamptz[], $9::int[])
       on conflict (user_id) do update set
         email = excluded.email, display_name = excluded.display_name, role = excluded.role,
         status = excluded.status, locale = excluded.locale, updated_at = excluded.updated_at,
         version = excluded.version
       where ${usersTable(g)}.version < excluded.version`,
      [
        column('user_id'),
        column('email'),
        column('display_name'),
        column('role'),
        column('status'),
        column('locale'),
        column('created_at'),
        column('updated_at'),
        column('version'),
      ],
    );
  },
};

/** Users whose account stopped being active within the window: their tokens are refused. */
export async function inactiveUsersSince(
  pool: Stores['pool'],
  g: Generation,
  windowSeconds: number,
): Promise<string[]> {
  const { rows } = await pool.query<{ user_id: string }>(
    `select user_id from ${usersTable(g)}
     where status <> 'active' and updated_at > now() - make_interval(secs => $1)`,
    [windowSeconds],
  );
  return rows.map((r) => r.user_id);
}
