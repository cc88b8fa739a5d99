// Readiness names the failing dependency: with its Redis gone the query API still serves (from
// the databases), so /health/ready stays 200 with status "degraded" and names redis.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startThrowawayRedis } from '@parley/platform/testing/fixtures';
import { createSigningKey, publicKeySet } from '@parley/platform/testing/tokens';
import { type QueryApi, startQueryApi } from './helper.ts';

let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let api: QueryApi;

before(async () => {
  redis = await startThrowawayRedis();
  api = await startQueryApi({
    REDIS_URL: redis.url,
    JWT_PUBLIC_KEYS: publicKeySet(createSigningKey()),
  });
});

after(async () => {
  await api.close();
  await redis.stop();
});

async function ready() {
  const res = await api.app.inject({ method: 'GET', url: '/health/ready' });
  return { status: res.statusCode, body: res.json() };
}

async function eventually<T>(
  probe: () => Promise<T>,
  accept: (v: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('is ready with every dependency up, and degraded naming redis when Redis stops', async () => {
  const up = await eventually(ready, (r) => r.status === 200 && r.body.status === 'ready');
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.deepEqual(up.body.failing, []);

  await redis.stop();

  const down = await eventually(ready, (r) => r.body.status === 'degraded');
  assert.equal(down.status, 200);
  assert.equal(down.body.status, 'degraded');
  assert.deepEqual(down.body.failing, ['redis']);
  assert.equal(down.body.checks.postgres.status, 'up');
  assert.equal(down.body.checks.mongodb.status, 'up');

  const live = await api.app.inject({ method: 'GET', url: '/health/live' });
  assert.equal(live.statusCode, 200);
});
