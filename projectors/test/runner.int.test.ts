// The projection runner against the real Kafka: a batch is handed to its store and the consumer
// fetches on, but the group's offset moves only once the batch is applied; a batch that cannot be
// applied stops the run (its `failed` says why) with nothing past it committed, and the supervisor
// starts it again from there, so every event is applied once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { type Admin, createProducer, createTopics, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { createSchemaRegistry, schemaRegistryOptions } from '@parley/platform/schema-registry';
import { superviseConsumer } from '@parley/platform/supervised-consumer';
import {
  quietLogger,
  stackConfig,
  testKafka,
  uniqueName,
  until,
} from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv } from '@parley/platform/testing/tokens';
import { registerSchemas } from '@parley/schemas/avro/register';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import { storeSettings } from '../src/config.ts';
import { connectStores } from '../src/dependencies.ts';
import { projectionMetrics } from '../src/runtime/metrics.ts';
import type { GuardedProjection, ProjectedEvent } from '../src/runtime/projection.ts';
import { runProjection } from '../src/runtime/runner.ts';

const kafka = testKafka();
const prefix = `${uniqueName('runner')}.`;
const topic = `${prefix}chat.conversation-events`;
const options = schemaRegistryOptions(stackConfig());
const serde = new AvroSerde(createSchemaRegistry(options), loadSchemaSet());
const metrics = projectionMetrics(createMetricsRegistry('runner-test'));
const { PII_MASTER_KEY = '' } = serviceKeyEnv(createSigningKey());
const connected = connectStores(
  loadConfig(storeSettings, { source: { ...process.env, PII_MASTER_KEY } }),
  quietLogger(),
  uniqueName('runner-stores'),
);
let admin: Admin;
let producer: Producer;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await registerSchemas(createSchemaRegistry(options), options, loadSchemaSet());
  await createTopics(admin, [{ topic, numPartitions: 1 }]);
  producer = createProducer(kafka, { idempotent: true });
  await producer.connect();
});
after(async () => {
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin?.disconnect();
  for (const resource of connected.resources) await resource.close().catch(() => {});
});

/** One conversation's archive, encoded: its key and value. */
async function archived() {
  const aggregateId = randomUUID();
  const { payload } = await serde.encode('ConversationArchived', {
    metadata: {
      eventId: randomUUID(),
      aggregateId,
      aggregateVersion: 2,
      occurredAt: Date.now(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: 'system:test',
      tenantId: null,
    },
  });
  return { key: aggregateId, value: payload };
}

/** Archives of as many conversations, one event each. */
async function send(count: number) {
  const messages = await Promise.all(Array.from({ length: count }, archived));
  await producer.send({ topic, acks: -1, messages });
}

/** What the group has committed on the topic's one partition (-1: nothing yet). */
const committed = async (groupId: string) => {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Number(offsets?.partitions[0]?.offset ?? -1);
};

/** A projection whose store is a list, and whose apply the test holds or breaks. */
function listProjection(apply: (events: readonly ProjectedEvent[]) => Promise<void>) {
  const projection: GuardedProjection = {
    name: 'runner-test',
    store: 'redis',
    topics: () => [topic],
    prepare: async () => {},
    drop: async () => {},
    checksum: async () => '',
    apply: (_stores, _generation, events) => apply(events),
  };
  return projection;
}

const run = (projection: GuardedProjection, groupId: string) =>
  runProjection({
    kafka,
    admin,
    producer,
    serde,
    stores: connected.stores,
    projection,
    generation: { projection: projection.name, number: 1, namespace: prefix },
    names: prefixedTopicNames(prefix),
    log: quietLogger(),
    metrics,
    groupId,
  });

describe('projection runner', () => {
  it('commits a batch’s offset only once its store has applied it', async () => {
    const groupId = uniqueName('runner-hold');
    const start = Number((await admin.fetchTopicOffsets(topic))[0]?.high ?? 0);
    await send(20);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: string[] = [];
    const running = await run(
      listProjection(async (events) => {
        await held;
        for (const e of events) seen.push(e.value.metadata.aggregateId);
      }),
      groupId,
    );
    try {
      await until(async () => running.applied() === 0 && (await running.lag()) > 0, 'a batch held');
      // Held by the store for a while: the group commits nothing meanwhile.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(await committed(groupId), -1);
      release();
      await until(() => running.applied() === start + 20, 'every event applied');
      await until(async () => (await committed(groupId)) === start + 20, 'the offset committed');
      assert.equal(new Set(seen).size, seen.length, 'no event applied twice');
    } finally {
      release();
      await running.stop();
    }
  });

  it('stops on a batch it cannot apply, commits nothing past it, and applies it once started again', async () => {
    const groupId = uniqueName('runner-fail');
    const high = Number((await admin.fetchTopicOffsets(topic))[0]?.high ?? 0);
    await send(5);
    const total = high + 5;
    // The store is away (a network error, retried with backoff) for the first run's every try.
    let broken = true;
    const seen = new Map<string, number>();
    const projection = listProjection(async (events) => {
      if (broken) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      for (const e of events) {
        const id = e.value.metadata.aggregateId;
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
    });
    const supervised = superviseConsumer({
      name: groupId,
      start: () => run(projection, groupId),
      log: quietLogger(),
      metrics: createMetricsRegistry('runner-supervised'),
      backoffMs: { initial: 100, max: 500 },
    });
    try {
      const first = await supervised.running();
      const error = await first.failed;
      assert.match(String(error), /connection reset/);
      assert.equal(await committed(groupId), -1, 'nothing committed past the failed batch');
      await until(() => supervised.status().crashesWithoutProgress >= 1, 'the failure counted');
      broken = false;
      await until(() => supervised.current() !== first && supervised.current(), 'a new run');
      await until(() => seen.size === total, 'every event applied');
      await until(async () => (await committed(groupId)) === total, 'the offset committed');
      assert.deepEqual([...new Set(seen.values())], [1], 'each event applied once');
      await until(() => supervised.status().crashesWithoutProgress === 0, 'progress noticed');
    } finally {
      await supervised.stop();
    }
  });

  it('is well again after an outage with nothing new to apply (its events written in a transaction)', async () => {
    const groupId = uniqueName('runner-quiet');
    // Events in a transaction, as the processor writes them: a commit marker follows them.
    const transactional = createProducer(kafka, {
      transactionalId: uniqueName('runner-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await transactional.connect();
    const transaction = await transactional.transaction();
    const before = Number((await admin.fetchTopicOffsets(topic))[0]?.high ?? 0);
    await transaction.send({ topic, messages: [await archived()] });
    await transaction.commit();
    await transactional.disconnect();
    const seen: string[] = [];
    const projection = listProjection(async (events) => {
      seen.push(...events.map((e) => e.value.metadata.eventId));
    });
    // Everything applied and committed: what is left to read is the marker.
    const first = await run(projection, groupId);
    await until(async () => (await committed(groupId)) > before, 'applied and committed');
    await first.stop();
    const appliedBefore = seen.length;

    let failures = 3;
    const supervised = superviseConsumer({
      name: groupId,
      // The store is down at the first starts (as `prepare` would find it), then back.
      start: async () => {
        if (failures > 0) {
          failures -= 1;
          throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        }
        return run(projection, groupId);
      },
      log: quietLogger(),
      metrics: createMetricsRegistry('runner-quiet'),
      backoffMs: { initial: 50, max: 100 },
      quietMs: 1_000,
    });
    try {
      await supervised.running();
      assert.equal(supervised.status().crashesWithoutProgress, 3);
      await until(
        () => supervised.status().crashesWithoutProgress === 0,
        'well again without a new event',
      );
      assert.equal(seen.length, appliedBefore, 'nothing applied again');
    } finally {
      await supervised.stop();
    }
  });
});
