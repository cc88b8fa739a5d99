/**
 * Runs one generation of one projection: a consumer group reading its topics with
 * read_committed, batch by batch per partition. A batch is decoded (undecodable records go to the
 * dead-letter topic), applied with bounded retries for transient store errors, and only then
 * acknowledged. Postgres projections apply each batch in one transaction with their checkpoint
 * rows and skip what the checkpoint has already seen, so a redelivered batch is applied once;
 * MongoDB and Redis projections are version-guarded. Kafka offsets are committed too (for lag
 * dashboards and as the restart point of guarded projections).
 */

import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import { inTransaction } from '@parley/platform/postgres';
import {
  type Context,
  contextFrom,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
} from '@parley/platform/tracing';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { topicNames } from '@parley/schemas/topics/catalogue';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { type DeadLetter, DeadLetterWriter, isTransient } from './dead-letters.ts';
import type { ProjectionMetrics } from './metrics.ts';
import {
  type Generation,
  groupOf,
  type ProjectedEvent,
  type Projection,
  projectedEvent,
  type Stores,
} from './projection.ts';

export interface RunnerOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  serde: AvroSerde;
  stores: Stores;
  projection: Projection;
  generation: Generation;
  names: typeof topicNames;
  log: Logger;
  metrics: ProjectionMetrics;
  /** The consumer group of this generation; `projector.<name>.g<n>` unless given. */
  groupId?: string;
  /** Per-message hook, for tests that kill a projector mid-batch. */
  /** After each applied batch: its events, and when (performance.now()) the batch began. */
  onBatch?: (events: number, startedAt: number) => void;
}

export interface RunningProjection {
  readonly groupId: string;
  /** For the supervisor, which watches its events and starts it again when it stops. */
  readonly consumer: Consumer;
  readonly topics: readonly string[];
  /** Records of the topics not yet applied (counting each partition's last transaction marker). */
  lag(): Promise<number>;
  /** Events applied by this run. */
  applied(): number;
  /** Batches applied by this run, those with nothing new included (for the supervisor). */
  batchesDone(): number;
  /**
   * Resolves with the error when a batch fails to apply for good (after its retries and one by
   * one). The batch is applied after its handler returned, so kafkajs never sees the error: whoever
   * runs the projection stops it and starts it again, from the last offset committed.
   */
  readonly failed: Promise<unknown>;
  /** Stops fetching, waits for the batches being applied, then leaves the group. */
  stop(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);
const PARTITIONS_CONCURRENTLY = 3;
const BATCH_BYTES = 1024 * 1024;
const COMMIT_INTERVAL_MS = 1000;

const transientRetry = retry(handleWhen(isTransient), {
  maxAttempts: 5,
  backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 3000 }),
});

export function groupIdOf(projection: Projection, generation: Generation): string {
  return `${generation.namespace}${groupOf(projection)}.g${generation.number}`;
}

export async function runProjection(options: RunnerOptions): Promise<RunningProjection> {
  const { projection, generation, stores, log, metrics } = options;
  const groupId = options.groupId ?? groupIdOf(projection, generation);
  const topics = projection.topics(options.names);
  const deadLetters = new DeadLetterWriter(
    options.producer,
    options.names.deadLetters(groupOf(projection)),
    projection.name,
  );
  const positions = new Map<string, number>();
  let applied = 0;
  let batchesDone = 0;
  /** The projection's selection of fields, if it reads only some. */
  const reading = projection.reads ? { selection: projection.reads } : {};

  /**
   * The batch's records decoded; the undecodable ones are poison. A transient failure (the schema
   * registry out of reach for a schema not cached yet) fails the whole decode, which is retried:
   * no retry wrapper per record on the hot path.
   */
  const decodeOnce = async (
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    spans: Span[],
  ) => {
    const events: ProjectedEvent[] = [];
    const poison: DeadLetter[] = [];
    for (const message of messages) {
      try {
        const payload = message.value ?? EMPTY;
        // A promise only for a schema not seen yet: one per record costs the collector.
        const decoded =
          options.serde.decodeKnown(payload, reading) ??
          (await options.serde.decode(payload, reading));
        const source = { topic, partition, offset: message.offset };
        const traced = eventSpan(projection.name, decoded.type, message, spans);
        events.push(projectedEvent(decoded, { ...source, ...traced }));
      } catch (error) {
        if (isTransient(error)) throw error;
        poison.push({ topic, partition, message, error });
      }
    }
    return { events, poison };
  };
  const decode = (topic: string, partition: number, messages: KafkaMessage[], spans: Span[]) =>
    transientRetry.execute(() => {
      // A retried decode starts its spans again: those of the failed attempt end here.
      endSpans(spans.splice(0), new Error('decode retried'));
      return decodeOnce(topic, partition, messages, spans);
    });

  /** Postgres: the batch and its checkpoint in one transaction; what the checkpoint saw is skipped. */
  const applyPostgres = async (
    topic: string,
    partition: number,
    events: readonly ProjectedEvent[],
    nextOffset: number,
  ) => {
    if (projection.store !== 'postgres') return;
    return inTransaction(stores.pool, async (client) => {
      const key = [generation.projection, generation.number, topic, partition];
      // The checkpoint, created if need be and locked for this transaction, in one round trip.
      const { rows } = await client.query<{ next_offset: string }>(
        `insert into read.checkpoints as c (projection, generation, topic, partition, next_offset)
         values ($1, $2, $3, $4, 0)
         on conflict (projection, generation, topic, partition)
           do update set next_offset = c.next_offset
         returning next_offset`,
        key,
      );
      const seen = Number(rows[0]?.next_offset ?? 0);
      const fresh = events.filter((e) => Number(e.offset) >= seen);
      if (fresh.length > 0) await projection.apply(client, stores, generation, fresh);
      if (nextOffset > seen) {
        await client.query(
          `update read.checkpoints set next_offset = $5
           where projection = $1 and generation = $2 and topic = $3 and partition = $4`,
          [...key, nextOffset],
        );
      }
      return fresh.length;
    });
  };

  const applyBatch = async (
    topic: string,
    partition: number,
    events: readonly ProjectedEvent[],
    nextOffset: number,
  ): Promise<number> =>
    transientRetry.execute(async () => {
      if (projection.store === 'postgres') {
        return (await applyPostgres(topic, partition, events, nextOffset)) ?? 0;
      }
      if (events.length > 0) await projection.apply(stores, generation, events);
      return events.length;
    });

  /** A batch that fails for good: applied one by one, the failing events to the dead letters. */
  const applyOneByOne = async (
    topic: string,
    partition: number,
    events: readonly ProjectedEvent[],
    messages: readonly KafkaMessage[],
  ) => {
    let count = 0;
    for (const event of events) {
      try {
        count += await applyBatch(topic, partition, [event], Number(event.offset) + 1);
      } catch (error) {
        if (isTransient(error)) throw error;
        const message = messages.find((m) => m.offset === event.offset);
        if (message) await deadLetters.write([{ topic, partition, message, error }]);
        metrics.deadLetters.inc({ projection: projection.name, topic });
        log.warn({ err: error, topic, partition, offset: event.offset }, 'event dead-lettered');
        if (projection.store === 'postgres') {
          await applyBatch(topic, partition, [], Number(event.offset) + 1);
        }
      }
    }
    return count;
  };

  const batchBytes = projection.batchBytes ?? BATCH_BYTES;
  const concurrently = projection.partitionsConcurrently ?? PARTITIONS_CONCURRENTLY;
  const consumer: Consumer = options.kafka.consumer({
    groupId,
    readUncommitted: false,
    // Bounded fetches keep a projector's memory low (one batch per partition in flight), a fetch
    // holding about as many batches as are applied at once.
    maxBytesPerPartition: batchBytes,
    maxBytes: batchBytes * concurrently,
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  /**
   * Each partition's batch being applied. Its handler has returned, so kafkajs fetches on while
   * the store works; the partition's next batch is decoded meanwhile and applied after it.
   */
  const inFlight = new Map<string, Promise<void>>();
  let failure: { error: unknown } | undefined;
  let stopping = false;
  let reportFailure: (error: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    reportFailure = resolve;
  });
  // Read after an await: the previous batch's apply may have failed meanwhile.
  const failureNow = () => failure;
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    log.error({ err: error, projection: projection.name }, 'batch could not be applied; stopping');
    reportFailure(error);
  };
  /**
   * Kafka's offset moves only once a batch is applied: a restart reads it again otherwise. Applied
   * offsets are committed together at most once a second (a batch replayed after a crash changes
   * nothing), not one request per batch.
   */
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  let commitTimer: NodeJS.Timeout | undefined;
  const commitApplied = async () => {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    if (toCommit.size === 0) return;
    const offsets = [...toCommit.values()];
    toCommit.clear();
    await consumer
      .commitOffsets(offsets)
      .catch((error: unknown) =>
        log.warn({ err: error, offsets }, 'offset commit failed; those batches may be read again'),
      );
  };
  const commit = (topic: string, partition: number, nextOffset: number) => {
    toCommit.set(`${topic}:${partition}`, { topic, partition, offset: String(nextOffset) });
    commitTimer ??= setTimeout(() => void commitApplied(), COMMIT_INTERVAL_MS);
  };

  const applyAndAcknowledge = async (
    topic: string,
    partition: number,
    events: readonly ProjectedEvent[],
    messages: KafkaMessage[],
    nextOffset: number,
    started: number,
    spans: Span[],
  ) => {
    let count: number;
    try {
      count = await applyBatch(topic, partition, events, nextOffset);
    } catch (error) {
      if (isTransient(error)) throw error;
      log.warn({ err: error, topic, partition }, 'batch failed; applying one by one');
      count = await applyOneByOne(topic, partition, events, messages);
    }
    endSpans(spans);
    applied += count;
    batchesDone += 1;
    options.onBatch?.(count, started);
    positions.set(`${topic}:${partition}`, nextOffset);
    commit(topic, partition, nextOffset);
    const labels = {
      projection: projection.name,
      generation: String(generation.number),
      topic,
      partition: String(partition),
    };
    metrics.applied.inc(labels, count);
    metrics.batchSeconds.observe(
      { projection: projection.name },
      (performance.now() - started) / 1000,
    );
    const last = events.at(-1);
    if (last) {
      metrics.delaySeconds.observe(
        { projection: projection.name },
        Math.max(0, (Date.now() - Number(last.value.metadata.occurredAt)) / 1000),
      );
    }
  };

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrently,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale() || stopping || batch.messages.length === 0) return;
      if (failure) throw failure.error;
      const started = performance.now();
      const { topic, partition } = batch;
      const key = `${topic}:${partition}`;
      const spans: Span[] = [];
      // Decoded while the partition's previous batch is still being applied.
      const { events, poison } = await decode(topic, partition, batch.messages, spans);
      await inFlight.get(key);
      const late = failureNow();
      if (late || stopping) {
        endSpans(spans, late?.error ?? new Error('stopped'));
        if (late) throw late.error;
        return;
      }
      if (poison.length > 0) {
        await deadLetters.write(poison);
        metrics.deadLetters.inc({ projection: projection.name, topic }, poison.length);
        log.warn({ topic, partition, count: poison.length }, 'undecodable records dead-lettered');
      }
      const nextOffset = Number(batch.lastOffset()) + 1;
      const applying = applyAndAcknowledge(
        topic,
        partition,
        events,
        batch.messages,
        nextOffset,
        started,
        spans,
      ).catch((error: unknown) => {
        endSpans(spans, error);
        fail(error);
      });
      inFlight.set(key, applying);
      // The next fetch reads on while this batch is applied; Kafka's offset moves once it is.
      resolveOffset(batch.lastOffset());
      await heartbeat();
    },
  });

  return {
    groupId,
    consumer,
    topics,
    applied: () => applied,
    batchesDone: () => batchesDone,
    failed,
    async lag() {
      let lag = 0;
      for (const topic of topics) {
        for (const { partition, high } of await options.admin.fetchTopicOffsets(topic)) {
          const position = positions.get(`${topic}:${partition}`) ?? 0;
          // The last record of a transactional partition is its commit marker, never delivered.
          lag += Math.max(0, Number(high) - position - 1);
        }
      }
      return lag;
    },
    async stop() {
      stopping = true;
      await Promise.all(inFlight.values());
      await commitApplied();
      await consumer.disconnect();
    },
  };
}

/**
 * The span of an event in this projection, child of the trace its record carries: started when
 * the batch is decoded, ended once it is applied. Records without a trace (tracing off) get none.
 */
function eventSpan(
  projection: string,
  type: string,
  message: KafkaMessage,
  spans: Span[],
): { trace?: Context } {
  if (!message.headers?.traceparent) return {};
  const parent = contextFrom(message.headers, ROOT_CONTEXT);
  const span = tracer().startSpan(
    `project ${projection} ${type}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'parley.projection': projection,
        'messaging.kafka.offset': Number(message.offset),
      },
    },
    parent,
  );
  spans.push(span);
  return { trace: trace.setSpan(parent, span) };
}

function endSpans(spans: readonly Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}
