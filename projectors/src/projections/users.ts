/**
 * users -> PostgreSQL `read.users_g<n>`: profile (decrypted), role, status, created/updated and
 * the aggregate version. An erased user's row keeps its id, role and status but no email or
 * name; a replay finds their data keys gone and writes the same.
 */
import type { EncryptedText } from '@parley/platform/personal-data';
import type { PoolClient } from '@parley/platform/postgres';
import { physical, usersTable } from '@parley/platform/read-model-names';
import type { UserRow } from '@parley/platform/read-models';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import type {
  Generation,
  PostgresProjection,
  ProjectedEvent,
  Stores,
} from '../runtime/projection.ts';

const identity = CONTEXTS.find((c) => c.name === 'identity');

/** Personal data as folded: decrypted (from the table) or still sealed (from an event). */
type Personal = string | null | EncryptedText;
type FoldedRow = Omit<UserRow, 'email' | 'display_name'> & {
  email: Personal;
  display_name: Personal;
};

const isSealed = (value: Personal): value is EncryptedText =>
  value !== null && typeof value === 'object';

/**
 * One event over the row. Personal data stays sealed while folding: only the values a batch ends
 * with are decrypted (a person renamed four times in a batch costs one decryption, not four).
 */
function evolve(row: FoldedRow | undefined, event: ProjectedEvent): FoldedRow | undefined {
  const { metadata } = event.value;
  const at = new Date(Number(metadata.occurredAt));
  const sealed = (value: unknown) => (value ? (value as EncryptedText) : null);
  if (event.type === 'UserRegistered') {
    return {
      user_id: metadata.aggregateId,
      email: sealed(event.value.email),
      display_name: sealed(event.value.displayName),
      role: String(event.value.role),
      status: 'active',
      locale: (event.value.locale as string | null) ?? null,
      created_at: at,
      updated_at: at,
      version: metadata.aggregateVersion,
    };
  }
  if (!row) return undefined;
  const next = { ...row, updated_at: at, version: metadata.aggregateVersion };
  switch (event.type) {
    case 'UserProfileUpdated':
      return {
        ...next,
        display_name: sealed(event.value.displayName) ?? row.display_name,
        locale: (event.value.locale as string | null) ?? row.locale,
      };
    case 'UserRoleChanged':
      return { ...next, role: String(event.value.role) };
    case 'UserDeactivated':
      return { ...next, status: 'deactivated' };
    case 'UserErased':
      return { ...next, status: 'erased', email: null, display_name: null, locale: null };
    default:
      return next;
  }
}

/** The row to write: sealed values decrypted (null once their person was erased). */
async function opened(row: FoldedRow, stores: Stores): Promise<UserRow> {
  const open = async (value: Personal) =>
    isSealed(value) ? ((await stores.cipher.decrypt(value)) ?? null) : value;
  return { ...row, email: await open(row.email), display_name: await open(row.display_name) };
}

export const usersProjection: PostgresProjection = {
  name: 'users',
  store: 'postgres',
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
    const { rows } = await client.query<UserRow>(
      `select * from ${usersTable(g)} where user_id = any($1::uuid[])`,
      [ids],
    );
    const current = new Map<string, FoldedRow>(rows.map((r) => [r.user_id, r]));
    const changed = new Map<string, FoldedRow>();
    for (const event of events) {
      const id = event.value.metadata.aggregateId;
      const row = current.get(id);
      // Version guard: an event the row already reflects changes nothing.
      if (row && event.value.metadata.aggregateVersion <= row.version) continue;
      const next = evolve(row, event);
      if (!next) continue;
      current.set(id, next);
      changed.set(id, next);
    }
    if (changed.size === 0) return;
    // Every data key the batch's final values need in one query, not one per person.
    await stores.cipher.prepare([...changed.values()].flatMap((r) => [r.email, r.display_name]));
    const list = await Promise.all([...changed.values()].map((r) => opened(r, stores)));
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
