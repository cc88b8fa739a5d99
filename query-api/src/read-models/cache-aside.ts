/**
 * Cache-aside over the Redis views: read the view; on a miss, or when it is older than the
 * version asked for, read the database once (single-flight: concurrent readers of the key share
 * that read), fill the view (version-guarded, with a TTL) and answer the newer of the two. With
 * Redis down or its breaker open, the database answers and the reply says it is degraded.
 */
import { AppError } from '@parley/platform/errors';
import type { Versioned } from '@parley/platform/read-models';
import type { Guard } from '@parley/platform/resilience';
import type { ViewLayout } from '@parley/platform/view-hashes';
import type { ViewKind } from '@parley/platform/view-progress';
import type { ReadSource } from '../http/read-reply.ts';
import type { ReadMetrics } from './read-metrics.ts';
import type { SingleFlight } from './single-flight.ts';
import type { ViewStore } from './view-store.ts';

export interface DatabaseRead<T> {
  readonly store: 'postgres' | 'mongodb';
  /** The view as the database has it (undefined: none), and whether it may fill Redis. */
  readonly load: () => Promise<{ view: Versioned<T> | undefined; fillable: boolean }>;
}

export interface SourcedView<T> {
  readonly view: Versioned<T> | undefined;
  readonly source: ReadSource;
  readonly degraded: boolean;
}

export class CacheAside {
  constructor(
    private readonly deps: {
      store: ViewStore;
      redisGuard: Guard;
      flight: SingleFlight;
      ttlSeconds: number;
      metrics: ReadMetrics;
    },
  ) {}

  /** The view from Redis, or undefined with `degraded` when Redis cannot be read. */
  async fromRedis<T>(
    key: string,
    layout: ViewLayout<T>,
  ): Promise<{ view?: Versioned<T>; degraded: boolean }> {
    const { redisGuard, store } = this.deps;
    if (redisGuard.isOpen()) return { degraded: true };
    try {
      const view = await redisGuard(() => store.readHash(key, layout));
      return view ? { view, degraded: false } : { degraded: false };
    } catch (error) {
      if (error instanceof AppError && error.status === 503) return { degraded: true };
      throw error;
    }
  }

  async read<T>(options: {
    model: ViewKind;
    key: string;
    /** How the view is laid out in its hash. */
    layout: ViewLayout<T>;
    minVersion?: number;
    /** After a progress message: Redis only, the database was read already. */
    redisOnly?: boolean;
    /** The newest version the views projection published for this view, if known. */
    published?: number;
    database: DatabaseRead<T>;
  }): Promise<SourcedView<T>> {
    const { model, key, layout, minVersion, database } = options;
    const { metrics } = this.deps;
    const cached = await this.fromRedis(key, layout);
    const wanted = (view: Versioned<T> | undefined) =>
      view !== undefined && (minVersion === undefined || view.version >= minVersion);
    if (cached.view && (wanted(cached.view) || options.redisOnly)) {
      metrics.viewReads.inc({ model, outcome: 'hit' });
      return { view: cached.view, source: 'redis', degraded: false };
    }
    if (options.redisOnly && !cached.degraded) {
      return { view: cached.view, source: 'redis', degraded: false };
    }
    metrics.viewReads.inc({
      model,
      outcome: cached.degraded ? 'degraded' : cached.view ? 'behind' : 'miss',
    });
    let fromDatabase: { view: Versioned<T> | undefined; fillable: boolean };
    try {
      fromDatabase = await this.deps.flight.run(`${database.store}|${key}`, async () => {
        metrics.databaseReads.inc({ store: database.store, model });
        const loaded = await database.load();
        if (!cached.degraded) await this.fill(key, layout, loaded, options.published);
        return loaded;
      });
    } catch (error) {
      // A view that is only behind still answers (marked stale by the caller) while the
      // database is down; without one, the database's 503 is the answer.
      if (cached.view) return { view: cached.view, source: 'redis', degraded: false };
      throw error;
    }
    const newer =
      cached.view && (fromDatabase.view?.version ?? 0) <= cached.view.version
        ? cached.view
        : fromDatabase.view;
    return {
      view: newer,
      source: newer === cached.view && newer ? 'redis' : database.store,
      degraded: cached.degraded,
    };
  }

  private async fill<T>(
    key: string,
    layout: ViewLayout<T>,
    loaded: { view: Versioned<T> | undefined; fillable: boolean },
    published: number | undefined,
  ): Promise<void> {
    const { view, fillable } = loaded;
    // A database behind what the projection already wrote must not fill: the projection would
    // go on from the older view and lose the events in between.
    if (!view || !fillable || (published !== undefined && view.version < published)) return;
    const { redisGuard, store, ttlSeconds } = this.deps;
    if (redisGuard.isOpen()) return;
    await redisGuard(() => store.fillHash(key, view, ttlSeconds, layout)).catch(() => {});
  }
}
