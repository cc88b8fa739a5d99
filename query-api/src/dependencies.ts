import type { Logger } from '@parley/platform/logger';
import { connectMongo, type MongoClient } from '@parley/platform/mongo';
import { connectPostgres, type Pool } from '@parley/platform/postgres';
import { connectRedis, type Redis } from '@parley/platform/redis';
import type { Dependencies } from '@parley/platform/run-service';
import type { Config } from './config.ts';

export interface QueryApiDependencies extends Dependencies {
  pool: Pool;
  mongo: MongoClient;
  redis: Redis;
}

export function createDependencies({
  config,
}: {
  config: Config;
  log: Logger;
}): QueryApiDependencies {
  const postgres = connectPostgres(config, 'query-api');
  const mongo = connectMongo(config, 'query-api');
  const redis = connectRedis(config, 'query-api');
  return {
    pool: postgres.pool,
    mongo: mongo.mongo,
    redis: redis.redis,
    checks: [redis.check, postgres.check, mongo.check],
    resources: [redis.resource, postgres.resource, mongo.resource],
  };
}
