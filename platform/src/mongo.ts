/**
 * The one place MongoDB clients are made (official driver; locally SecantusDB speaks the wire
 * protocol, ADR 0029).
 */
import { MongoClient } from 'mongodb';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';

export type { Collection, Db, MongoClient } from 'mongodb';

export const mongoSettings = {
  MONGO_URL: env.url(['mongodb', 'mongodb+srv'], {
    // Acknowledged once journaled: a crash of the server loses no acknowledged write.
    default: { dev: 'mongodb://127.0.0.1:27027/parley?journal=true' },
  }),
  /** Connections per client. */
  MONGO_MAX_POOL_SIZE: env.int(1, 500, { default: 20 }),
};

export interface MongoOptions {
  url: string;
  appName: string;
  maxPoolSize?: number;
}

export function createMongoClient(options: MongoOptions): MongoClient {
  return new MongoClient(options.url, {
    appName: options.appName,
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    maxPoolSize: options.maxPoolSize ?? 20,
  });
}

export function mongoHealthCheck(client: MongoClient): HealthCheck {
  return {
    name: 'mongodb',
    check: async () => {
      await client.db().command({ ping: 1 });
    },
  };
}

/** A client from the shared settings, with its readiness check and how to close it. */
export function connectMongo(config: ConfigOf<typeof mongoSettings>, appName: string) {
  const mongo = createMongoClient({
    url: config.MONGO_URL,
    appName,
    maxPoolSize: config.MONGO_MAX_POOL_SIZE,
  });
  return {
    mongo,
    check: mongoHealthCheck(mongo),
    resource: { name: 'mongodb', close: () => mongo.close() },
  };
}
