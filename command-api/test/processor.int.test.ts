// The command processor against the real Kafka, registry and Redis, on topics of its own:
// contiguous versions under concurrency, one event per command id (also after a restart, which
// restores the aggregates from the state topic), outcomes published to Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Admin, createProducer, type Kafka } from '@parley/platform/kafka';
import { createRedis } from '@parley/platform/redis';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import {
  quietLogger,
  redisReady,
  stackConfig,
  testKafka,
  uniqueName,
} from '@parley/platform/testing/fixtures';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import type { CommandMetadata } from '@parley/schemas/generated/records';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { topicNames } from '@parley/schemas/topics/catalogue';
import { commandRecord } from '../src/commands/command-record.ts';
import type { Outcome } from '../src/outcomes/outcome.ts';
import { OUTCOME_CHANNEL } from '../src/outcomes/outcome-store.ts';
import { processorContexts } from '../src/processor/contexts.ts';
import { type CommandProcessor, startCommandProcessor } from '../src/processor/processor.ts';

const config = stackConfig();
const options = schemaRegistryOptions(config);
const schemas = loadSchemaSet();
const serde = new AvroSerde(createSchemaRegistry(options), schemas);
const prefix = uniqueName('proc').replace(/-/g, '');
const names = {
  commands: (c: { name: string }) => `${prefix}.${c.name}.commands`,
  events: (c: { name: string; aggregate: string }) => `${prefix}.${c.name}.${c.aggregate}-events`,
  aggregateState: (c: { name: string }) => `${prefix}.${c.name}.aggregate-state`,
  deadLetters: topicNames.deadLetters,
};
const contexts = processorContexts(schemas, names);
const chat = contexts.find((c) => c.context.name === 'chat');
const groupId = `${prefix}.processor`;
const owner = randomUUID();

let kafka: Kafka;
let admin: Admin;
const subscriber = createRedis({ url: config.REDIS_URL, connectionName: 'test-outcomes' });
const publisher = createRedis({ url: config.REDIS_URL, connectionName: 'test-processor' });
const outcomes = new Map<string, Outcome>();
const waiters = new Map<string, (o: Outcome) => void>();
let processor: CommandProcessor | undefined;

function start() {
  return startCommandProcessor({
    kafka,
    admin,
    serde,
    redis: publisher,
    log: quietLogger(),
    contexts,
    groupId,
  });
}

before(async () => {
  assert.ok(chat);
  kafka = testKafka();
  admin = kafka.admin();
  await admin.connect();
  await registerSchemas(createSchemaRegistry(options), options, schemas);
  await admin.createTopics({
    waitForLeaders: true,
    topics: contexts.flatMap((c) => [
      { topic: c.commandTopic, numPartitions: 3 },
      { topic: c.eventsTopic, numPartitions: 3 },
      {
        topic: c.stateTopic,
        numPartitions: 3,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ]),
  });
  await Promise.all([redisReady(subscriber), redisReady(publisher)]);
  await subscriber.subscribe(OUTCOME_CHANNEL);
  subscriber.on('message', (_channel, json: string) => {
    const outcome = JSON.parse(json) as Outcome;
    outcomes.set(outcome.commandId, outcome);
    waiters.get(outcome.commandId)?.(outcome);
  });
  processor = await start();
});

after(async () => {
  await processor?.stop();
  await admin
    .deleteTopics({
      topics: contexts.flatMap((c) => [c.commandTopic, c.eventsTopic, c.stateTopic]),
    })
    .catch(() => {});
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin.disconnect();
  subscriber.disconnect();
  publisher.disconnect();
});

function meta(aggregateId: string, overrides: Partial<CommandMetadata> = {}): CommandMetadata {
  return {
    commandId: randomUUID(),
    aggregateId,
    issuedAt: Date.now(),
    correlationId: randomUUID(),
    actor: `user:${owner}`,
    actorRoles: ['user'],
    expectedVersion: null,
    idempotencyKey: null,
    tenantId: null,
    ...overrides,
  };
}

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
  const producer = createProducer(kafka, { idempotent: true });
  await producer.connect();
  await Promise.all(
    records.map((r) => producer.send({ topic: chat?.commandTopic ?? '', acks: -1, messages: [r] })),
  );
  await producer.disconnect();
}

async function committedEvents(
  aggregateId: string,
): Promise<Array<{ id: string; version: number; type: string }>> {
  const consumer = kafka.consumer({ groupId: uniqueName('read-events'), readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: chat?.eventsTopic ?? '', fromBeginning: true });
  const offsets = await admin.fetchTopicOffsets(chat?.eventsTopic ?? '');
  const events: Array<{ id: string; version: number; type: string }> = [];
  const done = new Set<number>();
  await new Promise<void>((resolve) => {
    const check = () => {
      if (offsets.every((o) => done.has(o.partition))) resolve();
    };
    for (const o of offsets) if (o.high === '0') done.add(o.partition);
    check();
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (message.key?.toString() === aggregateId) {
            const decoded = await serde.decode(message.value as Buffer);
            const m = (decoded.value as { metadata: { eventId: string; aggregateVersion: number } })
              .metadata;
            events.push({ id: m.eventId, version: m.aggregateVersion, type: decoded.type });
          }
        }
        const high = Number(offsets.find((o) => o.partition === batch.partition)?.high ?? 0);
        if (Number(batch.lastOffset()) >= high - 2) done.add(batch.partition);
        check();
      },
    });
  });
  await consumer.disconnect();
  return events;
}

describe('command processor', () => {
  it('gives 50 parallel commands on one aggregate contiguous versions, and repeats write nothing', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    await send([
      await commandRecord(serde, 'StartConversation', { metadata: started, title: 'Concurrency' }),
    ]);
    assert.equal((await outcomeOf(started.commandId)).status, 'accepted');

    const posts = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const m = meta(conversation);
        return {
          m,
          record: await commandRecord(serde, 'PostUserMessage', {
            metadata: m,
            messageId: randomUUID(),
            text: `message ${i}`,
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
        (o) => o.status === 'accepted' && o.position?.startsWith(`${chat?.eventsTopic}:`),
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
      await commandRecord(serde, 'StartConversation', { metadata: started, title: 'Rules' }),
    ]);
    await outcomeOf(started.commandId);
    await send([
      await commandRecord(serde, 'RenameConversation', { metadata: empty, title: '   ' }),
    ]);
    const rejected = await outcomeOf(empty.commandId);
    assert.equal(
      rejected.status === 'rejected' && `${rejected.httpStatus} ${rejected.code}`,
      '422 RULE_VIOLATION',
    );

    const a = meta(conversation, { expectedVersion: 1 });
    const b = meta(conversation, { expectedVersion: 1 });
    await send([
      await commandRecord(serde, 'RenameConversation', { metadata: a, title: 'A' }),
      await commandRecord(serde, 'RenameConversation', { metadata: b, title: 'B' }),
    ]);
    const both = await Promise.all([outcomeOf(a.commandId), outcomeOf(b.commandId)]);
    assert.deepEqual(both.map((o) => o.status).sort(), ['accepted', 'rejected']);
    const loser = both.find((o) => o.status === 'rejected');
    assert.equal(loser?.status === 'rejected' && loser.httpStatus, 409);
  });

  it('after a restart, restores aggregates and answers a repeated command with its first outcome', async () => {
    const conversation = randomUUID();
    const started = meta(conversation);
    const record = await commandRecord(serde, 'StartConversation', {
      metadata: started,
      title: 'Restart',
    });
    await send([record]);
    const first = await outcomeOf(started.commandId);

    await processor?.stop();
    outcomes.delete(started.commandId);
    processor = await start();

    await send([record]);
    assert.deepEqual(await outcomeOf(started.commandId), first);
    const next = meta(conversation);
    await send([
      await commandRecord(serde, 'RenameConversation', { metadata: next, title: 'Still here' }),
    ]);
    const renamed = await outcomeOf(next.commandId);
    assert.equal(
      renamed.status === 'accepted' && renamed.version,
      2,
      'state restored: version continues',
    );
    assert.equal((await committedEvents(conversation)).length, 2);
  });
});
