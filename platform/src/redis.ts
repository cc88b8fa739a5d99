/** The one place Redis clients are made (ioredis). */
import { Redis } from 'ioredis';
import { type ConfigOf, env } from './config.ts';
import type { HealthCheck } from './health.ts';

export { Redis } from 'ioredis';

export const redisSettings = {
  REDIS_URL: env.url(['redis', 'rediss'], { default: { dev: 'redis://127.0.0.1:16379' } }),
  REDIS_PASSWORD: env.secret({ default: { dev: '' } }),
};

export interface RedisOptions {
  url: string;
  password?: string;
  connectionName: string;
  /**
   * A command not answered by then fails (ioredis `commandTimeout`), so a guard around it needs
   * no timer of its own. None by default: a blocking command may wait longer.
   */
  commandTimeoutMs?: number;
}

/**
 * Commands fail at once while Redis is unreachable (no offline queue), so callers can fall back
 * or answer 503 instead of hanging; the client keeps reconnecting in the background.
 */
export function createRedis(options: RedisOptions): Redis {
  const client = new Redis(options.url, {
    ...(options.password ? { password: options.password } : {}),
    connectionName: options.connectionName,
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
    enableOfflineQueue: false,
    // Commands issued in the same tick leave in one write: under load a request's several
    // commands and other requests' share a socket write (each write costs a system call).
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // Connection errors surface through failing commands and the health check, not as crashes.
  client.on('error', () => {});
  return client;
}

/** QUIT when possible (pending replies arrive first); in any case stop reconnecting. */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
  } catch {
    // Already unreachable: nothing to flush.
  } finally {
    client.disconnect();
  }
}

export function redisHealthCheck(client: Redis): HealthCheck {
  return {
    name: 'redis',
    check: async () => {
      const answer = await client.ping();
      if (answer !== 'PONG') throw new Error(`unexpected PING answer '${answer}'`);
    },
  };
}

/** A client from the shared settings, with its readiness check and how to close it. */
export function connectRedis(
  config: ConfigOf<typeof redisSettings>,
  connectionName: string,
  options: Pick<RedisOptions, 'commandTimeoutMs'> = {},
) {
  const redis = createRedis({
    url: config.REDIS_URL,
    password: config.REDIS_PASSWORD,
    connectionName,
    ...options,
  });
  return {
    redis,
    check: redisHealthCheck(redis),
    resource: { name: 'redis', close: () => closeRedis(redis) },
  };
}
