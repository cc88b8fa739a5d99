import type { Loaded } from '@parley/platform/config';
import { kafkaSettings } from '@parley/platform/kafka';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';

export const settings = {
  ...serviceSettings(3000),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...redisSettings,
};

export type Config = Loaded<typeof settings>;
