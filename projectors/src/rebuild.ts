/**
 * Rebuild with no downtime: fill generation n+1 from offset zero beside the live generation n,
 * catch up to the head, move the pointer (readers and the live projectors switch), then drop
 * generation n. Progress goes to `report` every second.
 */
import type { Admin, Kafka, Producer } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import { pointerKey } from '@parley/platform/read-model-names';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import type { topicNames } from '@parley/schemas/topics/catalogue';
import {
  abandonedBuilds,
  currentGeneration,
  dropCheckpoints,
  ensureReadSchema,
  forgetBuild,
  latestGeneration,
  lockRebuild,
  recordBuild,
  switchGeneration,
} from './runtime/generations.ts';
import type { ProjectionMetrics } from './runtime/metrics.ts';
import type { Projection, Stores } from './runtime/projection.ts';
import { groupIdOf, runProjection } from './runtime/runner.ts';

export interface RebuildProgress {
  projection: string;
  generation: number;
  applied: number;
  lag: number;
  eventsPerSecond: number;
  etaSeconds: number | null;
  phase: 'replaying' | 'switched' | 'done';
}

export interface RebuildOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  serde: AvroSerde;
  stores: Stores;
  names: typeof topicNames;
  log: Logger;
  metrics: ProjectionMetrics;
  projection: Projection;
  /** From TOPIC_PREFIX (namespaceOf); empty in production. */
  namespace: string;
  /** How long live projectors get to follow the pointer before the old generation is dropped. */
  switchGraceMs: number;
  report: (progress: RebuildProgress) => void;
}

export class RebuildRunningError extends Error {}

export async function rebuild(options: RebuildOptions) {
  const { projection, stores, namespace } = options;
  await ensureReadSchema(stores.pool);
  const key = pointerKey(namespace, projection.name);
  const unlock = await lockRebuild(stores.pool, key);
  if (!unlock) {
    throw new RebuildRunningError(`another rebuild of ${projection.name} is running`);
  }
  try {
    return await rebuildLocked(options, key);
  } finally {
    await unlock();
  }
}

/** Drops one generation: its data, checkpoints, consumer group and build record. */
async function dropGeneration(options: RebuildOptions, key: string, number: number) {
  const { projection, stores, admin, namespace } = options;
  const generation = { projection: key, number, namespace };
  await projection.drop(stores, generation);
  await dropCheckpoints(stores.pool, key, number);
  await admin.deleteGroups([groupIdOf(projection, generation)]).catch(() => {});
  await forgetBuild(stores.pool, key, number);
}

async function rebuildLocked(options: RebuildOptions, key: string) {
  const { projection, stores, namespace } = options;
  const previous = await currentGeneration(stores.pool, key);
  // Past every generation ever started, also those about to be dropped: a number (and consumer
  // group) is never used twice.
  const number = (await latestGeneration(stores.pool, key)) + 1;
  // What a rebuild that died left behind (a generation nobody reads) goes first.
  for (const abandoned of await abandonedBuilds(stores.pool, key)) {
    await dropGeneration(options, key, abandoned);
  }
  const generation = { projection: key, number, namespace };
  await recordBuild(stores.pool, key, number);
  // Data under this number can only predate read.builds (a rebuild that died before it existed).
  await projection.drop(stores, generation);
  await dropCheckpoints(stores.pool, key, number);
  await projection.prepare(stores, generation);
  // Rates count from the first applied batch, not from joining the group, and once caught up,
  // to the last batch (not to the next look at the lag).
  let started = 0;
  let lastBatchAt = 0;
  const run = await runProjection({
    ...options,
    generation,
    onBatch: (_events, batchStartedAt) => {
      lastBatchAt = performance.now();
      if (started === 0) started = batchStartedAt;
    },
  });
  const progress = async (phase: RebuildProgress['phase']): Promise<RebuildProgress> => {
    const lag = await run.lag();
    const applied = run.applied();
    const until = lag === 0 ? lastBatchAt : performance.now();
    const seconds = started === 0 ? 0 : Math.max(0.001, (until - started) / 1000);
    const eventsPerSecond = seconds > 0 ? Math.round(applied / seconds) : 0;
    return {
      projection: projection.name,
      generation: number,
      applied,
      lag,
      eventsPerSecond,
      etaSeconds: eventsPerSecond > 0 ? Math.round(lag / eventsPerSecond) : null,
      phase,
    };
  };
  // A batch that cannot be applied ends the rebuild (its generation is then abandoned).
  let failure: { error: unknown } | undefined;
  void run.failed.then((error) => {
    failure = { error };
  });
  try {
    // Caught up when two looks a second apart find nothing left.
    let quiet = 0;
    while (quiet < 2) {
      await new Promise((r) => setTimeout(r, 1000));
      if (failure) throw failure.error;
      const p = await progress('replaying');
      options.metrics.rebuildProgress.set(
        { projection: projection.name, generation: String(number) },
        p.applied + p.lag > 0 ? p.applied / (p.applied + p.lag) : 1,
      );
      options.report(p);
      quiet = p.lag === 0 ? quiet + 1 : 0;
    }
    await switchGeneration(stores.pool, key, number);
    options.report(await progress('switched'));
    await new Promise((r) => setTimeout(r, options.switchGraceMs));
  } finally {
    await run.stop();
  }
  if (previous !== undefined && previous !== number) {
    await dropGeneration(options, key, previous);
  }
  const done = await progress('done');
  options.report(done);
  return {
    generation: number,
    previous,
    applied: done.applied,
    checksum: await projection.checksum(stores, generation),
  };
}
