/**
 * Fixtures for integration tests against the real local stack. Each test makes its own topics,
 * groups, subjects, tables or keys with a random suffix and removes them afterwards.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.ts';
import { createKafka, createTransactionalKafka, kafkaSettings } from '../kafka.ts';
import { createLogger } from '../logger.ts';
import { mongoSettings } from '../mongo.ts';
import { postgresSettings } from '../postgres.ts';
import { redisSettings } from '../redis.ts';
import { schemaRegistrySettings } from '../schema-registry.ts';

export const stackSettings = {
  ...kafkaSettings,
  ...schemaRegistrySettings,
  ...postgresSettings,
  ...mongoSettings,
  ...redisSettings,
};

/** The local stack's addresses, from the same settings the services use. */
export function stackConfig() {
  return loadConfig(stackSettings);
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Polls a probe every 50 ms until it gives something truthy; fails the test after `ms`. */
export async function until<T>(probe: () => T | Promise<T>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const quietLogger = () =>
  createLogger({ service: 'test', level: 'error', environment: 'test' });

export function testKafka(clientId = uniqueName('test')) {
  return createKafka({ brokers: stackConfig().KAFKA_BROKERS, clientId, log: quietLogger() });
}

/** A client for transactional producers, as the command processor makes them. */
export function testTransactionalKafka(clientId = uniqueName('test-tx')) {
  return createTransactionalKafka({
    brokers: stackConfig().KAFKA_BROKERS,
    clientId,
    log: quietLogger(),
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A throwaway redis-server on a free port, for tests that stop or break their Redis. */
export async function startThrowawayRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await acceptsConnections(port)) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Resolves once an ioredis client is connected (at once if it already is). */
export function redisReady(client: {
  status: string;
  once(event: 'ready', cb: () => void): unknown;
}): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => client.once('ready', () => resolve()));
}

/** The tests' Python (fastavro, duckdb), in the venv `npm test` keeps under ~/.cache/parley. */
export function testPython(): string {
  const cache =
    process.env.PARLEY_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'parley');
  return join(cache, 'venv', 'bin', 'python');
}
