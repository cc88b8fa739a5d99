import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { usersTable } from '@parley/platform/read-model-names';
import type { UserRow } from '@parley/platform/read-models';
import { history } from '../spec.ts';
import { writerFixture } from '../writer-fixture.ts';
import { usersProjection } from './projection.ts';

let fixture: Awaited<ReturnType<typeof writerFixture>>;
before(async () => {
  fixture = await writerFixture(usersProjection);
});
after(() => fixture?.close());

const rowOf = async (userId: string) => {
  const { rows } = await fixture.stores.pool.query<UserRow>(
    `select * from ${usersTable(fixture.generation)} where user_id = $1`,
    [userId],
  );
  return rows[0];
};

describe('users read model in PostgreSQL', () => {
  it('writes rows decrypted, one statement per batch, and a replayed batch changes nothing', async () => {
    const { cipher } = fixture.stores;
    const ann = randomUUID();
    const user = history(ann);
    const batch = [
      user('UserRegistered', {
        email: await cipher.encrypt(ann, 'ann@example.com'),
        displayName: await cipher.encrypt(ann, 'Ann'),
        role: 'user',
        locale: 'en-GB',
      }),
      user('UserProfileUpdated', {
        displayName: await cipher.encrypt(ann, 'Ann B.'),
        locale: null,
      }),
    ];
    await fixture.apply(batch);
    const row = await rowOf(ann);
    assert.equal(row?.email, 'ann@example.com');
    assert.equal(row?.display_name, 'Ann B.');
    assert.equal(row?.locale, 'en-GB');
    assert.equal(row?.version, 2);

    const before = await fixture.checksum();
    await fixture.apply(batch);
    assert.equal(await fixture.checksum(), before);
  });

  it('writes no email or name once the person is erased, also when a replay meets sealed values', async () => {
    const { cipher } = fixture.stores;
    const bea = randomUUID();
    const user = history(bea);
    const registered = user('UserRegistered', {
      email: await cipher.encrypt(bea, 'bea@example.com'),
      displayName: await cipher.encrypt(bea, 'Bea'),
      role: 'user',
      locale: null,
    });
    await fixture.apply([registered]);
    await cipher.erase(bea);
    await fixture.apply([user('UserErased', {})]);
    const erased = await rowOf(bea);
    assert.deepEqual([erased?.email, erased?.display_name, erased?.status], [null, null, 'erased']);

    // A rebuild from zero after the erasure: the key is gone, so the sealed values stay unread.
    await fixture.stores.pool.query(
      `delete from ${usersTable(fixture.generation)} where user_id = $1`,
      [bea],
    );
    await fixture.apply([registered]);
    const rebuilt = await rowOf(bea);
    assert.deepEqual([rebuilt?.email, rebuilt?.display_name], [null, null]);
  });
});
