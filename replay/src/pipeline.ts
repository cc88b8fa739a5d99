/**
 * Between the Kafka consumer and the sink: the record pipeline (record-pipeline.ts) in the
 * replay's own thread, or in a worker thread. In a worker, the consumer fetches the next batches
 * while the last ones are decoded and written, so a replay uses two cores: decoding, redacting
 * and serializing cost twice what fetching does (ADR 0027). Either way, records are written in
 * the order they are handed over.
 */
import { Worker } from 'node:worker_threads';
import type { KafkaMessage } from '@parley/platform/kafka';
import type { SchemaRegistryOptions } from '@parley/platform/schema-registry';
import type { SchemaSet } from '@parley/schemas/avro/schema-set';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { ReplayOptions } from './options.ts';
import { packBatch, type RawBatch, transferList } from './raw-batch.ts';
import {
  createRecordPipeline,
  type ReplayCounts,
  UnreadableRecordError,
} from './record-pipeline.ts';
import { rawRecordOf } from './replayed-record.ts';
import { type Formatted, formattingSink, type Sink, transferablesOf } from './sinks.ts';

export interface Pipeline {
  /** Hands a partition's fetched records over; resolves when more may be handed over. */
  push(partition: number, messages: readonly KafkaMessage[]): Promise<void>;
  /** The counts as last known (a worker's lag a batch or two behind). */
  counts(): ReplayCounts;
  /** `count` records were written: nothing more needs to be handed over. */
  enough(): boolean;
  /** Resolves when `count` records were written (never without a count). */
  readonly whenEnough: Promise<void>;
  /** Waits for what was handed over, closes the output, gives the final counts. */
  close(): Promise<ReplayCounts>;
}

type Unreadable = (position: string, error: Error) => void;

/** A promise and the function that resolves it (Promise.withResolvers is Node 22). */
function signal(): [Promise<void>, () => void] {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return [promise, resolve];
}

export function inThreadPipeline(
  topic: string,
  options: ReplayOptions,
  deps: { serde: AvroSerde; schemas: SchemaSet },
  sink: Sink,
  onUnreadable?: Unreadable,
): Pipeline {
  const pipeline = createRecordPipeline(topic, options, { ...deps, sink }, onUnreadable);
  const [whenEnough, enoughNow] = signal();
  return {
    async push(partition, messages) {
      await pipeline.handle(partition, messages.map(rawRecordOf));
      if (pipeline.enough()) enoughNow();
    },
    counts: () => pipeline.counts,
    enough: () => pipeline.enough(),
    whenEnough,
    close: async () => {
      await sink.close();
      return pipeline.counts;
    },
  };
}

/** What the worker is started with. */
export interface WorkerSetup {
  topic: string;
  options: ReplayOptions;
  registry: SchemaRegistryOptions;
}
export type ToWorker =
  | { kind: 'batch'; batch: RawBatch }
  | { kind: 'formatted'; formatted: Formatted }
  | { kind: 'close' };
export type ToMain =
  | { kind: 'handled'; counts: ReplayCounts; enough: boolean }
  | { kind: 'closed'; counts: ReplayCounts }
  | { kind: 'unreadable'; position: string; message: string }
  | {
      kind: 'failed';
      message: string;
      code: 'EPIPE' | undefined;
      position: string | undefined;
      cause: string | undefined;
    };

/**
 * Slices (replay.ts hands over a thousand records at a time) not yet handled: enough to keep the
 * worker busy while the consumer fetches the next batch, a few megabytes in memory.
 */
const IN_FLIGHT = 16;
/** Slices formatted here that may wait for the worker to write them (memory, not speed). */
const BEYOND = 8;
/** The worker's heap: it holds the slices in flight and a Parquet row group at a time. */
const WORKER_HEAP_MB = 48;
const WORKER_YOUNG_MB = 48;

function errorOf(message: Extract<ToMain, { kind: 'failed' }>): Error {
  if (message.position !== undefined) {
    return new UnreadableRecordError(message.position, new Error(message.cause));
  }
  return Object.assign(new Error(message.message), message.code ? { code: message.code } : {});
}

/**
 * The worker's entry beside this file: the built .js, or, run from source, the .ts through tsx
 * (a worker does not inherit the `--import tsx` of its process).
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./pipeline-worker.js', import.meta.url);
  const entry = new URL('./pipeline-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Counts of two pipelines together. */
function sum(a: ReplayCounts, b: ReplayCounts): ReplayCounts {
  const byType = { ...a.byType };
  for (const [type, n] of Object.entries(b.byType)) byType[type] = (byType[type] ?? 0) + n;
  return {
    read: a.read + b.read,
    matched: a.matched + b.matched,
    written: a.written + b.written,
    skipped: a.skipped + b.skipped,
    byType,
  };
}

/**
 * The pipeline in a worker thread that writes the output the options name (a file or stdout).
 * When the worker is behind, this thread formats the next slices itself (a text format's bytes,
 * or Parquet rows that the worker only encodes) and the worker writes them in their place, so
 * neither thread waits for the other (not with `--count`, which one thread counts, nor when
 * following, where slices are small).
 */
export function workerPipeline(
  topic: string,
  options: ReplayOptions,
  deps: { serde: AvroSerde; schemas: SchemaSet; registry: SchemaRegistryOptions },
  inFlightMost = IN_FLIGHT,
  onUnreadable?: Unreadable,
): Pipeline {
  const { registry } = deps;
  const formatting =
    options.count === undefined && !options.follow
      ? formattingSink(options.format, options.fields)
      : undefined;
  const here = formatting
    ? createRecordPipeline(topic, options, { ...deps, sink: formatting }, onUnreadable)
    : undefined;
  const setup: WorkerSetup = { topic, options, registry };
  const worker = new Worker(workerEntry(), {
    workerData: setup,
    resourceLimits: {
      maxOldGenerationSizeMb: WORKER_HEAP_MB,
      maxYoungGenerationSizeMb: WORKER_YOUNG_MB,
    },
  });
  let counts: ReplayCounts = { read: 0, matched: 0, written: 0, skipped: 0, byType: {} };
  let enough = false;
  const [whenEnough, enoughNow] = signal();
  /** The first failure: later pushes throw it, and so does the close. */
  let failure: Error | undefined;
  /** The batches' answers awaited, in order. */
  const waiting: Array<{ resolve: () => void; reject: (error: Error) => void; raw: boolean }> = [];
  /** Raw slices the worker has in hand: what it has to do before it would wait. */
  let rawInHand = 0;
  let closing = false;
  let closed: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const whenClosed = new Promise<void>((resolve, reject) => {
    closed = { resolve, reject };
  });
  whenClosed.catch(() => {});
  /** A failed batch still lets the worker close the output; a dead worker cannot. */
  const fail = (error: Error, { dead = false } = {}) => {
    failure ??= error;
    for (const w of waiting.splice(0)) w.reject(failure);
    if (dead || closing) closed?.reject(error);
  };
  worker.on('message', (message: ToMain) => {
    switch (message.kind) {
      case 'unreadable':
        onUnreadable?.(message.position, new Error(message.message));
        return;
      case 'failed':
        return fail(errorOf(message));
      case 'handled': {
        counts = message.counts;
        enough = message.enough;
        if (enough) enoughNow();
        const answered = waiting.shift();
        if (answered?.raw) rawInHand--;
        answered?.resolve();
        return;
      }
      case 'closed':
        counts = message.counts;
        closed?.resolve();
    }
  });
  worker.on('error', (error) => fail(error, { dead: true }));
  worker.on('exit', (code) =>
    fail(new Error(`the replay's worker thread exited (${code})`), { dead: true }),
  );
  /** Answers to the batches handed over, oldest first (a rejection waits for its await). */
  const inFlight: Promise<void>[] = [];
  const answer = (raw: boolean) => {
    if (raw) rawInHand++;
    const handled = failure
      ? Promise.reject(failure)
      : new Promise<void>((resolve, reject) => waiting.push({ resolve, reject, raw }));
    handled.catch(() => {});
    return handled;
  };

  return {
    async push(partition, messages) {
      if (failure) throw failure;
      // The answers not yet come (they come in order: the settled ones lead).
      const waitWhile = async (most: number) => {
        while (waiting.length >= most || inFlight.length > waiting.length) await inFlight.shift();
      };
      if (here && formatting && rawInHand >= inFlightMost) {
        await here.handle(partition, messages.map(rawRecordOf));
        const formatted = formatting.take();
        worker.postMessage(
          { kind: 'formatted', formatted } satisfies ToWorker,
          transferablesOf(formatted),
        );
        inFlight.push(answer(false));
        // Formatted slices are quick to write, but not free: a bound all the same.
        await waitWhile(inFlightMost + BEYOND);
        return;
      }
      const batch = packBatch(partition, messages);
      worker.postMessage({ kind: 'batch', batch } satisfies ToWorker, transferList(batch));
      inFlight.push(answer(true));
      // Formatting here, the next slice does not wait for the worker.
      await waitWhile(here ? inFlightMost + BEYOND : inFlightMost);
    },
    counts: () => (here ? sum(counts, here.counts) : counts),
    enough: () => enough,
    whenEnough,
    async close() {
      try {
        await Promise.allSettled(inFlight.splice(0));
        closing = true;
        worker.postMessage({ kind: 'close' } satisfies ToWorker);
        await whenClosed;
        if (failure) throw failure;
        return here ? sum(counts, here.counts) : counts;
      } finally {
        await worker.terminate();
      }
    },
  };
}
