/**
 * The command processor's own process (and deployable): the consumer group that decides
 * commands, plus an HTTP port for /health/live, /health/ready and /metrics.
 */
import { startLagMonitor } from '@parley/platform/consumer-lag';
import { createHttpServer } from '@parley/platform/http';
import { connectKafka, createTransactionalKafka } from '@parley/platform/kafka';
import { connectRedis } from '@parley/platform/redis';
import { runService } from '@parley/platform/run-service';
import { connectSchemaRegistry } from '@parley/platform/schema-registry';
import { consumersCheck, superviseConsumer } from '@parley/platform/supervised-consumer';
import { loadSchemaSet } from '@parley/schemas/avro/schema-set';
import { AvroSerde } from '@parley/schemas/serde/serde';
import { prefixedTopicNames } from '@parley/schemas/topics/catalogue';
import { processorSettings as settings } from './config.ts';
import { processorContexts } from './contexts.ts';
import { startCommandProcessor } from './processor.ts';

const SERVICE = 'command-processor';

await runService({
  service: SERVICE,
  settings,
  createDependencies: async ({ config, log, metrics }) => {
    const kafka = connectKafka(config, SERVICE, log);
    const producers = createTransactionalKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}.${SERVICE}`,
      log,
    });
    const registry = connectSchemaRegistry(config);
    const redis = connectRedis(config, SERVICE);
    const schemas = loadSchemaSet();
    const serde = new AvroSerde(registry.registry, schemas);
    const contexts = processorContexts(schemas, prefixedTopicNames(config.TOPIC_PREFIX));
    // Started again, with backoff, whenever its consumer stops on an error.
    const processor = superviseConsumer({
      name: config.PROCESSOR_GROUP_ID,
      log,
      metrics,
      start: () =>
        startCommandProcessor({
          kafka: kafka.kafka,
          producers,
          admin: kafka.admin,
          serde,
          redis: redis.redis,
          log,
          contexts,
          groupId: config.PROCESSOR_GROUP_ID,
          sessionTimeoutMs: config.PROCESSOR_SESSION_TIMEOUT_MS,
        }),
    });
    const commandTopics = contexts.map((c) => c.commandTopic);
    const lag = startLagMonitor({
      admin: kafka.admin,
      targets: () => [{ group: config.PROCESSOR_GROUP_ID, topics: commandTopics }],
      metrics,
      log,
      intervalMs: config.CONSUMER_LAG_INTERVAL_MS,
    });
    return {
      checks: [
        kafka.check,
        registry.check,
        redis.check,
        consumersCheck('processor', () => [processor.status()]),
      ],
      // The processor finishes its current transaction before the clients close.
      resources: [
        { name: 'consumer-lag', close: async () => lag.stop() },
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
