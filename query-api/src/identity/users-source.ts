/** Users in PostgreSQL (`read.users_g<n>`, the users projection): one by id, or a filtered page. */

import { usersTable } from '@parley/platform/read-model-names';
import type { MeView, UserRow } from '@parley/platform/read-models';
import type { ReadModels } from '../dependencies.ts';
import type { DatabaseRead } from '../read-models/cache-aside.ts';
import { meViewOf } from '../read-models/shapes.ts';

export function userById(
  reads: ReadModels,
  generation: number,
  userId: string,
): DatabaseRead<MeView> {
  return {
    store: 'postgres',
    load: async () => {
      const { rows } = await reads.guards.postgres(() =>
        reads.pool.query<UserRow>(
          `select * from ${usersTable({ namespace: reads.namespace, number: generation })} where user_id = $1`,
          [userId],
        ),
      );
      const row = rows[0];
      return { view: row ? meViewOf(row) : undefined, fillable: true };
    },
  };
}

export interface UserSearch {
  email?: string;
  status?: string;
  limit: number;
  /** Keyset: after this (created_at, user_id). */
  after?: { createdAt: string; userId: string };
}

/** A page of users in order of registration; `limit + 1` rows tell whether there is more. */
export async function searchUsers(
  reads: ReadModels,
  generation: number,
  search: UserSearch,
): Promise<UserRow[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (clause: (n: number) => string, value: unknown) => {
    values.push(value);
    where.push(clause(values.length));
  };
  if (search.email !== undefined) add((n) => `email = $${n}`, search.email);
  if (search.status !== undefined) add((n) => `status = $${n}`, search.status);
  if (search.after) {
    values.push(search.after.createdAt, search.after.userId);
    where.push(
      `(created_at, user_id) > ($${values.length - 1}::timestamptz, $${values.length}::uuid)`,
    );
  }
  values.push(search.limit + 1);
  const { rows } = await reads.guards.postgres(() =>
    reads.pool.query<UserRow>(
      `select * from ${usersTable({ namespace: reads.namespace, number: generation })}
       ${where.length ? `where ${where.join(' and ')}` : ''}
       order by created_at, user_id limit $${values.length}`,
      values,
    ),
  );
  return rows;
}
