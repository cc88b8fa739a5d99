/**
 * The replay itself, as a library function (the CLI is one caller): reads a topic read_committed
 * between two positions per partition, decodes each record through the registry, removes
 * personal data, filters, and writes what matches to a sink. Partitions are read one after the
 * other in order, so the same replay gives the same output byte for byte; `follow` reads them all
 * at once and goes on until stopped. Nothing is committed: the consumer group is a throwaway one,
 * deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from '@parley/platform/kafka';
import type { SchemaRegistryOptions } from '@parley/platform/schema-registry';
import type { SchemaSet } from '@parley/schemas/avro/schema-set';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import { CONTEXTS, type topicNames } from '@parley/schemas/topics/catalogue';
import { type Position, type ReplayOptions, UsageError } from './options.ts';
import { inThreadPipeline, type Pipeline, workerPipeline } from './pipeline.ts';
import type { ReplayCounts } from './record-pipeline.ts';
import type { Sink } from './sinks.ts';

export { UnreadableRecordError } from './record-pipeline.ts';

export interface ReplayDependencies {
  kafka: Kafka;
  admin: Admin;
  serde: AvroSerde;
  schemas: SchemaSet;
  names: typeof topicNames;
}

export interface ReplayProgress {
  read: number;
  written: number;
  /** Records between the start and the end (unknown when following). */
  total: number | undefined;
  recordsPerSecond: number;
  etaSeconds: number | undefined;
}

export interface ReplaySummary extends ReplayCounts {
  topic: string;
  /** From the first record read to the end. */
  seconds: number;
  /** Stopped by a signal before its end (a followed replay always is). */
  interrupted: boolean;
}

export interface ReplayHooks {
  onProgress?: (progress: ReplayProgress) => void;
  /** An unreadable record (reported whether it is skipped or stops the run). */
  onUnreadable?: (position: string, error: Error) => void;
  /** Aborting ends a replay (a followed one) cleanly, with its summary. */
  signal?: AbortSignal;
}

/** A context's name (its events topic) or a topic of the catalogue that holds Avro records. */
export function resolveTopic(target: string, names: typeof topicNames): string {
  const context = CONTEXTS.find((c) => c.name === target);
  if (context) return names.events(context);
  const topics = CONTEXTS.flatMap((c) => [names.events(c), names.commands(c)]);
  if (topics.includes(target)) return target;
  throw new UsageError(
    `unknown topic or context '${target}'; one of: ${[...CONTEXTS.map((c) => c.name), ...topics].join(', ')}`,
  );
}

interface PartitionRange {
  partition: number;
  start: number;
  /** Excluded; Infinity when following. */
  end: number;
}

async function offsetsAt(admin: Admin, topic: string, at: number) {
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, at);
  return new Map(found.map((o) => [o.partition, Number(o.offset)]));
}

/** Each partition's range from the options, against the topic's offsets now. */
export async function partitionRanges(
  admin: Admin,
  topic: string,
  options: Pick<ReplayOptions, 'from' | 'to' | 'partitions' | 'follow'>,
): Promise<PartitionRange[]> {
  const heads = await admin.fetchTopicOffsets(topic);
  const known = new Set(heads.map((h) => h.partition));
  for (const p of options.partitions ?? []) {
    if (!known.has(p)) throw new UsageError(`--partitions: ${topic} has no partition ${p}`);
  }
  for (const position of [options.from, options.to]) {
    if (position.kind !== 'offsets') continue;
    for (const p of position.offsets.keys()) {
      if (!known.has(p)) throw new UsageError(`${topic} has no partition ${p}`);
    }
  }
  const byTime = async (position: Position) =>
    position.kind === 'time' ? await offsetsAt(admin, topic, position.at) : undefined;
  const [fromTimes, toTimes] = await Promise.all([byTime(options.from), byTime(options.to)]);
  const selected = heads
    .filter((h) => !options.partitions || options.partitions.includes(h.partition))
    .sort((a, b) => a.partition - b.partition);
  return selected.map(({ partition, low, high }) => {
    const [lo, hi] = [Number(low), Number(high)];
    const at = (position: Position, times: Map<number, number> | undefined, edge: number) => {
      if (position.kind === 'offsets') return position.offsets.get(partition) ?? edge;
      const found = times?.get(partition);
      return found === undefined || found < 0 ? (position.kind === 'time' ? hi : edge) : found;
    };
    const start = Math.max(lo, at(options.from, fromTimes, lo));
    const end = options.follow
      ? Number.POSITIVE_INFINITY
      : Math.min(hi, at(options.to, toTimes, hi));
    return { partition, start, end: Math.max(start, end) };
  });
}

/**
 * Where the records go: a sink made in this thread (`sink`), or the file or stdout the options
 * name, written by a worker thread with its own registry client (`worker`), so that fetching and
 * writing use a core each.
 */
export type ReplayOutput = ({ sink: () => Sink } | { worker: SchemaRegistryOptions }) & {
  /** Records handed to the pipeline at a time (tests make it small). */
  slice?: number;
  /** Slices a worker may have in hand before this thread formats the next itself. */
  inFlight?: number;
};

/**
 * Replays what the options say into the output, once the topic and the positions are known to be
 * good (so a mistake never truncates an existing output file), closing it on every path.
 */
export async function replay(
  options: ReplayOptions,
  deps: ReplayDependencies,
  output: ReplayOutput,
  hooks: ReplayHooks = {},
): Promise<ReplaySummary> {
  const topic = resolveTopic(options.target, deps.names);
  const ranges = await partitionRanges(deps.admin, topic, options);
  const pipeline =
    'sink' in output
      ? inThreadPipeline(topic, options, deps, output.sink(), hooks.onUnreadable)
      : workerPipeline(
          topic,
          options,
          { serde: deps.serde, schemas: deps.schemas, registry: output.worker },
          output.inFlight,
          hooks.onUnreadable,
        );
  let summary: ReplaySummary;
  try {
    summary = await replayInto(
      options,
      deps,
      pipeline,
      hooks,
      topic,
      ranges,
      output.slice ?? SLICE,
    );
  } catch (error) {
    // What stopped the replay is the error to tell, not what closing the output then says.
    await pipeline.close().catch(() => {});
    throw error;
  }
  return { ...summary, ...(await pipeline.close()) };
}

/** Records handed to the pipeline at a time. */
const SLICE = 1000;

async function replayInto(
  options: ReplayOptions,
  deps: ReplayDependencies,
  pipeline: Pipeline,
  hooks: ReplayHooks,
  topic: string,
  ranges: readonly PartitionRange[],
  slice: number,
): Promise<ReplaySummary> {
  const summary: ReplaySummary = {
    topic,
    ...pipeline.counts(),
    seconds: 0,
    interrupted: false,
  };
  const total = options.follow ? undefined : ranges.reduce((n, r) => n + (r.end - r.start), 0);
  /** Per partition: the next offset to read (past markers too); where a rejoin starts again. */
  const reached = new Map(ranges.map((r) => [r.partition, r.start]));
  const pending = ranges.filter((r) => r.end > r.start).map((r) => r.partition);
  const enough = () => pipeline.enough();
  if ((pending.length === 0 && !options.follow) || options.count === 0) return summary;

  /** Rates count from the first record, not from joining the group. */
  let started = 0;
  const progress = () => {
    const { read, written } = pipeline.counts();
    const seconds = started === 0 ? 0.001 : Math.max(0.001, (performance.now() - started) / 1000);
    const rate = read / seconds;
    hooks.onProgress?.({
      read,
      written,
      total,
      recordsPerSecond: Math.round(rate),
      etaSeconds: total !== undefined && rate > 0 ? Math.round((total - read) / rate) : undefined,
    });
  };

  const groupId = `parley-replay-${randomUUID()}`;
  const consumer = deps.kafka.consumer({
    groupId,
    readUncommitted: false,
    // One partition at a time: large fetches keep the wait per record small.
    maxBytesPerPartition: 16 * 1024 * 1024,
    maxBytes: 16 * 1024 * 1024,
  });
  let finish: (error?: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === undefined ? resolve() : reject(error));
  });
  const byPartition = new Map(ranges.map((r) => [r.partition, r]));
  const all = ranges.map((r) => r.partition);
  /** Reading one partition at a time (not following): the one being read. */
  let current = options.follow ? undefined : pending[0];
  const pauseAllBut = (keep: readonly number[]) => {
    const others = all.filter((p) => !keep.includes(p));
    if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    if (keep.length > 0) consumer.resume([{ topic, partitions: [...keep] }]);
  };
  /** Notes how far a partition was read (markers included); moves on when it reached its end. */
  const advance = (partition: number, next: number) => {
    // Only the partition being read counts: a batch of another was left unread.
    const range = byPartition.get(partition);
    if (options.follow || !range || partition !== current) return;
    reached.set(partition, Math.max(reached.get(partition) ?? 0, next));
    if ((reached.get(partition) ?? 0) < range.end) return;
    pending.shift();
    current = pending[0];
    if (current === undefined) finish();
    else pauseAllBut([current]);
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic) advance(payload.partition, Number(payload.lastOffset) + 1);
  });
  /** Nothing is committed: after any (re)join, each partition goes back to where it was. */
  const position = () => {
    for (const r of ranges) {
      consumer.seek({ topic, partition: r.partition, offset: String(reached.get(r.partition)) });
    }
    pauseAllBut(options.follow ? all : current === undefined ? [] : [current]);
  };
  consumer.on(consumer.events.GROUP_JOIN, () => {
    try {
      position();
    } catch (error) {
      finish(error);
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) finish(payload.error);
  });
  /**
   * A batch's records up to the range's end, each once (a refetch after a rejoin skips), handed
   * over a slice at a time with a heartbeat between: a slow reader of the output (a pager) must
   * not cost the group its membership.
   */
  const readBatch = async (
    partition: number,
    range: PartitionRange,
    messages: readonly KafkaMessage[],
    resolveOffset: (offset: string) => void,
    heartbeat: () => Promise<void>,
  ) => {
    const from = reached.get(partition) ?? range.start;
    const fresh = messages.filter((m) => {
      const offset = Number(m.offset);
      return offset >= from && offset < range.end;
    });
    for (let i = 0; i < fresh.length && !enough(); i += slice) {
      if (started === 0) started = performance.now();
      const some = fresh.slice(i, i + slice);
      await pipeline.push(partition, some);
      const last = some[some.length - 1] as KafkaMessage;
      reached.set(partition, Number(last.offset) + 1);
      resolveOffset(last.offset);
      await heartbeat();
    }
  };
  const onAbort = () => {
    summary.interrupted = true;
    finish();
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  // Also when no record follows the last one written (a followed topic gone quiet).
  void pipeline.whenEnough.then(() => finish());
  const ticker = setInterval(progress, 1000);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const partition = batch.partition;
        const range = byPartition.get(partition);
        if (!isRunning() || isStale()) return;
        // Not asked for, or fetched before its turn: left unresolved (fetched again in its turn).
        if (!range || (!options.follow && partition !== current)) {
          consumer.pause([{ topic, partitions: [partition] }]);
          return;
        }
        try {
          await readBatch(partition, range, batch.messages, resolveOffset, heartbeat);
        } catch (error) {
          finish(error);
          return;
        }
        if (enough()) return finish();
        await heartbeat();
      },
    });
    position();
    await finished;
  } finally {
    clearInterval(ticker);
    hooks.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => {});
    await deps.admin.deleteGroups([groupId]).catch(() => {});
    progress();
  }
  if (started > 0) summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  return { ...summary, ...pipeline.counts() };
}
