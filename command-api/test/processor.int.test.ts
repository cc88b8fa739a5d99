// The command processor against the real Kafka, registry and Redis, on topics of its own:
// contiguous versions under concurrency, one event per command id (also after a restart, which
// restores the aggregates from the state topic), outcomes published to Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createProducer } from '@parley/platform/kafka';
import { createRedis } from '@parley/platform/redis';
import { redisReady, stackConfig } from '@parley/platform/testing/fixtures';
import type { CommandMetadata } from '@parley/schemas/generated/records';
import { commandRecord } from '@parley/schemas/serde/command-record';
import type { Outcome } from '../src/outcomes/outcome.ts';
import { OUTCOME_CHANNEL, outcomeKey } from '../src/outcomes/outcome-store.ts';
import { REMEMBERED_COMMANDS } from '../src/processor/decide-batch.ts';
import { commandMetadata, processorFixture } from './processor-fixture.ts';

let fixture: Awaited<ReturnType<typeof processorFixture>>;
const owner = randomUUID();
const subscriber = createRedis({ url: stackConfig().REDIS_URL, connectionName: 'test-outcomes' });
const redis = createRedis({ url: stackConfig().REDIS_URL, connectionName: 'test-outcome-reader' });
const outcomes = new Map<string, Outcome>();
const waiters = new Map<string, (o: Outcome) => void>();

before(async () => {
  fixture = await processorFixture();
  await redisReady(subscriber);
  await subscriber.subscribe(OUTCOME_CHANNEL);
  subscriber.on('message', (_channel, json: string) => {
    const outcome = JSON.parse(json) as Outcome;
    outcomes.set(outcome.commandId, outcome);
    waiters.get(outcome.commandId)?.(outcome);
  });
  await fixture.start();
});

after(async () => {
  await fixture.cleanup();
  subscriber.disconnect();
  redis.disconnect();
});

const meta = (aggregateId: string, overrides: Partial<CommandMetadata> = {}) =>
  commandMetadata(aggregateId, owner, overrides);

function outcomeOf(commandId: string, ms = 30_000): Promise<Outcome> {
  const known = outcomes.get(commandId);
  if (known) return Promise.resolve(known);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no outcome for ${commandId} within ${ms} ms`)),
      ms,
    );
    waiters.set(commandId, (o) => {
      clearTimeout(timer);
      resolve(o);
    });
  });
}

async function send(records: Awaited<ReturnType<typeof commandRecord>>[]) {
  const producer = createProducer(fixture.kafka, { idempotent: true });
  await producer.connect();
  await Promise.all(
    records.map((r) =>
      producer.send({ topic: fixture.chat?.commandTopic ?? '', acks: -1, messages: [r] }),
    ),
  );
  await producer.disconnect();
}

const committedEvents = (aggregateId: string) =>
  fixture.events(fixture.chat?.eventsTopic ?? '', aggregateId);
const serde = () => fixture.serde;

describe('command processor', () => {
  it('gives 50 parallel commands on one aggregate contiguous versions, and repeats write nothing', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    await send([
      await commandRecord(serde(), 'StartConversation', {
        metadata: started,
        title: 'Concurrency',
        encryptedTitle: null,
      }),
    ]);
    assert.equal((await outcomeOf(started.commandId)).status, 'accepted');

    const posts = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const m = meta(conversation);
        return {
          m,
          record: await commandRecord(serde(), 'PostUserMessage', {
            metadata: m,
            messageId: randomUUID(),
            text: `message ${i}`,
            encryptedText: null,
          }),
        };
      }),
    );
    // Every fifth command is sent twice, like a client retrying after a timeout.
    await send([
      ...posts.map((p) => p.record),
      ...posts.filter((_, i) => i % 5 === 0).map((p) => p.record),
    ]);
    const results = await Promise.all(posts.map((p) => outcomeOf(p.m.commandId)));
    const versions = results
      .map((o) => (o.status === 'accepted' ? o.version : -1))
      .sort((a, b) => a - b);
    assert.deepEqual(
      versions,
      Array.from({ length: 50 }, (_, i) => i + 2),
    );
    assert.ok(
      results.every(
        (o) => o.status === 'accepted' && o.position?.startsWith(`${fixture.chat?.eventsTopic}:`),
      ),
    );

    const events = await committedEvents(conversation);
    assert.deepEqual(
      events.map((e) => e.version),
      Array.from({ length: 51 }, (_, i) => i + 1),
      'contiguous, no duplicates',
    );
    assert.equal(new Set(events.map((e) => e.id)).size, 51);
  });

  it('rejects rule-breaking commands with their problem, and conflicting If-Match writers: exactly one wins', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    const empty = meta(conversation);
    await send([
      await commandRecord(serde(), 'StartConversation', {
        metadata: started,
        title: 'Rules',
        encryptedTitle: null,
      }),
    ]);
    await outcomeOf(started.commandId);
    await send([
      await commandRecord(serde(), 'RenameConversation', {
        metadata: empty,
        title: '   ',
        encryptedTitle: null,
      }),
    ]);
    const rejected = await outcomeOf(empty.commandId);
    assert.equal(
      rejected.status === 'rejected' && `${rejected.httpStatus} ${rejected.code}`,
      '422 RULE_VIOLATION',
    );

    const a = meta(conversation, { expectedVersion: 1 });
    const b = meta(conversation, { expectedVersion: 1 });
    await send([
      await commandRecord(serde(), 'RenameConversation', {
        metadata: a,
        title: 'A',
        encryptedTitle: null,
      }),
      await commandRecord(serde(), 'RenameConversation', {
        metadata: b,
        title: 'B',
        encryptedTitle: null,
      }),
    ]);
    const both = await Promise.all([outcomeOf(a.commandId), outcomeOf(b.commandId)]);
    assert.deepEqual(both.map((o) => o.status).sort(), ['accepted', 'rejected']);
    const loser = both.find((o) => o.status === 'rejected');
    assert.equal(loser?.status === 'rejected' && loser.httpStatus, 409);
  });

  it('after a restart, restores aggregates and answers a repeated command with its first outcome', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    const record = await commandRecord(serde(), 'StartConversation', {
      metadata: started,
      title: 'Restart',
      encryptedTitle: null,
    });
    await send([record]);
    const first = await outcomeOf(started.commandId);

    await fixture.stop();
    outcomes.delete(started.commandId);
    await fixture.start();

    await send([record]);
    assert.deepEqual(await outcomeOf(started.commandId), first);
    const next = meta(conversation);
    await send([
      await commandRecord(serde(), 'RenameConversation', {
        metadata: next,
        title: 'Still here',
        encryptedTitle: null,
      }),
    ]);
    const renamed = await outcomeOf(next.commandId);
    assert.equal(
      renamed.status === 'accepted' && renamed.version,
      2,
      'state restored: version continues',
    );
    assert.equal((await committedEvents(conversation)).length, 2);
  });

  it('republishes on restore the outcomes a crash kept from Redis, and answers a retry from far back once', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    const startRecord = await commandRecord(serde(), 'StartConversation', {
      metadata: started,
      title: 'Lost outcome',
      encryptedTitle: null,
    });
    await send([startRecord]);
    const first = await outcomeOf(started.commandId);

    // As if the processor had died between its commit and the publish: the outcome never reached
    // Redis. The next owner of the partition republishes it when it takes the partition up (on
    // the partition's next command).
    await fixture.stop();
    await redis.del(outcomeKey(started.commandId));
    outcomes.delete(started.commandId);
    await fixture.start();
    const renamed = meta(conversation);
    await send([
      await commandRecord(serde(), 'RenameConversation', {
        metadata: renamed,
        title: 'Next',
        encryptedTitle: null,
      }),
    ]);
    await outcomeOf(renamed.commandId);
    assert.deepEqual(await outcomeOf(started.commandId), first, 'republished on restore');
    assert.deepEqual(JSON.parse((await redis.get(outcomeKey(started.commandId))) ?? 'null'), first);

    // More newer commands than the aggregate remembers, then the client's retry of the first one.
    const posts = Array.from({ length: REMEMBERED_COMMANDS + 6 }, () => meta(conversation));
    for (const m of posts) {
      await send([
        await commandRecord(serde(), 'PostUserMessage', {
          metadata: m,
          messageId: randomUUID(),
          text: 'newer',
          encryptedText: null,
        }),
      ]);
    }
    await outcomeOf(posts.at(-1)?.commandId ?? '');
    outcomes.delete(started.commandId);
    await send([startRecord]);
    assert.deepEqual(await outcomeOf(started.commandId), first, 'the retry gets its first outcome');
    assert.equal((await committedEvents(conversation)).length, 2 + posts.length, 'nothing doubled');
  });
});
