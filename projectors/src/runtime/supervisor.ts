/**
 * Keeps each configured projection running on its current generation: creates generation 1 on
 * first start, and when a rebuild moves the pointer, stops the old generation's consumer and
 * starts the new one's (which resumes where the rebuild left off).
 */
import type { Logger } from '@parley/platform/logger';
import { currentGeneration, ensureReadSchema, switchGeneration } from './generations.ts';
import { type Projection, pointerKey } from './projection.ts';
import { type RunnerOptions, type RunningProjection, runProjection } from './runner.ts';

export interface SupervisorOptions extends Omit<RunnerOptions, 'projection' | 'generation'> {
  projections: readonly Projection[];
  /** From TOPIC_PREFIX (namespaceOf); empty in production. */
  namespace: string;
  log: Logger;
  pollMs: number;
}

export interface Supervisor {
  running(): ReadonlyMap<string, RunningProjection & { generation: number }>;
  stop(): Promise<void>;
}

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { stores, log } = options;
  await ensureReadSchema(stores.pool);
  const running = new Map<string, RunningProjection & { generation: number }>();

  const start = async (projection: Projection) => {
    const key = pointerKey(options.namespace, projection);
    let number = await currentGeneration(stores.pool, key);
    const generation = { projection: key, number: number ?? 1, namespace: options.namespace };
    await projection.prepare(stores, generation);
    if (number === undefined) {
      await switchGeneration(stores.pool, key, 1);
      number = 1;
    }
    const run = await runProjection({ ...options, projection, generation });
    running.set(projection.name, Object.assign(run, { generation: number }));
    log.info({ projection: projection.name, generation: number }, 'projection running');
  };

  for (const projection of options.projections) await start(projection);

  let stopped = false;
  const follow = async () => {
    for (const projection of options.projections) {
      const run = running.get(projection.name);
      const pointer = await currentGeneration(
        stores.pool,
        pointerKey(options.namespace, projection),
      );
      if (!run || pointer === undefined || pointer === run.generation) continue;
      log.info(
        { projection: projection.name, from: run.generation, to: pointer },
        'generation moved',
      );
      await run.stop();
      running.delete(projection.name);
      if (!stopped) await start(projection);
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
    running: () => running,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await checking;
      await Promise.all([...running.values()].map((r) => r.stop()));
      running.clear();
    },
  };
}
