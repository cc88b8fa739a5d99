import type { Loaded } from '@parley/platform/config';
import { kafkaSettings } from '@parley/platform/kafka';
import { mongoSettings } from '@parley/platform/mongo';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';

/** Projectors serve no API; their HTTP port carries health and metrics only. */
export const settings = {
  ...serviceSettings(3002),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...mongoSettings,
  ...redisSettings,
};

export type Config = Loaded<typeof settings>;
