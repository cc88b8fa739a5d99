// The local stack's ports are set in infra/local/stack.env; the services' dev defaults must point
// at the same places, or `npm start` would start services that cannot reach their stores.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { stackSettings } from '../src/testing/fixtures.ts';

function stackEnv(): Record<string, string> {
  const text = readFileSync(new URL('../../infra/local/stack.env', import.meta.url), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z0-9_]+=/.test(line))
      .map((line) => line.split('=', 2) as [string, string]),
  );
}

it('dev defaults of every client match the ports of the local stack', () => {
  const ports = stackEnv();
  const config = loadConfig(stackSettings, { source: {} });
  assert.deepEqual(config.KAFKA_BROKERS, [`127.0.0.1:${ports.KAFKA_PORT}`]);
  assert.equal(new URL(config.SCHEMA_REGISTRY_URL).port, ports.REGISTRY_PORT);
  assert.equal(new URL(config.POSTGRES_URL).port, ports.POSTGRES_PORT);
  assert.equal(new URL(config.REDIS_URL).port, ports.REDIS_PORT);
  assert.equal(new URL(config.MONGO_URL).port, ports.MONGO_PORT);
});

it('the docker-compose stack publishes the same loopback ports', () => {
  const ports = stackEnv();
  const compose = readFileSync(new URL('../../infra/docker-compose.yml', import.meta.url), 'utf8');
  for (const key of ['KAFKA_PORT', 'REGISTRY_PORT', 'POSTGRES_PORT', 'REDIS_PORT', 'MONGO_PORT']) {
    assert.match(
      compose,
      new RegExp(`"127\\.0\\.0\\.1:${ports[key]}:\\d+"`),
      `${key} in docker-compose.yml`,
    );
  }
});
