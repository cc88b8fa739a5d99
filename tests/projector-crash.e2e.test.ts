// kill -9 the projector three times while it works through a stream of 20,000 events of every
// kind (registrations, profile changes, erasures, conversations, messages, replies, deletions),
// restarting it each time. Afterwards every read model equals a rebuild from offset zero,
// compared by a checksum of every row, document and key: PostgreSQL, MongoDB (SecantusDB locally)
// and Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { createProducer, type Message, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { migrate } from '@parley/platform/migrate';
import { namespaceOf, pointerKey } from '@parley/platform/read-model-names';
import { quietLogger } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv } from '@parley/platform/testing/tokens';
import type { RecordName } from '@parley/schemas/generated/records';
import { IDENTITY_MIGRATIONS, IDENTITY_SCHEMA } from '../command-api/src/identity/store-schema.ts';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { storeSettings as settings } from '../projectors/src/config.ts';
import { connectStores, projectorContext } from '../projectors/src/dependencies.ts';
import { PROJECTIONS } from '../projectors/src/read-models/index.ts';
import { rebuild } from '../projectors/src/rebuild.ts';
import { currentGeneration } from '../projectors/src/runtime/generations.ts';
import { projectionMetrics } from '../projectors/src/runtime/metrics.ts';
import { groupIdOf } from '../projectors/src/runtime/runner.ts';

const EVENTS = Number(process.env.PARLEY_PROJECTOR_CRASH_EVENTS ?? 20_000);
const KILLS = 3;
const keyEnv = serviceKeyEnv(createSigningKey());
const masterKey = keyEnv.PII_MASTER_KEY ?? '';
let fixture: Awaited<ReturnType<typeof processorFixture>>;
let read: ReturnType<typeof connectStores>;
let producer: Producer;
let projector: ServiceProcess | undefined;
let namespace = '';
const entry = new URL('../projectors/src/server.ts', import.meta.url).pathname;

before(async () => {
  fixture = await processorFixture(3);
  await fixture.createDeadLetterTopics();
  namespace = namespaceOf(fixture.topicPrefix);
  read = connectStores(
    loadConfig(settings, { source: { ...process.env, PII_MASTER_KEY: masterKey } }),
    quietLogger(),
    'projector-crash-test',
  );
  await migrate(read.stores.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
  producer = createProducer(read.kafka.kafka, { idempotent: true });
  await producer.connect();
});

after(async () => {
  await projector?.kill9();
  await producer.disconnect();
  for (const r of read.resources) await r.close().catch(() => {});
  await fixture.cleanup();
});

/** A realistic stream: each aggregate's events in order, with versions 1, 2, 3... */
async function stream(): Promise<Array<{ topic: string; message: Message }>> {
  const out: Array<{ topic: string; message: Message }> = [];
  const versions = new Map<string, number>();
  const event = async (
    topic: string,
    type: RecordName,
    aggregateId: string,
    fields: Record<string, unknown>,
  ) => {
    const version = (versions.get(aggregateId) ?? 0) + 1;
    versions.set(aggregateId, version);
    const metadata = {
      eventId: randomUUID(),
      aggregateId,
      aggregateVersion: version,
      occurredAt: Date.UTC(2026, 10, 1) + out.length * 1000,
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: 'system:test',
      tenantId: null,
    };
    const { payload } = await fixture.serde.encode(type, { metadata, ...fields } as never);
    out.push({ topic, message: { key: aggregateId, value: payload } });
  };
  const users = fixture.identity?.eventsTopic ?? '';
  const chat = fixture.chat?.eventsTopic ?? '';
  const people = Array.from({ length: 200 }, () => randomUUID());
  for (const [i, id] of people.entries()) {
    await event(users, 'UserRegistered', id, {
      email: await read.stores.cipher.encrypt(id, `person${i}@example.com`),
      displayName: await read.stores.cipher.encrypt(id, `Person ${i}`),
      role: 'user',
      locale: null,
    });
  }
  const conversations = Array.from({ length: 400 }, (_, i) => ({
    id: randomUUID(),
    owner: people[i % people.length] as string,
  }));
  for (const c of conversations) {
    await event(chat, 'ConversationStarted', c.id, {
      ownerId: c.owner,
      title: `Topic ${c.id.slice(0, 4)}`,
    });
  }
  let n = 0;
  while (out.length < EVENTS - 60) {
    const c = conversations[n++ % conversations.length] as { id: string; owner: string };
    const messageId = randomUUID();
    await event(chat, 'UserMessagePosted', c.id, {
      messageId,
      authorId: c.owner,
      text: `question ${n}`,
    });
    if (n % 2 === 0) {
      await event(chat, 'AssistantReplyRecorded', c.id, {
        messageId: randomUUID(),
        replyTo: messageId,
        text: `answer ${n}`,
        model: 'test:model',
        promptTokens: 10 + (n % 7),
        completionTokens: 20 + (n % 11),
        latencyMs: 100,
      });
    }
  }
  for (const [i, id] of people.slice(0, 20).entries()) {
    await event(users, 'UserProfileUpdated', id, {
      displayName: await read.stores.cipher.encrypt(id, `Renamed ${i}`),
      locale: 'en-GB',
    });
  }
  for (const c of conversations.slice(0, 20)) await event(chat, 'ConversationDeleted', c.id, {});
  for (const id of people.slice(20, 40)) await event(users, 'UserErased', id, {});
  return out;
}

async function caughtUp(): Promise<boolean> {
  for (const projection of PROJECTIONS) {
    const number =
      (await currentGeneration(read.stores.pool, pointerKey(namespace, projection.name))) ?? 1;
    const groupId = groupIdOf(projection, { projection: projection.name, number, namespace });
    const topics = projection.topics(fixture.names);
    const committed = await fixture.admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const heads = await fixture.admin.fetchTopicOffsets(topic);
      const at = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const { partition, high } of heads) {
        const offset = Number(at.find((p) => p.partition === partition)?.offset ?? -1);
        if (Number(high) > 0 && offset < Number(high)) return false;
      }
    }
  }
  return true;
}

async function startProjector() {
  projector = await startService(
    entry,
    {
      TOPIC_PREFIX: fixture.topicPrefix,
      PII_MASTER_KEY: masterKey,
      JWT_PUBLIC_KEYS: keyEnv.JWT_PUBLIC_KEYS ?? '',
      LOG_LEVEL: 'warn',
      PROJECTOR_GENERATION_POLL_MS: '500',
      PROJECTIONS: PROJECTIONS.map((p) => p.name).join(','),
    },
    'projector-crash-test',
  );
}

it(`rebuilds to the same read models (PostgreSQL, MongoDB, Redis) after ${KILLS} kill -9 in ${EVENTS} events`, {
  timeout: 600_000,
}, async () => {
  const events = await stream();
  await startProjector();
  const sending = (async () => {
    for (let i = 0; i < events.length; i += 500) {
      const slice = events.slice(i, i + 500);
      const byTopic = new Map<string, Message[]>();
      for (const { topic, message } of slice)
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    }
  })();
  for (let k = 1; k <= KILLS; k++) {
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
    await projector?.kill9();
    process.stderr.write(`projector crash test: kill -9 #${k}\n`);
    await startProjector();
  }
  await sending;
  const deadline = Date.now() + 300_000;
  while (!(await caughtUp())) {
    assert.ok(Date.now() < deadline, 'the projector caught up');
    await new Promise((r) => setTimeout(r, 1000));
  }
  projector?.signal('SIGTERM');
  assert.equal(await projector?.exited, 0);

  const metrics = projectionMetrics(createMetricsRegistry('projector-crash-test'));
  const context = () =>
    projectorContext(read, { producer, names: fixture.names, log: quietLogger(), metrics });
  for (const projection of PROJECTIONS) {
    const key = pointerKey(namespace, projection.name);
    const live = {
      projection: key,
      number: (await currentGeneration(read.stores.pool, key)) ?? 1,
      namespace,
    };
    const crashed = await projection.checksum(read.stores, live);
    const rebuilt = await rebuild({
      ...context(),
      projection,
      namespace,
      switchGraceMs: 0,
      report: () => {},
    });
    assert.equal(
      rebuilt.checksum,
      crashed,
      `${projection.name}: after the crashes = rebuilt from zero`,
    );
    await projection.drop(read.stores, { projection: key, number: rebuilt.generation, namespace });
  }
});
