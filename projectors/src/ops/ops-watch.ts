/**
 * The ops page's data, refreshed every OPS_POLL_MS by one loop and served from memory: however
 * many pages are open, the brokers, the database and the services are asked once per interval.
 */
import type { Admin } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import type { Pool } from '@parley/platform/postgres';
import { pointerKey } from '@parley/platform/read-model-names';
import { CONTEXTS, DEAD_LETTER_GROUPS, type topicNames } from '@parley/schemas/topics/catalogue';
import { unswitchedBuilds } from '../runtime/generations.ts';
import { groupOf, type Projection, redriveGroupOf } from '../runtime/projection.ts';
import { groupIdOf } from '../runtime/runner.ts';
import { createGroupWatch } from './consumer-groups.ts';
import { type FleetOptions, fleetHealth } from './fleet.ts';
import {
  type BuildRecord,
  deadLettersWaiting,
  groupViews,
  type Overview,
  type RebuildView,
  rebuildsInProgress,
} from './overview.ts';

export interface OpsWatchOptions {
  admin: Admin;
  pool: Pool;
  projections: readonly Projection[];
  names: typeof topicNames;
  namespace: string;
  fleet: FleetOptions;
  intervalMs: number;
  log: Logger;
  /** Told the rebuilds in progress after each refresh (the service exports their progress). */
  onRebuilds?: (rebuilds: readonly RebuildView[]) => void;
}

export interface OpsWatch {
  latest(): Overview;
  refresh(): Promise<Overview>;
  stop(): void;
}

/** Every topic of this deployment: a consumer group committing on one of them is Parley's. */
function deploymentTopics(names: typeof topicNames): Set<string> {
  return new Set([
    ...CONTEXTS.flatMap((c) => [names.commands(c), names.events(c), names.aggregateState(c)]),
    ...DEAD_LETTER_GROUPS.map((g) => names.deadLetters(g)),
  ]);
}

export function startOpsWatch(options: OpsWatchOptions): OpsWatch {
  const redrives = options.projections.map((p) => ({
    projection: p.name,
    group: redriveGroupOf(p),
    topic: options.names.deadLetters(groupOf(p)),
  }));
  const groups = createGroupWatch({
    admin: options.admin,
    topics: deploymentTopics(options.names),
    always: () => redrives.map((r) => ({ group: r.group, topics: [r.topic] })),
    log: options.log,
  });
  const byKey = new Map(options.projections.map((p) => [pointerKey(options.namespace, p.name), p]));
  const builds = async (): Promise<BuildRecord[]> => {
    const rows = await unswitchedBuilds(options.pool, [...byKey.keys()]);
    return rows.flatMap((row) => {
      const projection = byKey.get(row.projection);
      if (!projection) return [];
      const generation = { projection: row.projection, number: row.generation };
      return [
        {
          projection: projection.name,
          generation: row.generation,
          startedAt: row.startedAt.toISOString(),
          group: groupIdOf(projection, { ...generation, namespace: options.namespace }),
        },
      ];
    });
  };

  let latest: Overview = {
    generatedAt: new Date().toISOString(),
    services: [],
    groups: [],
    deadLetters: [],
    rebuilds: [],
  };
  const refresh = async () => {
    // Each part on its own: the brokers down still leaves the services' readiness to show.
    const [, services, building] = await Promise.all([
      groups.refresh().catch(() => {}),
      fleetHealth(options.fleet),
      builds().catch((error: unknown) => {
        options.log.warn({ err: error }, 'ops: rebuilds not read');
        return undefined;
      }),
    ]);
    const { lag, states } = groups.latest();
    latest = {
      generatedAt: new Date().toISOString(),
      services,
      groups: groupViews(lag, states),
      deadLetters: deadLettersWaiting(redrives, lag),
      rebuilds: building ? rebuildsInProgress(building, lag, states) : latest.rebuilds,
    };
    try {
      options.onRebuilds?.(latest.rebuilds);
    } catch (error) {
      options.log.warn({ err: error }, 'ops: rebuild progress not exported');
    }
    return latest;
  };
  let running: Promise<Overview> | undefined;
  const once = () => {
    running ??= refresh().finally(() => {
      running = undefined;
    });
    return running;
  };
  // A refresh that fails keeps the last overview and says so; it never takes the process down.
  const tick = () =>
    once().catch((error: unknown) =>
      options.log.warn({ err: error }, 'ops: overview not refreshed'),
    );
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  void tick();
  return { latest: () => latest, refresh: once, stop: () => clearInterval(timer) };
}
