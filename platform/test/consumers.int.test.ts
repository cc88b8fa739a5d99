// Consumers that stop and lag that shows it, against the real Kafka: a consumer stopped by an
// error kafkajs does not retry is started again with backoff and reported not running meanwhile
// (readiness and kafka_consumer_up); one that keeps crashing without progress fails readiness;
// lag measured from the brokers grows while the consumer is dead, in events and in seconds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type LagMonitor, type PartitionLag, startLagMonitor } from '../src/consumer-lag.ts';
import { type Admin, type Consumer, createTopics, type Producer } from '../src/kafka.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import {
  consumersCheck,
  type SupervisedConsumer,
  superviseConsumer,
} from '../src/supervised-consumer.ts';
import { quietLogger, testKafka, uniqueName, until } from '../src/testing/fixtures.ts';

const kafka = testKafka();
const topic = uniqueName('supervised');
/** Nothing is ever written to it: a consumer of it is always caught up. */
const quietTopic = uniqueName('supervised-quiet');
let admin: Admin;
let producer: Producer;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [
    { topic, numPartitions: 1 },
    { topic: quietTopic, numPartitions: 1 },
  ]);
  producer = kafka.producer();
  await producer.connect();
});
after(async () => {
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic, quietTopic] }).catch(() => {});
  await admin.disconnect();
});

const send = (n: number) =>
  producer.send({
    topic,
    messages: Array.from({ length: n }, (_, i) => ({ key: 'k', value: `m${i}` })),
  });

/** A consumer that throws a TypeError (which kafkajs never retries) while `broken` says so. */
function flakyConsumer(group: string, state: { broken: boolean; seen: number; starts: number }) {
  return async () => {
    state.starts += 1;
    const consumer: Consumer = kafka.consumer({ groupId: group, retry: { retries: 0 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        if (state.broken) throw new TypeError('a bug in the handler');
        for (const m of batch.messages) {
          state.seen += 1;
          resolveOffset(m.offset);
        }
      },
    });
    return { consumer, stop: () => consumer.disconnect() };
  };
}

const metricValue = async (
  registry: ReturnType<typeof createMetricsRegistry>,
  name: string,
  labels: Record<string, string>,
) => {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    ?.value;
};

describe('supervised consumers', () => {
  let supervised: SupervisedConsumer<{ consumer: Consumer; stop(): Promise<void> }> | undefined;
  let lag: LagMonitor | undefined;
  after(async () => {
    lag?.stop();
    await supervised?.stop();
  });

  it('starts a consumer stopped by a bug again, says it is down meanwhile, and lag shows it', async () => {
    const group = uniqueName('supervised-group');
    const registry = createMetricsRegistry('consumers-test');
    const state = { broken: false, seen: 0, starts: 0 };
    supervised = superviseConsumer({
      name: group,
      start: flakyConsumer(group, state),
      log: quietLogger(),
      metrics: registry,
      backoffMs: { initial: 200, max: 1_000 },
      // Short, so a crash loop that looked quiet would pass readiness below: it must not.
      quietMs: 300,
    });
    const sup = supervised;
    const check = consumersCheck('consumers', () => [sup.status()]);
    lag = startLagMonitor({
      admin,
      targets: () => [{ group, topics: [topic] }],
      metrics: registry,
      log: quietLogger(),
      intervalMs: 200,
    });
    await sup.running();
    await check.check();
    assert.equal(await metricValue(registry, 'kafka_consumer_up', { consumer: group }), 1);

    await send(3);
    await until(() => state.seen === 3, 'the first records');
    await until(async () => {
      const l = await lag?.measure();
      return l?.[0]?.events === 0;
    }, 'no lag');

    // A bug: kafkajs stops the consumer for good; the supervisor starts it again and again.
    state.broken = true;
    await send(5);
    await until(() => state.starts >= 3, 'restarts');
    // Between restarts (a backoff, then a start that fails on its first batch) it is down: the
    // check names it and the gauge says 0. A start in progress may show running for a moment.
    await until(async () => {
      const refused = await check.check().then(
        () => undefined,
        (error: unknown) => String(error),
      );
      const up = await metricValue(registry, 'kafka_consumer_up', { consumer: group });
      return refused !== undefined && new RegExp(group).test(refused) && up === 0;
    }, 'readiness and the gauge say it is down');
    assert.ok(
      ((await metricValue(registry, 'kafka_consumer_restarts_total', { consumer: group })) ?? 0) >=
        2,
    );
    // A crash loop never looks quiet: over five quiet times on end, readiness never passes.
    await until(() => sup.status().crashesWithoutProgress >= 3, 'three crashes in a row');
    for (const watchUntil = Date.now() + 1_500; Date.now() < watchUntil; ) {
      await assert.rejects(check.check(), new RegExp(group));
      await new Promise((r) => setTimeout(r, 50));
    }
    // The lag comes from the brokers, so it shows the records the dead consumer left.
    const measured = await until(async (): Promise<PartitionLag | undefined> => {
      const l = (await lag?.measure())?.[0];
      return l && l.events === 5 && l.seconds > 0.3 ? l : undefined;
    }, 'lag of the dead consumer in events and seconds');
    assert.equal(
      await metricValue(registry, 'kafka_consumer_group_lag_events', { group, topic }),
      5,
    );
    await new Promise((r) => setTimeout(r, 500));
    const later = (await lag?.measure())?.[0];
    assert.ok(
      later && measured && later.seconds > measured.seconds,
      'lag in seconds grows while it is dead',
    );

    // Fixed: the next start applies what was left, and all is well again.
    state.broken = false;
    await until(() => state.seen === 8, 'the records after the fix');
    await until(() => sup.status().state === 'running', 'running again');
    await until(async () => (await lag?.measure())?.[0]?.events === 0, 'lag back to zero');
    await check.check();
    assert.equal(await metricValue(registry, 'kafka_consumer_up', { consumer: group }), 1);
  });

  it('counts a consumer started again after an outage as well once it has run a while with nothing to do', async () => {
    const group = uniqueName('supervised-quiet-group');
    let failures = 3;
    const quiet = superviseConsumer({
      name: group,
      // A dependency down: its first starts fail before the consumer joins.
      start: async () => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('a store is unreachable');
        }
        const consumer: Consumer = kafka.consumer({ groupId: group });
        await consumer.connect();
        await consumer.subscribe({ topic: quietTopic, fromBeginning: true });
        await consumer.run({ eachBatch: async () => undefined });
        return { consumer, stop: () => consumer.disconnect() };
      },
      log: quietLogger(),
      metrics: createMetricsRegistry('consumers-quiet-test'),
      backoffMs: { initial: 50, max: 100 },
      quietMs: 1_000,
    });
    try {
      const check = consumersCheck('consumers', () => [quiet.status()]);
      await quiet.running();
      const started = Date.now();
      // Running, but after three crashes and no batch yet: not ready.
      await assert.rejects(check.check(), /crashed 3 times without progress/);
      // Caught up with nothing to read: ready once it has run quietly for a while.
      await until(
        () =>
          check.check().then(
            () => true,
            () => false,
          ),
        'ready again',
      );
      assert.ok(Date.now() - started >= 900, 'not before the quiet time');
      assert.equal(quiet.status().crashesWithoutProgress, 0);
    } finally {
      await quiet.stop();
    }
  });
});
