// Readiness names the failing dependency: with its Redis gone the query API still serves (from
// the databases), so /health/ready stays 200 with status "degraded" and names redis.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A stand-in for another service's readiness endpoint, answering what `answer` says. */
async function readinessEndpoint(answer: () => { code: number; status: string }) {
  const server = createServer((req, res) => {
    const { code, status } = answer();
    res.writeHead(req.url === '/health/ready' ? code : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status, failing: [], checks: {} }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

it('tells anyone, without a token, which parts of the product work: GET /v1/status', async () => {
  const assistant = { code: 200, status: 'ready' };
  const others = await readinessEndpoint(() => ({ code: 200, status: 'ready' }));
  const reactor = await readinessEndpoint(() => assistant);
  const status = await startQueryApi({
    JWT_PUBLIC_KEYS: publicKeySet(createSigningKey()),
    STATUS_PROBES: [
      `command-api=${others.url}`,
      `command-processor=${others.url}`,
      `projectors=${others.url}`,
      `assistant=${reactor.url}`,
    ].join(','),
    STATUS_POLL_MS: '1000',
  });
  const read = async () => {
    const res = await status.app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'public, max-age=5');
    return res.json() as { status: string; parts: Record<string, string>; checkedAt: string };
  };
  try {
    const up = await eventually(read, (s) => s.status === 'up');
    assert.deepEqual(up.parts, { sending: 'up', reading: 'up', updates: 'up', assistant: 'up' });
    // Nothing internal: no dependency names, errors or addresses.
    assert.doesNotMatch(JSON.stringify(up), /redis|postgres|mongo|127\.0\.0\.1|error/i);

    // The reactor says it is not ready: only the assistant part is down.
    assistant.code = 503;
    assistant.status = 'not-ready';
    const partly = await eventually(read, (s) => s.parts.assistant === 'down');
    assert.equal(partly.status, 'degraded');
    assert.deepEqual(partly.parts, {
      sending: 'up',
      reading: 'up',
      updates: 'up',
      assistant: 'down',
    });

    // The other services stop answering: sending and updates are down too.
    others.close();
    const gone = await eventually(read, (s) => s.parts.sending === 'down');
    assert.equal(gone.parts.updates, 'down');
    assert.equal(gone.parts.reading, 'up');
    assert.equal(gone.status, 'degraded');
  } finally {
    await status.close();
    others.close();
    reactor.close();
  }
});
