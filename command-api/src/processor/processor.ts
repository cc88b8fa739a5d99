/**
 * The command processor: one consumer group over the command topics, so each partition has
 * exactly one writer at a time. On assignment, a partition's worker fences the previous owner and
 * restores its aggregates; each batch becomes one transaction; outcomes go to Redis afterwards.
 * A failed transaction drops the partition's worker (its producer may be fenced or in doubt) and
 * rewinds the partition to its committed offset, so nothing is decided twice.
 */

import { withTimeout } from '@parley/platform/health';
import type { Admin, Consumer, Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { Outcome } from '../outcomes/outcome.ts';
import { publishOutcomes, readOutcomes, republishOutcomes } from '../outcomes/outcome-store.ts';
import type { ProcessorContext } from './contexts.ts';
import { PartitionWorker } from './partition-worker.ts';
import { restorePartitions } from './restore.ts';

export interface ProcessorOptions {
  /** The consumer group's client. */
  kafka: Kafka;
  /** The client the partitions' transactional producers are made from (its retry timing). */
  producers: Kafka;
  admin: Admin;
  serde: AvroSerde;
  redis: Redis;
  log: Logger;
  contexts: readonly ProcessorContext[];
  groupId: string;
  restoreTimeoutMs?: number;
  sessionTimeoutMs?: number;
}

export interface CommandProcessor {
  readonly consumer: Consumer;
  /** Partitions this instance owns and has restored, as `topic:partition`. */
  owned(): string[];
  stop(): Promise<void>;
}

/**
 * Commands per transaction at most: bounds the size of one transaction's records (a state record
 * per aggregate touched) well under the broker's message size limit, and the work redone after a
 * failure.
 */
export const MAX_COMMANDS_PER_TRANSACTION = 50;

/**
 * Partitions whose batches are processed at once. kafkajs fetches again only when every batch of
 * the last fetch is done, so with fewer workers than busy partitions each fetch took several
 * transactions' time and commands waited for other partitions' turns; every partition an instance
 * can own gets a worker (each has its own transactional producer, so nothing is shared).
 */
export const PARTITIONS_IN_FLIGHT = 64;

const publishPolicy = retry(handleAll, {
  maxAttempts: 5,
  backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 2000 }),
});

/** How long a batch waits for the published outcomes of its command ids before going without. */
const OUTCOME_LOOKUP_TIMEOUT_MS = 1_000;

/**
 * Outcomes that could not be published (Redis down) are retried with the next batch's and every
 * second; past this many, the oldest are dropped (their commands answer from the aggregates'
 * memory only).
 */
const MAX_UNPUBLISHED = 10_000;
/** How often outcomes that could not be published are tried again without waiting for a batch. */
const UNPUBLISHED_RETRY_MS = 1_000;

export async function startCommandProcessor(options: ProcessorOptions): Promise<CommandProcessor> {
  const { kafka, admin, log, groupId } = options;
  const byTopic = new Map(options.contexts.map((c) => [c.commandTopic, c]));
  const workers = new Map<string, PartitionWorker>();
  let assigned = new Map<string, number[]>();
  let unpublished: Outcome[] = [];

  /** Published outcomes for a batch's command ids; without Redis, the aggregates' memory only. */
  const publishedOutcomes = async (commandIds: readonly string[]) => {
    try {
      return await withTimeout(readOutcomes(options.redis, commandIds), OUTCOME_LOOKUP_TIMEOUT_MS);
    } catch (error) {
      log.warn({ err: error }, 'published outcomes not read: deduplicating from memory only');
      return new Map<string, Outcome>();
    }
  };

  const publish = async (outcomes: readonly Outcome[]) => {
    const batch = [...unpublished, ...outcomes];
    unpublished = [];
    try {
      await publishPolicy.execute(() => publishOutcomes(options.redis, batch));
    } catch (error) {
      // The events are committed; clients waiting for these outcomes get 202 and can resend the
      // same command id, which answers the remembered outcome. They are retried with the next.
      log.error({ err: error, commands: batch.length }, 'could not publish outcomes');
      // Other partitions may have failed meanwhile: keep theirs too.
      unpublished = [...batch, ...unpublished].slice(-MAX_UNPUBLISHED);
    }
  };
  // Outcomes left unpublished are retried on their own too: after a Redis outage no new command
  // may come to carry them, and their senders poll GET /v1/commands/{id} for them.
  let retrying = false;
  const retryTimer = setInterval(() => {
    if (retrying || unpublished.length === 0) return;
    retrying = true;
    void publish([]).finally(() => {
      retrying = false;
    });
  }, UNPUBLISHED_RETRY_MS);

  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 30_000) / 3)),
    maxBytesPerPartition: 1024 * 1024,
  });

  const dropWorker = async (key: string) => {
    const worker = workers.get(key);
    workers.delete(key);
    await worker?.stop();
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    assigned = new Map(Object.entries(payload.memberAssignment));
    const keep = new Set(
      [...assigned].flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)),
    );
    for (const key of workers.keys()) if (!keep.has(key)) void dropWorker(key);
    log.info({ assignment: payload.memberAssignment }, 'partitions assigned');
  });

  /**
   * Starts and restores every assigned partition of this topic that has no worker yet. Batches of
   * several partitions arrive concurrently; they share one activation, or a second set of
   * producers would fence the first.
   */
  const activations = new Map<string, Promise<void>>();
  const activate = (context: ProcessorContext, heartbeat: () => Promise<void>): Promise<void> => {
    let running = activations.get(context.commandTopic);
    if (!running) {
      running = activatePartitions(context, heartbeat).finally(() =>
        activations.delete(context.commandTopic),
      );
      activations.set(context.commandTopic, running);
    }
    return running;
  };

  const activatePartitions = async (context: ProcessorContext, heartbeat: () => Promise<void>) => {
    const partitions = (assigned.get(context.commandTopic) ?? []).filter(
      (p) => !workers.has(`${context.commandTopic}:${p}`),
    );
    const fresh = partitions.map(
      (p) =>
        new PartitionWorker(context, p, {
          kafka: options.producers,
          serde: options.serde,
          groupId,
          log,
          publishedOutcomes,
        }),
    );
    try {
      await Promise.all(fresh.map((w) => w.start()));
      const markers = new Map(
        await Promise.all(fresh.map(async (w) => [w.partition, await w.commitMarker()] as const)),
      );
      const byPartition = new Map(fresh.map((w) => [w.partition, w]));
      await withTimeout(
        restorePartitions(
          kafka,
          context.stateTopic,
          markers,
          (p, key, value) => byPartition.get(p)?.applyRestored(key, value),
          log,
          heartbeat,
        ),
        options.restoreTimeoutMs ?? 120_000,
      );
    } catch (error) {
      await Promise.all(fresh.map((w) => w.stop()));
      throw error;
    }
    for (const w of fresh) workers.set(`${context.commandTopic}:${w.partition}`, w);
    await republishRestored(fresh);
  };

  /** Outcomes the previous owners committed but may have died before publishing. */
  const republishRestored = async (restored: readonly PartitionWorker[]) => {
    const outcomes = restored.flatMap((w) => w.takeRestoredOutcomes());
    try {
      const written = await publishPolicy.execute(() => republishOutcomes(options.redis, outcomes));
      if (written > 0) log.warn({ written }, 'republished outcomes a previous owner had not');
    } catch (error) {
      log.error({ err: error, commands: outcomes.length }, 'could not republish restored outcomes');
    }
  };

  const rewind = async (topic: string, partition: number) => {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
    consumer.seek({ topic, partition, offset: Number(committed) < 0 ? '0' : committed });
  };

  /**
   * One transaction for a chunk of a partition's batch, then its outcomes to Redis. False when
   * the transaction failed: the worker is dropped and the partition rewound.
   */
  const commitChunk = async (
    worker: PartitionWorker,
    key: string,
    topic: string,
    partition: number,
    chunk: Parameters<PartitionWorker['process']>[0],
  ): Promise<boolean> => {
    let outcomes: Awaited<ReturnType<PartitionWorker['process']>>;
    try {
      outcomes = await worker.process(chunk);
    } catch (error) {
      log.error(
        { err: error, partition: key },
        'transaction failed; dropping the partition worker and rewinding',
      );
      await dropWorker(key);
      await rewind(topic, partition);
      return false;
    }
    await publish(outcomes);
    return true;
  };

  await consumer.connect();
  await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      const context = byTopic.get(batch.topic);
      if (!context) return;
      const key = `${batch.topic}:${batch.partition}`;
      if (!workers.has(key)) await activate(context, heartbeat);
      const worker = workers.get(key);
      if (!worker) throw new Error(`partition ${key} is not assigned to this instance`);
      for (let start = 0; start < batch.messages.length; start += MAX_COMMANDS_PER_TRANSACTION) {
        if (!isRunning() || isStale()) return;
        const chunk = batch.messages.slice(start, start + MAX_COMMANDS_PER_TRANSACTION);
        const committed = await commitChunk(worker, key, batch.topic, batch.partition, chunk);
        if (!committed) return;
        resolveOffset(chunk.at(-1)?.offset ?? batch.lastOffset());
        await heartbeat();
      }
    },
  });

  return {
    consumer,
    owned: () => [...workers.keys()],
    stop: async () => {
      clearInterval(retryTimer);
      await consumer.disconnect();
      await Promise.all([...workers.keys()].map(dropWorker));
    },
  };
}
