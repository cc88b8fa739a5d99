/**
 * kafka-baseline: what the machine and kafkajs can do with no Parley code in the way. Every later
 * ratio is measured against figures like these.
 *
 * Produce: 1 KB events, acks=all, idempotent producer, batches in flight in parallel; once with
 * pre-made bytes (baseline) and once Avro-encoding each event through the schema registry serde.
 * Consume: the Avro topic read from offset zero by a consumer group, once counting raw records
 * (baseline) and once Avro-decoding each one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createKafka,
  createProducer,
  createTopics,
  type Kafka,
  type Producer,
} from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import {
  createSchemaRegistry,
  deleteSubject,
  SchemaType,
  schemaRegistryOptions,
} from '@parley/platform/schema-registry';
import type { BenchContext } from '../context.ts';
import { peakRssBytes, percentiles, progress, rate, writeResult } from '../measure.ts';

const BENCH_SCHEMA = {
  type: 'record',
  name: 'BenchEvent',
  namespace: 'dev.parley.bench',
  fields: [
    { name: 'eventId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'aggregateId', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'version', type: 'long' },
    { name: 'occurredAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'text', type: 'string' },
  ],
};

interface Params {
  events: number;
  valueBytes: number;
  batchSize: number;
  inFlight: number;
}

async function produceAll(
  producer: Producer,
  topic: string,
  params: Params,
  makeBatch: (start: number, size: number) => Promise<Array<{ key: string; value: Buffer }>>,
  label: string,
) {
  const latencies: number[] = [];
  const bar = progress(label);
  let next = 0;
  let done = 0;
  let bytes = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < params.events) {
      const start = next;
      const size = Math.min(params.batchSize, params.events - start);
      next += size;
      const messages = await makeBatch(start, size);
      for (const m of messages) bytes += m.value.length;
      const t0 = performance.now();
      await producer.send({ topic, acks: -1, messages });
      latencies.push(performance.now() - t0);
      done += size;
      bar.update(done, params.events);
    }
  };
  await Promise.all(Array.from({ length: params.inFlight }, worker));
  bar.done();
  const ms = performance.now() - started;
  return {
    eventsPerSec: rate(params.events, ms),
    megabytesPerSec: Math.round((bytes / 2 ** 20 / ms) * 1000 * 10) / 10,
    avgValueBytes: Math.round(bytes / params.events),
    sendLatencyMs: percentiles(latencies),
    batches: latencies.length,
  };
}

async function consumeAll(
  kafka: Kafka,
  topic: string,
  total: number,
  handle: (value: Buffer) => Promise<void>,
  label: string,
) {
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}`, maxBytes: 32 * 2 ** 20 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const bar = progress(label);
  let count = 0;
  let started = 0;
  const finished = new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch, heartbeat }) => {
        if (started === 0) started = performance.now();
        for (const message of batch.messages) {
          if (message.value) await handle(message.value);
        }
        count += batch.messages.length;
        bar.update(count, total);
        await heartbeat();
        if (count >= total) resolve(performance.now());
      },
    });
  });
  const ended = await finished;
  bar.done();
  await consumer.disconnect();
  return { eventsPerSec: rate(count, ended - started), events: count };
}

export async function kafkaBaseline(context: BenchContext) {
  const params: Params = {
    events: context.events ?? 200_000,
    valueBytes: 1024,
    batchSize: 500,
    inFlight: 4,
  };
  const log = createLogger({ service: 'bench', level: 'warn', environment: 'dev' });
  const kafka = createKafka({ brokers: context.config.KAFKA_BROKERS, clientId: 'bench', log });
  const registry = createSchemaRegistry(schemaRegistryOptions(context.config));
  const admin = kafka.admin();
  await admin.connect();
  const rawTopic = `bench.raw-${randomUUID().slice(0, 8)}`;
  const avroTopic = `bench.avro-${randomUUID().slice(0, 8)}`;
  const warmupTopic = `bench.warmup-${randomUUID().slice(0, 8)}`;
  await createTopics(
    admin,
    [rawTopic, avroTopic, warmupTopic].map((topic) => ({ topic, numPartitions: 12 })),
  );
  const subject = `${avroTopic}-value`;
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(BENCH_SCHEMA) },
      { subject },
    );
    // Text sized so that one encoded event is about 1 KB, like a short chat message with metadata.
    const text = 'x'.repeat(params.valueBytes - 5 - 2 * 37 - 8 - 2 - 2);
    const producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 5 });
    await producer.connect();

    const rawValues = Array.from({ length: 64 }, () => randomBytes(params.valueBytes));
    // Warm-up, not measured: connections, metadata, JIT.
    const warmup = { ...params, events: Math.min(20_000, params.events) };
    await produceAll(
      producer,
      warmupTopic,
      warmup,
      async (start, size) =>
        Array.from({ length: size }, (_, i) => ({
          key: String(start + i),
          value: rawValues[0] as Buffer,
        })),
      'warm-up',
    );
    const produceRaw = await produceAll(
      producer,
      rawTopic,
      params,
      async (start, size) =>
        Array.from({ length: size }, (_, i) => ({
          key: String((start + i) % 10_000),
          value: rawValues[(start + i) % rawValues.length] as Buffer,
        })),
      'produce raw bytes',
    );
    const produceAvro = await produceAll(
      producer,
      avroTopic,
      params,
      async (start, size) =>
        Promise.all(
          Array.from({ length: size }, async (_, i) => ({
            key: String((start + i) % 10_000),
            value: await registry.encode(id, {
              eventId: randomUUID(),
              aggregateId: randomUUID(),
              version: start + i,
              occurredAt: Date.now(),
              text,
            }),
          })),
        ),
      'produce avro',
    );
    await producer.disconnect();

    const consumeRaw = await consumeAll(
      kafka,
      avroTopic,
      params.events,
      async () => {},
      'consume raw',
    );
    let decoded = 0;
    const consumeAvro = await consumeAll(
      kafka,
      avroTopic,
      params.events,
      async (value) => {
        const event = (await registry.decode(value)) as { version: number };
        if (typeof event.version === 'number') decoded += 1;
      },
      'consume + avro decode',
    );
    if (decoded !== params.events) throw new Error(`decoded ${decoded} of ${params.events} events`);

    return writeResult('kafka-baseline', {
      description:
        'Raw kafkajs limits on this machine: 1 KB events, acks=all, idempotent producer; consume from offset zero with and without Avro decode. Baselines are the raw-bytes runs of the same process.',
      params,
      results: { produceRaw, produceAvro, consumeRaw, consumeAvro },
      ratioProduceAvroToRaw:
        Math.round((produceAvro.eventsPerSec / produceRaw.eventsPerSec) * 100) / 100,
      ratioConsumeAvroDecodeToRaw:
        Math.round((consumeAvro.eventsPerSec / consumeRaw.eventsPerSec) * 100) / 100,
      peakRssBytes: peakRssBytes(),
    });
  } finally {
    await admin.deleteTopics({ topics: [rawTopic, avroTopic, warmupTopic] }).catch(() => {});
    await deleteSubject(schemaRegistryOptions(context.config), subject).catch(() => {});
    await admin.disconnect();
  }
}
