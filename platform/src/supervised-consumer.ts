/**
 * Keeps a Kafka consumer running. kafkajs restarts a consumer itself after retriable errors, but
 * a non-retriable one (a TypeError in a handler, a header it cannot encode) stops it for good
 * while the process still looks healthy. Here a consumer that stopped is made again from its
 * factory, with jittered exponential backoff, and its state is a readiness check and a metric: a
 * consumer that cannot make progress is visible, never silent.
 */
import type { Consumer } from 'kafkajs';
import type { HealthCheck } from './health.ts';
import type { Logger } from './logger.ts';
import { Counter, Gauge, type Registry } from './metrics.ts';

/** What a consumer factory returns: the consumer (for its events) and how to stop all of it. */
export interface ConsumerHandle {
  readonly consumer: Consumer;
  stop(): Promise<void>;
  /**
   * For a consumer that finishes its records after its handler returned: resolves with the error
   * when that work fails, and the handle is then stopped and started again like after a crash.
   */
  readonly failed?: Promise<unknown>;
  /**
   * Batches finished so far, for such a consumer (one with nothing new in it too: it was read
   * again after a crash): a finished batch handler is then no progress until this count has grown.
   */
  batchesDone?(): number;
}

export type ConsumerState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface ConsumerStatus {
  readonly name: string;
  readonly state: ConsumerState;
  /** Crashes since the last batch it finished: a consumer that keeps crashing makes no progress. */
  readonly crashesWithoutProgress: number;
  readonly lastError?: string;
  /** When the state last changed (ms since the epoch). */
  readonly since: number;
}

export interface SupervisedConsumer<H extends ConsumerHandle> {
  readonly name: string;
  /** The running handle, if one is running now. */
  current(): H | undefined;
  status(): ConsumerStatus;
  /** Resolves once the consumer has joined its group (or rejects when stopped first). */
  running(): Promise<H>;
  stop(): Promise<void>;
}

export interface SuperviseOptions<H extends ConsumerHandle> {
  /** How ops know the consumer: its group without generation, e.g. `projector.users`. */
  name: string;
  start: () => Promise<H>;
  log: Logger;
  metrics: Registry;
  /** First and longest wait before starting again. */
  backoffMs?: { initial: number; max: number };
  /**
   * How long a consumer started again must run, without being handed a batch, to count as
   * caught up (30 s by default): after an outage with nothing new to read, no batch would ever
   * show its progress.
   */
  quietMs?: number;
}

/** Crashes in a row, without a finished batch between them, before a consumer counts as failing. */
export const FAILING_AFTER_CRASHES = 3;

const metricsByRegistry = new WeakMap<Registry, ReturnType<typeof createMetrics>>();

function createMetrics(registry: Registry) {
  return {
    up: new Gauge({
      name: 'kafka_consumer_up',
      help: '1 while the consumer is joined to its group and consuming, 0 otherwise',
      labelNames: ['consumer'],
      registers: [registry],
    }),
    restarts: new Counter({
      name: 'kafka_consumer_restarts_total',
      help: 'Times a consumer stopped by an error was started again',
      labelNames: ['consumer'],
      registers: [registry],
    }),
  };
}

function consumerMetrics(registry: Registry) {
  let metrics = metricsByRegistry.get(registry);
  if (!metrics) {
    metrics = createMetrics(registry);
    metricsByRegistry.set(registry, metrics);
  }
  return metrics;
}

const describe = (error: unknown) =>
  (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);

export function superviseConsumer<H extends ConsumerHandle>(
  options: SuperviseOptions<H>,
): SupervisedConsumer<H> {
  const { name, log } = options;
  const backoff = options.backoffMs ?? { initial: 1_000, max: 30_000 };
  const quietMs = options.quietMs ?? 30_000;
  const metrics = consumerMetrics(options.metrics);
  let state: ConsumerState = 'starting';
  let since = Date.now();
  let crashes = 0;
  let attempt = 0;
  let lastError: string | undefined;
  let handle: H | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let launching: Promise<void> | undefined;
  let waiters: Array<{ resolve: (h: H) => void; reject: (e: Error) => void }> = [];
  /**
   * What the running handle had done at its last crash, and the batches with records it was
   * handed since (a batch of transaction markers only is no work).
   */
  let sinceCrash = { done: 0, batches: 0 };

  const progressed = () => {
    crashes = 0;
    attempt = 0;
  };
  /**
   * Progress not seen at a batch's end: work a handle finished after its handler returned; or a
   * consumer started again that has run for `quietMs` without a batch of records to do: caught
   * up (one that crashes on a batch is handed it at once). The latter says nothing about the
   * backoff, which stays where it was: a consumer that fails some other way, more slowly than
   * that, still waits longer each time.
   */
  const noteLateProgress = () => {
    if (crashes === 0 || state !== 'running' || !handle) return;
    const done = handle.batchesDone?.();
    if (done !== undefined && done > sinceCrash.done) progressed();
    else if (sinceCrash.batches === 0 && Date.now() - since >= quietMs) crashes = 0;
  };

  const setState = (next: ConsumerState) => {
    if (next !== state) since = Date.now();
    state = next;
    metrics.up.set({ consumer: name }, next === 'running' ? 1 : 0);
    if (next === 'running' && handle) {
      const ready = handle;
      for (const w of waiters) w.resolve(ready);
      waiters = [];
    }
  };
  setState('starting');

  const scheduleRestart = (error: unknown) => {
    if (stopped) return;
    crashes += 1;
    lastError = describe(error);
    setState('restarting');
    const ceiling = Math.min(backoff.max, backoff.initial * 2 ** attempt);
    attempt += 1;
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    log.error(
      { err: error, consumer: name, crashes, retryInMs: delay },
      'consumer stopped; starting it again',
    );
    clearTimeout(timer);
    timer = setTimeout(() => {
      metrics.restarts.inc({ consumer: name });
      void relaunch();
    }, delay);
  };

  const watch = (h: H) => {
    const { consumer } = h;
    // Progress is more than the handle had done at its last crash.
    sinceCrash = { done: 0, batches: 0 };
    // After kafkajs restarted it itself, it runs again once it has joined again.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (handle === h) setState('running');
    });
    consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
      if (handle === h && payload.batchSize > 0) sinceCrash.batches += 1;
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, () => {
      if (handle !== h) return;
      if (h.batchesDone && h.batchesDone() <= sinceCrash.done) return;
      progressed();
    });
    // Stopped for good (by kafkajs, or by the handle's own work): made again from the factory.
    const restartAfter = (error: unknown) => {
      handle = undefined;
      void h.stop().catch(() => undefined);
      scheduleRestart(error);
    };
    void h.failed?.then((error) => {
      if (handle === h) restartAfter(error);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (handle !== h) return;
      sinceCrash = { done: h.batchesDone?.() ?? 0, batches: 0 };
      if (payload.restart) {
        // kafkajs starts it again itself; it counts as running once it has joined again.
        crashes += 1;
        lastError = describe(payload.error);
        setState('restarting');
        log.warn({ err: payload.error, consumer: name, crashes }, 'consumer restarting');
        return;
      }
      restartAfter(payload.error);
    });
  };

  const relaunch = async () => {
    if (stopped || launching) return;
    launching = (async () => {
      try {
        const h = await options.start();
        if (stopped) {
          await h.stop().catch(() => undefined);
          return;
        }
        handle = h;
        watch(h);
        // kafkajs's run() resolves once the consumer has joined its group.
        setState('running');
      } catch (error) {
        scheduleRestart(error);
      }
    })().finally(() => {
      launching = undefined;
    });
    await launching;
  };

  void relaunch();

  return {
    name,
    current: () => handle,
    status: () => {
      noteLateProgress();
      return { name, state, crashesWithoutProgress: crashes, lastError, since };
    },
    running: () =>
      state === 'running' && handle
        ? Promise.resolve(handle)
        : new Promise<H>((resolve, reject) => {
            if (stopped) reject(new Error(`${name} is stopped`));
            else waiters.push({ resolve, reject });
          }),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await launching;
      const h = handle;
      handle = undefined;
      setState('stopped');
      for (const w of waiters) w.reject(new Error(`${name} stopped`));
      waiters = [];
      await h?.stop();
    },
  };
}

/** Why a consumer is not doing its work, or undefined when it is. */
export function consumerProblem(status: ConsumerStatus): string | undefined {
  if (status.state === 'running' && status.crashesWithoutProgress < FAILING_AFTER_CRASHES) {
    return undefined;
  }
  if (status.state === 'running') {
    return `${status.name} crashed ${status.crashesWithoutProgress} times without progress (${status.lastError ?? 'no error'})`;
  }
  const reason = status.lastError ? `: ${status.lastError}` : '';
  return `${status.name} is ${status.state}${reason}`;
}

/** A readiness check failing while any of these consumers is not running or makes no progress. */
export function consumersCheck(
  name: string,
  statuses: () => readonly ConsumerStatus[],
): HealthCheck {
  return {
    name,
    check: async () => {
      const problems = statuses().flatMap((s) => consumerProblem(s) ?? []);
      if (problems.length > 0) throw new Error(problems.join('; '));
    },
  };
}
