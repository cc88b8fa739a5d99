/**
 * What the peer command API holds: the command API's identity store (data keys, revoked
 * accounts), Redis for quotas, and Emmett's event store on a pool of its own. Emmett sets pg's
 * type parsers for the whole process (INT8 as BigInt), so it runs in a process of its own.
 */
import type { Logger } from '@parley/platform/logger';
import { Counter, type Registry } from '@parley/platform/metrics';
import { migrate } from '@parley/platform/migrate';
import { DataKeyStore, PersonalDataCipher, parseMasterKey } from '@parley/platform/personal-data';
import {
  connectPostgres,
  createPostgresPool,
  type Pool,
  postgresHealthCheck,
} from '@parley/platform/postgres';
import { namespaceOf } from '@parley/platform/read-model-names';
import { connectRedis, type Redis } from '@parley/platform/redis';
import { guard } from '@parley/platform/resilience';
import { RevokedUsers } from '@parley/platform/revocations';
import type { Dependencies } from '@parley/platform/run-service';
import { CredentialStore } from '../../../command-api/src/auth/credential-store.ts';
import { AssistantControl } from '../../../command-api/src/chat/assistant-control.ts';
import { parseLimits, Quotas } from '../../../command-api/src/chat/quotas.ts';
import {
  IDENTITY_MIGRATIONS,
  IDENTITY_SCHEMA,
} from '../../../command-api/src/identity/store-schema.ts';
import type { Config } from './config.ts';
import { type ConversationStore, conversationStore } from './conversation-store.ts';

export interface PeerDependencies extends Dependencies {
  redis: Redis;
  eventStorePool: Pool;
  conversations: ConversationStore;
  cipher: PersonalDataCipher;
  quotas: Quotas;
  control: AssistantControl;
  revoked: RevokedUsers;
}

export async function createDependencies({
  config,
  log,
  metrics,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
}): Promise<PeerDependencies> {
  const postgres = connectPostgres(config, 'emmett-command-api');
  const redis = connectRedis(config, 'emmett-command-api');
  await migrate(postgres.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
  const dataKeys = new DataKeyStore(postgres.pool, parseMasterKey(config.PII_MASTER_KEY));
  // The command API's guard around Redis (dependencies.ts), so a slow Redis costs the same.
  const redisGuard = guard({
    code: 'OUTCOMES_UNAVAILABLE',
    detail: 'Redis cannot be reached right now; retry shortly',
    timeoutMs: 500,
    attempts: 2,
    breakAfter: 5,
    halfOpenAfterMs: 5_000,
    report: { registry: metrics, dependency: 'redis' },
  });
  // Read here only for revoked accounts; 30 days of refresh tokens is the command API's default.
  const credentials = new CredentialStore(postgres.pool, 30);
  const revoked = new RevokedUsers({
    source: (windowSeconds) => credentials.inactiveWithin(windowSeconds),
    windowSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    pollMs: config.REVOCATION_POLL_MS,
    log,
    metrics,
  });
  await revoked.start();

  const eventStorePool = createPostgresPool({
    url: config.EVENT_STORE_URL,
    password: config.POSTGRES_PASSWORD,
    max: config.EVENT_STORE_POOL_MAX,
    applicationName: 'emmett-command-api.events',
  });
  const conflicts = new Counter({
    name: 'emmett_version_conflicts_total',
    help: 'Appends refused for a version conflict (retried while retries remain)',
    registers: [metrics],
  });
  const conversations = await conversationStore({
    url: config.EVENT_STORE_URL,
    pool: eventStorePool,
    versionConflictRetries: config.VERSION_CONFLICT_RETRIES,
    conflicts: () => conflicts.inc(),
  });
  return {
    redis: redis.redis,
    eventStorePool,
    conversations,
    cipher: new PersonalDataCipher(dataKeys),
    quotas: new Quotas(
      redis.redis,
      redisGuard,
      {
        messages: parseLimits(config.QUOTA_MESSAGES_PER_DAY),
        tokens: parseLimits(config.QUOTA_TOKENS_PER_DAY),
      },
      log,
    ),
    control: new AssistantControl(redis.redis, redisGuard, namespaceOf(config.TOPIC_PREFIX), log),
    revoked,
    checks: [
      postgres.check,
      { ...postgresHealthCheck(eventStorePool), name: 'event-store' },
      { ...redis.check, critical: false },
    ],
    resources: [
      { name: 'revoked-users', close: async () => revoked.stop() },
      { name: 'event-store', close: () => conversations.close().then(() => eventStorePool.end()) },
      postgres.resource,
      redis.resource,
    ],
  };
}
