/**
 * The command processor's own process (and deployable): the consumer group that decides
 * commands, plus an HTTP port for /health/live, /health/ready and /metrics.
 */
import { env } from '@parley/platform/config';
import { createHttpServer } from '@parley/platform/http';
import { connectKafka, kafkaSettings } from '@parley/platform/kafka';
import { connectRedis, redisSettings } from '@parley/platform/redis';
import { runService } from '@parley/platform/run-service';
import { connectSchemaRegistry, schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { prefixedTopicNames, topicSettings } from '@parley/schemas/topics/catalogue';
import { processorContexts } from './contexts.ts';
import { startCommandProcessor } from './processor.ts';

const SERVICE = 'command-processor';

const settings = {
  ...serviceSettings(3003),
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...redisSettings,
  TOPIC_PREFIX: topicSettings.TOPIC_PREFIX,
  PROCESSOR_GROUP_ID: env.string({ default: 'command-processor' }),
  /** How soon a processor that died is noticed and its partitions move (broker minimum 6000). */
  PROCESSOR_SESSION_TIMEOUT_MS: env.int(6_000, 300_000, { default: 30_000 }),
};

await runService({
  service: SERVICE,
  settings,
  createDependencies: async ({ config, log }) => {
    const kafka = connectKafka(config, SERVICE, log);
    const registry = connectSchemaRegistry(config);
    const redis = connectRedis(config, SERVICE);
    const schemas = loadSchemaSet();
    const processor = await startCommandProcessor({
      kafka: kafka.kafka,
      admin: kafka.admin,
      serde: new AvroSerde(registry.registry, schemas),
      redis: redis.redis,
      log,
      contexts: processorContexts(schemas, prefixedTopicNames(config.TOPIC_PREFIX)),
      groupId: config.PROCESSOR_GROUP_ID,
      sessionTimeoutMs: config.PROCESSOR_SESSION_TIMEOUT_MS,
    });
    return {
      checks: [kafka.check, registry.check, redis.check],
      // The processor finishes its current transaction before the clients close.
      resources: [
        { name: 'processor', close: () => processor.stop() },
        kafka.resource,
        redis.resource,
      ],
    };
  },
  buildApp: ({ config, log, metrics, deps }) =>
    createHttpServer({
      service: SERVICE,
      log,
      metrics,
      checks: deps.checks,
      bodyLimit: config.HTTP_BODY_LIMIT,
    }),
});
