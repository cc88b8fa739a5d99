// The command sender (@platformatic/kafka behind SendBatcher) against the real broker: a key lands
// on the partition kafkajs and Java clients choose, so an aggregate's commands and events share a
// partition whichever client wrote them; keys, values and headers arrive as sent.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { type Admin, createTopics, type KafkaMessage } from '../src/kafka.ts';
import { connectCommandSender } from '../src/kafka-platformatic.ts';
import { stackConfig, testKafka, uniqueName } from '../src/testing/fixtures.ts';

const PARTITIONS = 12;
const KEYS = 400;
const kafka = testKafka();
const topic = uniqueName('command-sender');
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [{ topic, numPartitions: PARTITIONS }]);
});
after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

/** The partition Java clients and kafkajs pick for a key: murmur2 made positive by masking. */
const javaPartition = (key: string) => (murmur2(Buffer.from(key)) & 0x7fffffff) % PARTITIONS;

/** The library's default partitioner (unsigned murmur2), which Parley must not use. */
const unsignedPartition = (key: string) => (murmur2(Buffer.from(key)) >>> 0) % PARTITIONS;

it('puts every key on the partition Java clients and kafkajs pick, with key, value and headers intact', async () => {
  const config = stackConfig();
  const { sender, resource } = connectCommandSender(
    { KAFKA_BROKERS: config.KAFKA_BROKERS, KAFKA_CLIENT_ID: 'parley-test' },
    'command-sender-test',
  );
  const keys = Array.from({ length: KEYS }, () => randomUUID());
  try {
    await Promise.all(
      keys.map((key, i) =>
        sender.send(topic, {
          key,
          value: Buffer.from(`command ${i}`),
          headers: { 'parley-id': `id-${i}`, absent: undefined },
        }),
      ),
    );
  } finally {
    await resource.close();
  }

  const received: Array<{ partition: number; message: KafkaMessage }> = [];
  const consumer = kafka.consumer({ groupId: uniqueName('command-sender-reader') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const all = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ partition, message });
        if (received.length === KEYS) resolve();
      },
    });
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      all,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${received.length} of ${KEYS} arrived`)),
          30_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }

  const byKey = new Map(received.map((r) => [r.message.key?.toString(), r]));
  assert.equal(byKey.size, KEYS, 'every key arrived once');
  let highBit = 0;
  for (const [i, key] of keys.entries()) {
    const got = byKey.get(key);
    assert.ok(got, `key ${key} arrived`);
    assert.equal(got.partition, javaPartition(key), `partition of ${key}`);
    assert.equal(got.message.value?.toString(), `command ${i}`);
    assert.equal(got.message.headers?.['parley-id']?.toString(), `id-${i}`);
    assert.equal('absent' in (got.message.headers ?? {}), false);
    // Keys whose murmur2 hash has the top bit set are where partitioners disagree; some must be here.
    if (got.partition !== unsignedPartition(key)) highBit += 1;
  }
  assert.ok(highBit > 0, 'the keys include some the unsigned partitioner would misplace');
});

/** Kafka's murmur2 (as in the Java client), written out so the test does not trust either library. */
function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const r = 24;
  let h = 0x9747b28c ^ data.length;
  const length4 = Math.floor(data.length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4 + 0] as number) +
      ((data[i4 + 1] as number) << 8) +
      ((data[i4 + 2] as number) << 16) +
      ((data[i4 + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = data.length % 4;
  const tail = data.length & ~3;
  if (rest === 3) h ^= (data[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= data[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
