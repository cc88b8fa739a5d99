import type { Loaded } from '@parley/platform/config';
import { mongoSettings } from '@parley/platform/mongo';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { serviceSettings } from '@parley/platform/service';

export const settings = {
  ...serviceSettings(3001),
  ...postgresSettings,
  ...mongoSettings,
  ...redisSettings,
};

export type Config = Loaded<typeof settings>;
