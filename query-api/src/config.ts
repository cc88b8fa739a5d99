import { authSettings } from '@parley/platform/auth';
import { env, type Loaded } from '@parley/platform/config';
import { proxySettings } from '@parley/platform/http';
import { mongoSettings } from '@parley/platform/mongo';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { revocationSettings } from '@parley/platform/revocations';
import { LOCAL_SERVICE_URLS, serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';

/** The other services where `npm start` runs them. */
const LOCAL_SERVICES = LOCAL_SERVICE_URLS.split(',')
  .filter((entry) => !entry.startsWith('query-api='))
  .join(',');

export const settings = {
  ...serviceSettings(3001),
  ...proxySettings,
  ...postgresSettings,
  ...mongoSettings,
  ...redisSettings,
  ...authSettings,
  ...revocationSettings,
  /** Namespaces the read models' tables, collections and keys, as it does for the projectors. */
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /** Comma-separated browser origins allowed by CORS (the web app); empty allows none. */
  CORS_ORIGINS: env.matching(
    /^(https?:\/\/[A-Za-z0-9.-]+(:\d+)?(,https?:\/\/[A-Za-z0-9.-]+(:\d+)?)*)?$/,
    'comma-separated http(s) origins',
    {
      default: {
        dev: 'http://localhost:5173,http://127.0.0.1:5173',
        test: 'http://localhost:5173',
      },
    },
  ),
  /** How long a view filled from a database lives in Redis (the projection's own do not expire). */
  VIEW_FILL_TTL_SECONDS: env.int(10, 30 * 86_400, { default: 86_400 }),
  /** How long a cached query result (a usage range) lives in Redis. */
  QUERY_CACHE_TTL_SECONDS: env.int(1, 86_400, { default: 30 }),
  /** Read-your-writes: the longest a read waits for the version asked for before answering stale. */
  MIN_VERSION_WAIT_MS: env.int(0, 30_000, { default: 2_000 }),
  /** How long the live generation of each read model is cached (a rebuild moves it). */
  GENERATION_CACHE_MS: env.int(0, 60_000, { default: 1_000 }),
  /** Reads per user and route per minute (Redis-backed, shared by the instances). */
  READ_RATE_LIMIT_PER_MINUTE: env.int(1, 1_000_000, { default: 600 }),
  /**
   * `GET /v1/status`: each other service's base URL, `name=url` comma-separated (command-api,
   * command-processor, projectors, assistant); a service left out counts as down.
   */
  STATUS_PROBES: env.matching(
    /^([a-z-]+=https?:\/\/[A-Za-z0-9.-]+(:\d+)?)(,[a-z-]+=https?:\/\/[A-Za-z0-9.-]+(:\d+)?)*$/,
    'comma-separated name=http(s)://host:port',
    { default: { dev: LOCAL_SERVICES, test: LOCAL_SERVICES } },
  ),
  /** How often the status probes the services. */
  STATUS_POLL_MS: env.int(1_000, 300_000, { default: 5_000 }),
  /** A comment line on open event streams this often, so proxies keep them open. */
  SSE_HEARTBEAT_MS: env.int(1_000, 120_000, { default: 15_000 }),
  /** Event streams one user may hold open on one instance (devices and tabs); then 429. */
  SSE_MAX_STREAMS_PER_USER: env.int(1, 1_000, { default: 10 }),
};

export type Config = Loaded<typeof settings>;
