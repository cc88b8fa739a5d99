import { env, type Loaded } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { kafkaSettings } from '@parley/platform/kafka';
import { mongoSettings } from '@parley/platform/mongo';
import { personalDataSettings } from '@parley/platform/personal-data';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';
import { PROJECTION_NAMES } from './projections/index.ts';

const NAMES = `^(${PROJECTION_NAMES.join('|')})(,(${PROJECTION_NAMES.join('|')}))*$`;

/** Projectors serve no API; their HTTP port carries health and metrics only. */
export const settings = {
  ...serviceSettings(3002),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...mongoSettings,
  ...redisSettings,
  ...personalDataSettings,
  ...consumerLagSettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /** Which projections this process runs (comma-separated); all by default. */
  PROJECTIONS: env.matching(
    new RegExp(NAMES),
    `projection names (${PROJECTION_NAMES.join(', ')})`,
    {
      default: PROJECTION_NAMES.join(','),
    },
  ),
  /** How often a projector checks whether a rebuild moved a generation pointer. */
  PROJECTOR_GENERATION_POLL_MS: env.int(100, 60_000, { default: 2_000 }),
};

export type Config = Loaded<typeof settings>;
