/**
 * The peer command API's settings: the command API's own for what both do per request (tokens,
 * the identity store's data keys, quotas in Redis), plus where Emmett keeps its events.
 */
import { authSettings } from '@parley/platform/auth';
import { env, type Loaded } from '@parley/platform/config';
import { personalDataSettings } from '@parley/platform/personal-data';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { revocationSettings } from '@parley/platform/revocations';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';
import { quotaSettings } from '../../../command-api/src/chat/quotas.ts';

export const settings = {
  ...serviceSettings(3010),
  /** The identity store (data keys, revoked accounts), as the command API reads it. */
  ...postgresSettings,
  ...redisSettings,
  ...authSettings,
  ...personalDataSettings,
  ...revocationSettings,
  ...quotaSettings,
  /** Names the Redis namespace the assistant controls live in, as for the command API. */
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /**
   * Emmett's database, a dedicated one: Emmett puts its tables wherever search_path points and
   * cannot keep a second event store schema in one database. Its password is POSTGRES_PASSWORD.
   */
  EVENT_STORE_URL: env.url(['postgres', 'postgresql']),
  EVENT_STORE_POOL_MAX: env.int(1, 200, { default: 10 }),
  /** Appends retried after a version conflict (another command got to the stream first). */
  VERSION_CONFLICT_RETRIES: env.int(0, 100, { default: 10 }),
};

export type Config = Loaded<typeof settings>;
