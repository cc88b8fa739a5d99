/**
 * Keeps each configured projection running on its current generation: creates generation 1 on
 * first start, starts a projection again (with backoff) when its consumer stops on an error, and
 * when a rebuild moves the pointer, stops the old generation's consumer and starts the new one's
 * (which resumes where the rebuild left off).
 */
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { pointerKey } from '@parley/platform/read-model-names';
import {
  type ConsumerStatus,
  type SupervisedConsumer,
  superviseConsumer,
} from '@parley/platform/supervised-consumer';
import { currentGeneration, ensureReadSchema, switchGeneration } from './generations.ts';
import { groupOf, type Projection } from './projection.ts';
import { groupIdOf, type RunnerOptions, type RunningProjection, runProjection } from './runner.ts';

export interface SupervisorOptions extends Omit<RunnerOptions, 'projection' | 'generation'> {
  projections: readonly Projection[];
  /** From TOPIC_PREFIX (namespaceOf); empty in production. */
  namespace: string;
  log: Logger;
  pollMs: number;
  /** Where the consumers' up and restart metrics go. */
  registry: Registry;
  /** First and longest wait before a stopped projection is started again. */
  restartBackoffMs?: { initial: number; max: number };
}

type Running = RunningProjection & { generation: number };

/** One projection's consumer group on its current generation, and the topics it reads. */
export interface WatchedGroup {
  readonly projection: string;
  readonly group: string;
  readonly topics: readonly string[];
}

export interface Supervisor {
  running(): ReadonlyMap<string, Running>;
  /** Each projection's state (running, restarting...), for readiness. */
  statuses(): ConsumerStatus[];
  /** The consumer groups of the current generations, whether their consumers run or not. */
  groups(): WatchedGroup[];
  stop(): Promise<void>;
}

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { stores, log } = options;
  await ensureReadSchema(stores.pool);
  const slots = new Map<string, SupervisedConsumer<Running>>();
  const groups = new Map<string, WatchedGroup>();

  const startGeneration = async (projection: Projection): Promise<Running> => {
    const key = pointerKey(options.namespace, projection.name);
    const pointer = await currentGeneration(stores.pool, key);
    const number = pointer ?? 1;
    const generation = { projection: key, number, namespace: options.namespace };
    await projection.prepare(stores, generation);
    if (pointer === undefined) await switchGeneration(stores.pool, key, 1);
    groups.set(projection.name, {
      projection: projection.name,
      group: groupIdOf(projection, generation),
      topics: projection.topics(options.names),
    });
    const run = await runProjection({ ...options, projection, generation });
    log.info({ projection: projection.name, generation: number }, 'projection running');
    return Object.assign(run, { generation: number });
  };

  const supervise = (projection: Projection) =>
    slots.set(
      projection.name,
      superviseConsumer({
        name: groupOf(projection),
        start: () => startGeneration(projection),
        log,
        metrics: options.registry,
        ...(options.restartBackoffMs ? { backoffMs: options.restartBackoffMs } : {}),
      }),
    );

  for (const projection of options.projections) supervise(projection);

  let stopped = false;
  const follow = async () => {
    for (const projection of options.projections) {
      const slot = slots.get(projection.name);
      const run = slot?.current();
      const pointer = await currentGeneration(
        stores.pool,
        pointerKey(options.namespace, projection.name),
      );
      if (!slot || !run || pointer === undefined || pointer === run.generation) continue;
      log.info(
        { projection: projection.name, from: run.generation, to: pointer },
        'generation moved',
      );
      await slot.stop();
      slots.delete(projection.name);
      if (!stopped) supervise(projection);
    }
  };
  // One check at a time: a switch (stop one consumer, start another) outlasts the interval.
  let checking: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (checking) return;
    checking = follow()
      .catch((error: unknown) => log.error({ err: error }, 'generation check failed'))
      .finally(() => {
        checking = undefined;
      });
  }, options.pollMs);

  return {
    running: () =>
      new Map(
        [...slots].flatMap(([name, slot]) => {
          const run = slot.current();
          return run ? [[name, run] as const] : [];
        }),
      ),
    statuses: () => [...slots.values()].map((slot) => slot.status()),
    groups: () => [...groups.values()],
    async stop() {
      stopped = true;
      clearInterval(timer);
      await checking;
      await Promise.all([...slots.values()].map((slot) => slot.stop()));
      slots.clear();
    },
  };
}
