import { authSettings } from '@parley/platform/auth';
import { env, type Loaded } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { kafkaSettings } from '@parley/platform/kafka';
import { mongoSettings } from '@parley/platform/mongo';
import { personalDataSettings } from '@parley/platform/personal-data';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { revocationSettings } from '@parley/platform/revocations';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import {
  LOCAL_SERVICE_URLS,
  SERVICE_URLS_PATTERN,
  serviceSettings,
} from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';
import { PROJECTION_NAMES } from './read-models/index.ts';

const NAMES = `^(${PROJECTION_NAMES.join('|')})(,(${PROJECTION_NAMES.join('|')}))*$`;

/** What the projections and `npm run projector` (rebuilds, dead letters) need. */
export const storeSettings = {
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

/** The service: its HTTP port carries health, metrics and the ops page with its API (admin tokens). */
export const settings = {
  ...storeSettings,
  ...authSettings,
  ...revocationSettings,
  /**
   * The ops page: each other service's base URL, `name=url` comma-separated, for its readiness
   * and breakers (`/health/ready`, `/metrics`); empty shows this service only.
   */
  OPS_PROBES: env.matching(SERVICE_URLS_PATTERN, 'comma-separated name=http(s)://host:port', {
    default: { dev: LOCAL_SERVICE_URLS, test: LOCAL_SERVICE_URLS, stage: '', prod: '' },
  }),
  /** How often the ops page's data (lag of every group, services, rebuilds) is gathered. */
  OPS_POLL_MS: env.int(500, 300_000, { default: 2_000 }),
};

export type StoreConfig = Loaded<typeof storeSettings>;
export type Config = Loaded<typeof settings>;
