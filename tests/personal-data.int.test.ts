// The data keys a projector caches (platform/src/personal-data.ts), against the identity store in
// the local PostgreSQL: each key is held in memory of its own, and erasure is seen at once.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { migrate } from '@parley/platform/migrate';
import { DataKeyStore, PersonalDataCipher } from '@parley/platform/personal-data';
import { connectPostgres } from '@parley/platform/postgres';
import { stackConfig } from '@parley/platform/testing/fixtures';
import { IDENTITY_MIGRATIONS, IDENTITY_SCHEMA } from '../command-api/src/identity/store-schema.ts';

const postgres = connectPostgres(stackConfig(), 'personal-data-test');
before(() => migrate(postgres.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS));
after(() => postgres.resource.close());

it('caches each data key in memory of its own (not a slice of a shared pool), and forgets an erased person', async () => {
  const masterKey = randomBytes(32);
  const writer = new PersonalDataCipher(new DataKeyStore(postgres.pool, masterKey));
  const people = Array.from({ length: 20 }, () => randomUUID());
  const sealed = await Promise.all(people.map((p) => writer.encrypt(p, `text of ${p}`)));

  // A reader in another process: keys loaded in one query, then used from memory.
  const keys = new DataKeyStore(postgres.pool, masterKey);
  await keys.preload(sealed.map((s) => s.keyId));
  for (const value of sealed) {
    const key = await keys.keyById(value.keyId);
    assert.equal(key?.length, 32);
    assert.equal(key?.buffer.byteLength, 32, 'the key owns its memory');
  }
  const reader = new PersonalDataCipher(keys);
  assert.equal(await reader.decrypt(sealed[0] as never), `text of ${people[0]}`);

  await writer.erase(people[1] ?? '');
  const fresh = new PersonalDataCipher(new DataKeyStore(postgres.pool, masterKey));
  assert.equal(await fresh.decrypt(sealed[1] as never), undefined);
});
