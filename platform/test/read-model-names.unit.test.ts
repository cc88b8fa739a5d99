import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  mongoCollections,
  namespaceOf,
  physical,
  pointerKey,
  queryCacheKey,
  usageOwnersTable,
  usageTable,
  usersTable,
  viewKeys,
} from '../src/read-model-names.ts';

describe('read model names', () => {
  it('given a topic prefix, then the namespace is safe in tables, collections and keys', () => {
    assert.equal(namespaceOf('T.abc-1.'), 't_abc_1_');
    assert.equal(namespaceOf(''), '');
  });

  it('given a generation, then each store names its data apart per namespace and number', () => {
    const place = { namespace: 't_mwx1_', number: 3 };
    assert.equal(physical(place, 'users'), 't_mwx1_users_g3');
    assert.equal(usersTable(place), 'read.t_mwx1_users_g3');
    assert.equal(usageTable({ namespace: '', number: 1 }), 'read.usage_daily_g1');
    assert.equal(usageOwnersTable({ namespace: '', number: 2 }), 'read.usage_owners_g2');
    assert.deepEqual(mongoCollections(place), {
      conversations: 't_mwx1_conversations_g3',
      messages: 't_mwx1_messages_g3',
    });
    const keys = viewKeys(place);
    assert.equal(keys.prefix, 'parley:t_mwx1_views_g3:');
    assert.equal(keys.me('u1'), 'parley:t_mwx1_views_g3:me:u1');
    assert.equal(keys.list('u1'), 'parley:t_mwx1_views_g3:conversations:u1');
    assert.equal(keys.conversation('c1'), 'parley:t_mwx1_views_g3:conversation:c1');
  });

  it('given a projection, then its pointer and cached queries are keyed by namespace', () => {
    assert.equal(pointerKey('t_', 'usage-daily'), 't_usage-daily');
    assert.equal(pointerKey('', 'views'), 'views');
    assert.equal(
      queryCacheKey('t_', 'usage-daily', 4, 'all', '2026-01-01', '2026-01-31'),
      'parley:t_query:usage-daily_g4:all:2026-01-01:2026-01-31',
    );
  });
});
