import { authSettings } from '@parley/platform/auth';
import { env, type Loaded } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { proxySettings } from '@parley/platform/http';
import { kafkaSettings } from '@parley/platform/kafka';
import { personalDataSettings } from '@parley/platform/personal-data';
import { postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { revocationSettings } from '@parley/platform/revocations';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicSettings } from '@parley/schemas/topics/catalogue';
import { accessTokenSettings } from './auth/access-tokens.ts';
import { quotaSettings } from './chat/quotas.ts';

export const settings = {
  ...serviceSettings(3000),
  ...proxySettings,
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...redisSettings,
  ...authSettings,
  ...accessTokenSettings,
  ...personalDataSettings,
  ...consumerLagSettings,
  ...revocationSettings,
  ...quotaSettings,
  REFRESH_TOKEN_TTL_DAYS: env.int(1, 365, { default: 30 }),
  /** Register, login, refresh and logout per client IP; password change per user. */
  AUTH_RATE_LIMIT_PER_MINUTE: env.int(1, 100_000, { default: 20 }),
  /** Commands and outcome polls per user per minute: one budget over the routes with a token. */
  WRITE_RATE_LIMIT_PER_MINUTE: env.int(1, 1_000_000, { default: 300 }),
  /** Failed logins of one account before it is locked for LOGIN_LOCKOUT_SECONDS. */
  LOGIN_LOCKOUT_FAILURES: env.int(1, 100, { default: 5 }),
  LOGIN_LOCKOUT_SECONDS: env.int(1, 86_400, { default: 900 }),
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
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  /** Consumer group that keeps the identity store in step with the user events. */
  IDENTITY_SYNC_GROUP_ID: env.string({ default: 'command-api.identity-store' }),
  /** How long a request waits for its command's outcome before answering 202. */
  COMMAND_OUTCOME_WAIT_MS: env.int(0, 30_000, { default: 3_000 }),
};

export type Config = Loaded<typeof settings>;
