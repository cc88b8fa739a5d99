/** Reading and redriving a projection's dead letters (`projector.<name>.dlq`). */
import type { Kafka, KafkaMessage } from '@parley/platform/kafka';
import { inTransaction } from '@parley/platform/postgres';
import { redactor } from '@parley/schemas/avro/redact';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import { DLQ_HEADERS } from './runtime/dead-letters.ts';
import {
  type Generation,
  type Projection,
  projectedEvent,
  type Stores,
} from './runtime/projection.ts';

export interface DeadLetterEntry {
  offset: string;
  error: string;
  reason: string;
  source: string;
  at: string;
  key: string | null;
  valueBytes: number;
  message: KafkaMessage;
}

const header = (m: KafkaMessage, name: string) => m.headers?.[name]?.toString() ?? '';

const READ_TIMEOUT_MS = 30_000;

/** Every dead letter from the start of the topic (or from a group's position). */
export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  groupId = `dlq-reader-${Date.now()}-${Math.random().toString(36).slice(2)}`,
): Promise<{
  entries: DeadLetterEntry[];
  commit: () => Promise<void>;
  close: () => Promise<void>;
}> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  const start = new Map(
    (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
  );
  // From the group's position, or from the oldest record kept (retention deletes old ones).
  const remaining = new Map(
    offsets.map((o) => [
      o.partition,
      Number(o.high) - Math.max(Number(o.low), start.get(o.partition) ?? 0),
    ]),
  );
  const entries: DeadLetterEntry[] = [];
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const positions: Array<{ topic: string; partition: number; offset: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const done = () => [...remaining.values()].every((n) => n <= 0);
    if (done()) return resolve();
    // Never wait forever (a record gone meanwhile, a broker that stopped answering).
    const timer = setTimeout(() => {
      void consumer.disconnect();
      reject(new Error(`reading ${topic} took more than ${READ_TIMEOUT_MS / 1000} s`));
    }, READ_TIMEOUT_MS);
    const finished = () => {
      clearTimeout(timer);
      resolve();
    };
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        entries.push({
          offset: `${partition}:${message.offset}`,
          error: header(message, DLQ_HEADERS.error),
          reason: header(message, DLQ_HEADERS.reason),
          source: `${header(message, DLQ_HEADERS.topic)}:${header(message, DLQ_HEADERS.partition)}:${header(message, DLQ_HEADERS.offset)}`,
          at: header(message, DLQ_HEADERS.at),
          key: message.key?.toString() ?? null,
          valueBytes: message.value?.length ?? 0,
          message,
        });
        positions.push({ topic, partition, offset: String(Number(message.offset) + 1) });
        remaining.set(partition, (remaining.get(partition) ?? 0) - 1);
        if (done()) finished();
      },
    });
  });
  return {
    entries,
    commit: async () => {
      if (positions.length > 0) await consumer.commitOffsets(positions);
    },
    close: () => consumer.disconnect(),
  };
}

export interface RedriveResult {
  redriven: string[];
  failed: Array<{ offset: string; reason: string }>;
}

/**
 * Applies each dead letter again to a generation (after a fix) and moves the redrive group past
 * them only if every one applied: what still fails is kept for the next attempt. Applying an
 * event twice changes nothing (checkpoints and version guards), so a repeated redrive is safe.
 */
export async function redriveDeadLetters(options: {
  kafka: Kafka;
  serde: AvroSerde;
  stores: Stores;
  projection: Projection;
  generation: Generation;
  topic: string;
  groupId: string;
}): Promise<RedriveResult> {
  const { projection, stores, generation } = options;
  const reader = await readDeadLetters(options.kafka, options.topic, options.groupId);
  const result: RedriveResult = { redriven: [], failed: [] };
  try {
    for (const entry of reader.entries) {
      try {
        const decoded = await options.serde.decode(entry.message.value ?? Buffer.alloc(0));
        const [topic = '', partition = '0', offset = '0'] = entry.source.split(':');
        const event = projectedEvent(decoded, { topic, partition: Number(partition), offset });
        if (projection.store === 'postgres') {
          await inTransaction(stores.pool, (client) =>
            projection.apply(client, stores, generation, [event]),
          );
        } else {
          await projection.apply(stores, generation, [event]);
        }
        result.redriven.push(entry.offset);
      } catch (error) {
        result.failed.push({ offset: entry.offset, reason: String(error) });
      }
    }
    if (result.failed.length === 0) await reader.commit();
  } finally {
    await reader.close();
  }
  return result;
}

/** A dead letter as people read it: where it came from, why it failed, whether it still waits. */
export type DeadLetterSummary = Omit<DeadLetterEntry, 'message' | 'offset'> & {
  /** `partition:offset` on the dead-letter topic. */
  position: string;
  /** Not yet applied by a redrive (at or past the redrive group's committed offset). */
  waiting: boolean;
};

/** Every dead letter of a topic, each marked waiting or already redriven. */
export async function summarizeDeadLetters(options: {
  kafka: Kafka;
  topic: string;
  redriveGroup: string;
}): Promise<{ summaries: DeadLetterSummary[]; entries: DeadLetterEntry[] }> {
  const admin = options.kafka.admin();
  await admin.connect();
  let committed: Awaited<ReturnType<typeof admin.fetchOffsets>>;
  try {
    committed = await admin.fetchOffsets({
      groupId: options.redriveGroup,
      topics: [options.topic],
    });
  } finally {
    await admin.disconnect();
  }
  const redrivenUpTo = new Map(
    (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
  );
  const reader = `dlq-reader-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const { entries, close } = await readDeadLetters(options.kafka, options.topic, reader);
  await close();
  // The throwaway reader's group goes too (it committed nothing; an empty group would linger).
  const cleanup = options.kafka.admin();
  await cleanup
    .connect()
    .then(() => cleanup.deleteGroups([reader]))
    .catch(() => {})
    .finally(() => cleanup.disconnect());
  const summaries = entries.map(({ message: _message, offset, ...entry }) => {
    const [partition = 0, at = 0] = offset.split(':').map(Number);
    return { ...entry, position: offset, waiting: at >= (redrivenUpTo.get(partition) ?? -1) };
  });
  return { summaries, entries };
}

/** One dead letter in full: its headers and its record decoded (or why it cannot be). */
export async function describeDeadLetter(serde: AvroSerde, entry: DeadLetterEntry) {
  const headers = Object.fromEntries(
    Object.entries(entry.message.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? '']),
  );
  try {
    const decoded = await serde.decode(entry.message.value ?? Buffer.alloc(0));
    return {
      headers,
      type: decoded.type,
      // Personal fields null, as in an analyst's replay: an erased person stays erased here too.
      // Longs as numbers-or-strings and bytes as base64, so any record is plain JSON.
      value: JSON.parse(
        JSON.stringify(redactor(serde.schemas)(decoded.type, decoded.value), (_k, v: unknown) =>
          typeof v === 'bigint' ? v.toString() : v,
        ),
      ) as unknown,
    };
  } catch (error) {
    return {
      headers,
      decodeError: error instanceof Error ? error.message : String(error),
      valueHex: entry.message.value?.subarray(0, 4096).toString('hex') ?? null,
    };
  }
}
