import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { PROJECTIONS as READ_MODELS } from '@parley/platform/read-model-names';
import { DEAD_LETTER_GROUPS } from '@parley/schemas/topics/catalogue';
import { PROJECTIONS } from '../src/read-models/index.ts';
import { isTransient } from '../src/runtime/dead-letters.ts';
import { groupOf, NotAnEventError, projectedEvent } from '../src/runtime/projection.ts';

it('gives every projection a dead-letter topic in the catalogue', () => {
  assert.deepEqual(PROJECTIONS.map(groupOf).sort(), [...DEAD_LETTER_GROUPS].sort());
});

it('retries store outages and dead-letters the record’s own faults', () => {
  assert.equal(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
  assert.equal(isTransient(Object.assign(new Error('x'), { code: '40001' })), true);
  assert.equal(isTransient(Object.assign(new Error('x'), { name: 'MongoNetworkError' })), true);
  assert.equal(isTransient(Object.assign(new Error('bad'), { code: '23502' })), false);
  assert.equal(isTransient(new TypeError('cannot read properties of undefined')), false);
});

it('refuses unknown commands and projections on the CLI with a usage line (exit 64)', () => {
  const cli = new URL('../src/cli.ts', import.meta.url).pathname;
  for (const args of [['rebuild', 'nope'], ['dlq', 'show', 'users', 'x'], ['explode']]) {
    const run = spawnSync(
      process.execPath,
      ['--conditions=parley-source', '--import', 'tsx', cli, ...args],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 64, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /usage: npm run projector/);
  }
});

it('has a projection for every read model the query API reads', () => {
  const built = new Set(PROJECTIONS.map((p) => p.name));
  for (const name of READ_MODELS) assert.ok(built.has(name), `${name} is a projection`);
});

it('takes events as they are typed, and refuses another record on an event topic as poison', () => {
  const source = { topic: 'chat.conversation-events', partition: 0, offset: '7' };
  const metadata = {
    eventId: 'e',
    aggregateId: 'c',
    aggregateVersion: 1,
    occurredAt: 0,
    correlationId: 'x',
    causationId: 'y',
    actor: 'system:test',
    tenantId: null,
  };
  const event = projectedEvent({ type: 'ConversationArchived', value: { metadata } }, source);
  assert.deepEqual(
    [event.type, event.offset, event.value.metadata.aggregateId],
    ['ConversationArchived', '7', 'c'],
  );
  const command = {
    type: 'ArchiveConversation' as const,
    value: {
      metadata: {
        commandId: 'c',
        aggregateId: 'c',
        issuedAt: 0,
        correlationId: 'x',
        actor: 'user:u',
        actorRoles: ['user'],
        expectedVersion: null,
        idempotencyKey: null,
        tenantId: null,
      },
    },
  };
  assert.throws(
    () => projectedEvent(command, source),
    (error: unknown) => {
      assert.ok(error instanceof NotAnEventError);
      assert.equal(isTransient(error), false, 'a poison record, dead-lettered, never retried');
      return true;
    },
  );
});
