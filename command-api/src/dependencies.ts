import { startLagMonitor } from '@parley/platform/consumer-lag';
import { type Admin, connectKafka, type Kafka } from '@parley/platform/kafka';
import { connectCommandSender } from '@parley/platform/kafka-platformatic';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import { migrate } from '@parley/platform/migrate';
import { DataKeyStore, PersonalDataCipher, parseMasterKey } from '@parley/platform/personal-data';
import { connectPostgres, type Pool } from '@parley/platform/postgres';
import { namespaceOf } from '@parley/platform/read-model-names';
import { closeRedis, connectRedis, createRedis, type Redis } from '@parley/platform/redis';
import { type Guard, guard } from '@parley/platform/resilience';
import { RevokedUsers } from '@parley/platform/revocations';
import type { Dependencies } from '@parley/platform/run-service';
import { connectSchemaRegistry } from '@parley/platform/schema-registry';
import { consumersCheck, superviseConsumer } from '@parley/platform/supervised-consumer';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { CONTEXTS, prefixedTopicNames, type topicNames } from '@parley/schemas/topics/catalogue';
import { type AccessTokenIssuer, accessTokenIssuer } from './auth/access-tokens.ts';
import { CredentialStore } from './auth/credential-store.ts';
import { LoginLockout } from './auth/login-lockout.ts';
import { AssistantControl } from './chat/assistant-control.ts';
import { parseLimits, Quotas } from './chat/quotas.ts';
import { CommandGateway, commandMetrics } from './commands/command-gateway.ts';
import { IdempotencyKeys } from './commands/idempotency-keys.ts';
import type { Config } from './config.ts';
import { IDENTITY_MIGRATIONS, IDENTITY_SCHEMA } from './identity/store-schema.ts';
import { startStoreSync } from './identity/store-sync.ts';
import { OutcomeWaiter } from './outcomes/outcome-waiter.ts';

export interface CommandApiDependencies extends Dependencies {
  kafka: Kafka;
  admin: Admin;
  pool: Pool;
  redis: Redis;
  redisGuard: Guard;
  gateway: CommandGateway;
  waiter: OutcomeWaiter;
  credentials: CredentialStore;
  dataKeys: DataKeyStore;
  cipher: PersonalDataCipher;
  tokens: AccessTokenIssuer;
  lockout: LoginLockout;
  quotas: Quotas;
  control: AssistantControl;
  /** Users whose tokens are refused: their account was deactivated or erased. */
  revoked: RevokedUsers;
}

export async function createDependencies({
  config,
  log,
  metrics,
  names = prefixedTopicNames(config.TOPIC_PREFIX),
  syncGroupId = `${config.TOPIC_PREFIX}${config.IDENTITY_SYNC_GROUP_ID}`,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  /** Tests send commands to topics of their own. */
  names?: typeof topicNames;
  /** ...and keep their identity-store consumer apart. */
  syncGroupId?: string;
}): Promise<CommandApiDependencies> {
  const kafka = connectKafka(config, 'command-api', log);
  const registry = connectSchemaRegistry(config);
  const postgres = connectPostgres(config, 'command-api');
  const redis = connectRedis(config, 'command-api');
  // A subscribed connection can do nothing else, so outcomes arrive on their own connection.
  const subscriber = createRedis({
    url: config.REDIS_URL,
    password: config.REDIS_PASSWORD,
    connectionName: 'command-api.outcomes',
  });
  const schemas = loadSchemaSet();
  // The identity store is this service's own schema; it is brought up to date before serving.
  await migrate(postgres.pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
  const dataKeys = new DataKeyStore(postgres.pool, parseMasterKey(config.PII_MASTER_KEY));
  const tokens = accessTokenIssuer({
    privateKeyPem: config.JWT_SIGNING_KEY,
    keyId: config.JWT_SIGNING_KEY_ID,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const commands = connectCommandSender(config, 'command-api');
  const kafkaGuard = guard({
    code: 'COMMANDS_UNAVAILABLE',
    detail: 'Commands cannot be accepted right now; retry shortly with the same Idempotency-Key',
    timeoutMs: 5_000,
    attempts: 2,
    breakAfter: 5,
    halfOpenAfterMs: 10_000,
    report: { registry: metrics, dependency: 'kafka' },
  });
  const redisGuard = guard({
    code: 'OUTCOMES_UNAVAILABLE',
    detail: 'Command outcomes cannot be read right now; retry shortly',
    timeoutMs: 500,
    attempts: 2,
    breakAfter: 5,
    halfOpenAfterMs: 5_000,
    report: { registry: metrics, dependency: 'redis' },
  });
  const waiter = new OutcomeWaiter(subscriber, redis.redis, redisGuard);
  waiter
    .start()
    .catch((error: unknown) => log.warn({ err: error }, 'outcome subscription not ready yet'));
  const commandTopics = new Map(
    schemas.records.flatMap((r) => {
      const context = CONTEXTS.find((c) => c.name === r.context);
      return r.kind === 'command' && context ? [[r.name, names.commands(context)] as const] : [];
    }),
  );
  const gateway = new CommandGateway({
    sender: commands.sender,
    kafka: kafkaGuard,
    idempotencyKeys: new IdempotencyKeys(redis.redis, redisGuard, log),
    serde: new AvroSerde(registry.registry, schemas),
    waiter,
    topicOf: (type) => commandTopics.get(type) ?? '',
    outcomeWaitMs: config.COMMAND_OUTCOME_WAIT_MS,
    durations: commandMetrics(metrics),
  });
  const credentials = new CredentialStore(postgres.pool, config.REFRESH_TOKEN_TTL_DAYS);
  const revoked = new RevokedUsers({
    source: (windowSeconds) => credentials.inactiveWithin(windowSeconds),
    windowSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    pollMs: config.REVOCATION_POLL_MS,
    log,
    metrics,
  });
  await revoked.start();
  const identity = CONTEXTS.find((c) => c.name === 'identity');
  if (!identity) throw new Error('no identity context in the topic catalogue');
  // Started (and started again after it stops) in the background: the API takes commands
  // before Kafka answers.
  const sync = superviseConsumer({
    name: syncGroupId,
    log,
    metrics,
    start: async () => {
      const consumer = await startStoreSync({
        kafka: kafka.kafka,
        serde: gateway.serde,
        pool: postgres.pool,
        credentials,
        dataKeys,
        log,
        topic: names.events(identity),
        groupId: syncGroupId,
      });
      return { consumer, stop: () => consumer.disconnect() };
    },
  });
  const syncTopics = [names.events(identity)];
  const lag = startLagMonitor({
    admin: kafka.admin,
    targets: () => [{ group: syncGroupId, topics: syncTopics }],
    metrics,
    log,
    intervalMs: config.CONSUMER_LAG_INTERVAL_MS,
  });
  return {
    kafka: kafka.kafka,
    admin: kafka.admin,
    pool: postgres.pool,
    redis: redis.redis,
    redisGuard,
    gateway,
    waiter,
    credentials,
    dataKeys,
    revoked,
    cipher: new PersonalDataCipher(dataKeys),
    tokens,
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
    lockout: new LoginLockout(redis.redis, redisGuard, log, {
      maxFailures: config.LOGIN_LOCKOUT_FAILURES,
      lockSeconds: config.LOGIN_LOCKOUT_SECONDS,
    }),
    // Without Redis the API still takes commands (202 at once): degraded, not unready.
    // The identity store sync behind makes the API degraded: the routes still apply what they see.
    checks: [
      kafka.check,
      registry.check,
      postgres.check,
      { ...redis.check, critical: false },
      { ...consumersCheck('identity-store-sync', () => [sync.status()]), critical: false },
    ],
    resources: [
      { name: 'consumer-lag', close: async () => lag.stop() },
      { name: 'revoked-users', close: async () => revoked.stop() },
      { name: 'identity-store-sync', close: () => sync.stop() },
      commands.resource,
      { name: 'outcome-subscriber', close: () => closeRedis(subscriber) },
      kafka.resource,
      postgres.resource,
      redis.resource,
    ],
  };
}
