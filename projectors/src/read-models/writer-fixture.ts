/**
 * A projection's writer against its real store, for each read model's integration test: a fresh
 * generation under its own namespace, batches applied as the runner applies them (PostgreSQL
 * inside a transaction), and the generation dropped at the end. Test support only.
 */

import { loadConfig } from '@parley/platform/config';
import { migrate } from '@parley/platform/migrate';
import { inTransaction } from '@parley/platform/postgres';
import { namespaceOf } from '@parley/platform/read-model-names';
import { quietLogger, redisReady, uniqueName } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv } from '@parley/platform/testing/tokens';
import {
  IDENTITY_MIGRATIONS,
  IDENTITY_SCHEMA,
} from '../../../command-api/src/identity/store-schema.ts';
import { storeSettings } from '../config.ts';
import { connectStores } from '../dependencies.ts';
import { ensureReadSchema } from '../runtime/generations.ts';
import type { Generation, ProjectedEvent, Projection } from '../runtime/projection.ts';

export async function writerFixture(projection: Projection) {
  const { PII_MASTER_KEY = '' } = serviceKeyEnv(createSigningKey());
  const config = loadConfig(storeSettings, { source: { ...process.env, PII_MASTER_KEY } });
  const connected = connectStores(config, quietLogger(), uniqueName(`writer-${projection.name}`));
  const { stores } = connected;
  const g: Generation = {
    projection: projection.name,
    number: 1,
    namespace: `${namespaceOf(uniqueName('rm'))}_`,
  };
  const close = async () => {
    await projection.drop(stores, g).catch(() => {});
    for (const resource of connected.resources) await resource.close().catch(() => {});
  };
  try {
    await redisReady(stores.redis);
    // What a fresh stack lacks until the services first start: the read schema, and the
    // identity store's data keys (the command API's migrations).
    await ensureReadSchema(stores.pool);
    await migrate(stores.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
    await projection.prepare(stores, g);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    stores,
    generation: g,
    /** One batch, as the runner applies it. */
    apply: (events: readonly ProjectedEvent[]) =>
      projection.store === 'postgres'
        ? inTransaction(stores.pool, (client) => projection.apply(client, stores, g, events))
        : projection.apply(stores, g, events),
    checksum: () => projection.checksum(stores, g),
    close,
  };
}
