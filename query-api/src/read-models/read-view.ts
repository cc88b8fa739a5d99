/**
 * A view read with read-your-writes: cache-aside read, and when a minimum version is asked for
 * and not there, a bounded wait on the views' progress (no polling), then the view as it is,
 * marked stale.
 */
import type { ViewLayout } from '@parley/platform/view-hashes';
import type { ViewKind } from '@parley/platform/view-progress';
import type { ReadModels } from '../dependencies.ts';
import type { DatabaseRead, SourcedView } from './cache-aside.ts';
import { waitForVersion } from './wait-for-version.ts';

export interface WaitedView<T> extends SourcedView<T> {
  readonly stale: boolean;
}

export async function readView<T>(
  reads: ReadModels,
  options: {
    model: ViewKind;
    id: string;
    key: string;
    layout: ViewLayout<T>;
    generation: number;
    minVersion: number | undefined;
    database: DatabaseRead<T>;
  },
): Promise<WaitedView<T>> {
  const { model, id, key, layout, generation, minVersion, database } = options;
  const { value, stale } = await waitForVersion<SourcedView<T>>({
    minVersion,
    versionOf: (read) => read.view?.version,
    read: (again) =>
      reads.cache.read({
        model,
        key,
        layout,
        minVersion,
        redisOnly: again,
        published: reads.hub.lastPublished(generation, model, id),
        database,
      }),
    watch: () => reads.hub.watch(generation, model, id, minVersion ?? 0),
    timeoutMs: reads.minVersionWaitMs,
  });
  if (stale) reads.metrics.staleAnswers.inc({ model });
  return { ...value, stale };
}
