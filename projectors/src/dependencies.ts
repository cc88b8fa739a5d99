import { connectKafka, type Kafka } from '@parley/platform/kafka';
import type { Logger } from '@parley/platform/logger';
import { connectMongo, type MongoClient } from '@parley/platform/mongo';
import { connectPostgres, type Pool } from '@parley/platform/postgres';
import { connectRedis, type Redis } from '@parley/platform/redis';
import type { Dependencies } from '@parley/platform/run-service';
import { connectSchemaRegistry, type SchemaRegistry } from '@parley/platform/schema-registry';
import type { Config } from './config.ts';

export interface ProjectorDependencies extends Dependencies {
  kafka: Kafka;
  registry: SchemaRegistry;
  pool: Pool;
  mongo: MongoClient;
  redis: Redis;
}

export function createDependencies({
  config,
  log,
}: {
  config: Config;
  log: Logger;
}): ProjectorDependencies {
  const kafka = connectKafka(config, 'projectors', log);
  const registry = connectSchemaRegistry(config);
  const postgres = connectPostgres(config, 'projectors');
  const mongo = connectMongo(config, 'projectors');
  const redis = connectRedis(config, 'projectors');
  return {
    kafka: kafka.kafka,
    registry: registry.registry,
    pool: postgres.pool,
    mongo: mongo.mongo,
    redis: redis.redis,
    checks: [kafka.check, registry.check, postgres.check, mongo.check, redis.check],
    resources: [kafka.resource, postgres.resource, mongo.resource, redis.resource],
  };
}
