import { type Admin, connectKafka, type Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import { connectPostgres, type Pool } from '@parley/platform/postgres';
import { connectRedis, type Redis } from '@parley/platform/redis';
import type { Dependencies } from '@parley/platform/run-service';
import { connectSchemaRegistry, type SchemaRegistry } from '@parley/platform/schema-registry';
import type { Config } from './config.ts';

export interface CommandApiDependencies extends Dependencies {
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistry;
  pool: Pool;
  redis: Redis;
}

export function createDependencies({
  config,
  log,
}: {
  config: Config;
  log: Logger;
}): CommandApiDependencies {
  const kafka = connectKafka(config, 'command-api', log);
  const registry = connectSchemaRegistry(config);
  const postgres = connectPostgres(config, 'command-api');
  const redis = connectRedis(config, 'command-api');
  return {
    kafka: kafka.kafka,
    admin: kafka.admin,
    registry: registry.registry,
    pool: postgres.pool,
    redis: redis.redis,
    checks: [kafka.check, registry.check, postgres.check, redis.check],
    resources: [kafka.resource, postgres.resource, redis.resource],
  };
}
