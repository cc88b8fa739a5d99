/**
 * Raw Kafka produce -> consume latency at a fixed rate: the same-run baseline of the benchmarks
 * that measure how soon something written is seen (freshness, assistant).
 */
import { randomUUID } from 'node:crypto';
import { createProducer, createTopics, type Kafka } from '@parley/platform/kafka';
import { openLoop, within } from './load.ts';
import { percentiles } from './measure.ts';

/** Raw Kafka: send -> consumed, one message per send at `perSec` for `seconds`. */
export async function kafkaLatency(
  kafka: Kafka,
  topic: string,
  options: { perSec: number; seconds: number; partitions: number },
) {
  const { perSec, seconds, partitions } = options;
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${topic}.reader`;
  // Not idempotent: kafkajs serialises an idempotent producer's requests per broker, which
  // would queue one-message sends behind each other and measure the client, not Kafka.
  const producer = createProducer(kafka);
  const consumer = kafka.consumer({ groupId });
  const waiting = new Map<string, () => void>();
  try {
    await createTopics(admin, [{ topic, numPartitions: partitions }]);
    await producer.connect();
    await consumer.connect();
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => waiting.get(String(message.key))?.(),
    });
    await within(joined, 60_000, 'baseline consumer joining');
    const value = Buffer.alloc(300, 'x');
    const run = async (rounds: number) => {
      const latencies: number[] = [];
      const loop = await openLoop(perSec, rounds, () =>
        within(
          new Promise<boolean>((resolve, reject) => {
            const key = randomUUID();
            const sent = performance.now();
            waiting.set(key, () => {
              waiting.delete(key);
              latencies.push(performance.now() - sent);
              resolve(true);
            });
            producer.send({ topic, acks: -1, messages: [{ key, value }] }).catch(reject);
          }),
          30_000,
          'a Kafka message',
        ),
      );
      return {
        offeredPerSec: perSec,
        achievedPerSec: loop.eventsPerSec,
        messages: loop.events,
        failures: loop.failures,
        latencyMs: percentiles(latencies),
      };
    };
    await run(2); // warm-up
    return await run(seconds);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
}
