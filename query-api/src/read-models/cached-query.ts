/**
 * Cache-aside for database query results that have no view (usage over a range): Redis first,
 * else one database read for every concurrent asker (single-flight), kept for a short TTL. With
 * Redis down the database answers and the reply says it is degraded.
 */
import { AppError } from '@parley/platform/errors';
import type { ReadModels } from '../dependencies.ts';
import type { ReadSource } from '../http/read-reply.ts';

export async function cachedQuery<T>(
  reads: ReadModels,
  options: { key: string; model: string; store: 'postgres' | 'mongodb'; load: () => Promise<T> },
): Promise<{ value: T; source: ReadSource; degraded: boolean }> {
  const { key, model, store, load } = options;
  const redis = reads.guards.redis;
  let degraded = redis.isOpen();
  if (!degraded) {
    try {
      const hit = await redis(() => reads.store.readCached<T>(key));
      if (hit !== undefined) {
        reads.metrics.viewReads.inc({ model, outcome: 'hit' });
        return { value: hit, source: 'redis', degraded: false };
      }
    } catch (error) {
      if (!(error instanceof AppError && error.status === 503)) throw error;
      degraded = true;
    }
  }
  reads.metrics.viewReads.inc({ model, outcome: degraded ? 'degraded' : 'miss' });
  const value = await reads.flight.run(`${store}|${key}`, async () => {
    reads.metrics.databaseReads.inc({ store, model });
    const loaded = await load();
    if (!degraded && !redis.isOpen()) {
      await redis(() => reads.store.writeCached(key, loaded, reads.queryCacheTtlSeconds)).catch(
        () => {},
      );
    }
    return loaded;
  });
  return { value, source: store, degraded };
}
