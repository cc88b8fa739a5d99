import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { AppError, defineError } from '../src/errors.ts';
import type { HealthCheck } from '../src/health.ts';
import { createHttpServer } from '../src/http.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import { quietLogger } from '../src/testing/fixtures.ts';

const RuleBroken = defineError('RULE_BROKEN', 422, 'A rule was broken');

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(checks: HealthCheck[] = []) {
  app = createHttpServer({
    service: 'test-service',
    log: quietLogger(),
    metrics: createMetricsRegistry('test-service'),
    checks,
    bodyLimit: 1024,
    readinessTimeoutMs: 200,
  });
  app.get('/rule', async () => {
    throw new RuleBroken('title too long', { extensions: { maxLength: 200 } });
  });
  app.get('/bug', async () => {
    throw new Error('secret internal detail');
  });
  app.post(
    '/typed',
    {
      schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
    },
    async (request) => request.body,
  );
  return app;
}

describe('createHttpServer', () => {
  it('answers unknown routes with problem+json 404', async () => {
    const res = await build().inject({ method: 'GET', url: '/nowhere?x=1' });
    assert.equal(res.statusCode, 404);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.deepEqual(res.json(), {
      type: 'https://parley.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
      code: 'NOT_FOUND',
      detail: 'no route for GET /nowhere',
    });
  });

  it('answers a path served with other methods with 405 and the methods it allows', async () => {
    const server = build();
    server.get('/items/:id', async () => ({}));
    server.delete('/items/:id', async () => ({}));
    const uuidParam = {
      params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
    };
    server.get('/things/:id', { schema: uuidParam }, async () => ({}));
    server.post('/things/search', async () => ({}));

    const res = await server.inject({ method: 'PUT', url: '/items/42?x=1', payload: { a: 1 } });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.allow, 'DELETE, GET, HEAD, OPTIONS');
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(res.json().code, 'METHOD_NOT_ALLOWED');
    // A method whose body Fastify refuses before routing (QUERY with no Content-Type) too.
    const query = await server.inject({ method: 'QUERY', url: '/items/42', payload: 'x' });
    assert.equal(query.statusCode, 405);
    // A path a route names on its own, taken with another method by a route with a parameter.
    const search = await server.inject({ method: 'GET', url: '/things/search' });
    assert.equal(search.statusCode, 405);
    assert.equal(search.headers.allow, 'OPTIONS, POST');
    const badId = await server.inject({ method: 'GET', url: '/things/not-an-id' });
    assert.equal(badId.statusCode, 400);
    // A path no route serves is still a 404, whatever the method.
    const other = await server.inject({ method: 'TRACE', url: '/items/42/more' });
    assert.equal(other.statusCode, 404);
    assert.equal(other.json().code, 'NOT_FOUND');
  });

  it('maps an AppError to its status, code, detail and extensions', async () => {
    const res = await build().inject({ method: 'GET', url: '/rule' });
    assert.equal(res.statusCode, 422);
    const body = res.json();
    assert.equal(body.code, 'RULE_BROKEN');
    assert.equal(body.detail, 'title too long');
    assert.equal(body.maxLength, 200);
  });

  it('hides the message of unexpected errors behind a 500', async () => {
    const res = await build().inject({ method: 'GET', url: '/bug' });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, 'INTERNAL');
    assert.doesNotMatch(res.body, /secret internal detail/);
  });

  it('turns schema validation failures into a 400 listing the errors', async () => {
    const res = await build().inject({ method: 'POST', url: '/typed', payload: { n: 'x' } });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.code, 'VALIDATION_FAILED');
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0);
  });

  it('answers malformed JSON and oversize bodies with problem+json', async () => {
    const malformed = await build().inject({
      method: 'POST',
      url: '/typed',
      headers: { 'content-type': 'application/json' },
      payload: '{"n": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.headers['content-type'] as string, /problem\+json/);
    const oversize = await app?.inject({
      method: 'POST',
      url: '/typed',
      payload: { n: 1, pad: 'x'.repeat(2000) },
    });
    assert.equal(oversize?.statusCode, 413);
    assert.equal(oversize?.json().status, 413);
  });

  it('is ready only when every check passes, and names the failing ones', async () => {
    const ok: HealthCheck = { name: 'postgres', check: async () => {} };
    const down: HealthCheck = {
      name: 'redis',
      check: async () => {
        throw new Error('connection refused');
      },
    };
    const hanging: HealthCheck = { name: 'kafka', check: () => new Promise(() => {}) };
    const res = await build([ok, down, hanging]).inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.deepEqual(body.failing, ['redis', 'kafka']);
    assert.equal(body.checks.postgres.status, 'up');
    assert.equal(body.checks.redis.error, 'connection refused');
    assert.match(body.checks.kafka.error, /timed out/);

    const live = await app?.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live?.statusCode, 200);
  });

  it('stays ready but degraded while only non-critical checks fail', async () => {
    const ok: HealthCheck = { name: 'kafka', check: async () => {} };
    const optional: HealthCheck = {
      name: 'redis',
      critical: false,
      check: async () => {
        throw new Error('connection refused');
      },
    };
    const res = await build([ok, optional]).inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'degraded');
    assert.deepEqual(res.json().failing, ['redis']);

    const critical: HealthCheck = { ...optional, name: 'postgres', critical: true };
    const both = await build([optional, critical]).inject({ method: 'GET', url: '/health/ready' });
    assert.equal(both.statusCode, 503);
    assert.equal(both.json().status, 'not-ready');
  });

  it('echoes a well-formed request id and replaces a malformed one', async () => {
    const given = await build().inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'abc-123' },
    });
    assert.equal(given.headers['x-request-id'], 'abc-123');
    const bad = await app?.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'a b\n' },
    });
    assert.match(String(bad?.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('exposes request durations on /metrics', async () => {
    await build().inject({ method: 'GET', url: '/rule' });
    const res = await app?.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res?.statusCode, 200);
    assert.match(
      res?.body ?? '',
      /http_request_duration_seconds_count\{[^}]*route="\/rule"[^}]*status="422"/,
    );
  });

  it('counts per-IP limits by the client the trusted proxies name, and by the peer otherwise', async () => {
    const limited = async (trustedProxies?: readonly string[]) => {
      app = createHttpServer({
        service: 'test-service',
        log: quietLogger(),
        metrics: createMetricsRegistry('test-service'),
        checks: [],
        trustedProxies,
      });
      // In a plugin, as the services' routes are: the rate limit is set up by then.
      await app.register(async (routes) => {
        routes.get(
          '/limited',
          { config: { rateLimit: { max: 1, timeWindow: 60_000 } } },
          async (request) => ({ ip: request.ip }),
        );
      });
      return app;
    };
    const from = (server: FastifyInstance, remoteAddress: string, forwardedFor?: string) =>
      server.inject({
        method: 'GET',
        url: '/limited',
        remoteAddress,
        headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
      });

    // Behind a trusted load balancer: two clients, one budget each; a client's own header is not
    // believed past the balancer (it appends the address it saw).
    const behind = await limited(['10.0.0.0/20']);
    const ann = await from(behind, '10.0.3.4', '203.0.113.5');
    assert.equal(ann.statusCode, 200);
    assert.equal(ann.json().ip, '203.0.113.5');
    assert.equal((await from(behind, '10.0.9.9', '198.51.100.7')).statusCode, 200);
    const forged = await from(behind, '10.0.3.4', '192.0.2.1, 203.0.113.5');
    assert.equal(forged.statusCode, 429, 'the forged first hop does not buy a new budget');
    // A peer outside the trusted ranges is the client, whatever it forwards.
    const direct = await from(behind, '198.18.0.1', '192.0.2.50');
    assert.equal(direct.json().ip, '198.18.0.1');
    assert.equal((await from(behind, '198.18.0.1', '192.0.2.51')).statusCode, 429);
    await behind.close();

    // Trusting no one: the header is ignored, every request counts against the peer.
    const alone = await limited([]);
    assert.equal((await from(alone, '10.0.3.4', '203.0.113.5')).json().ip, '10.0.3.4');
    assert.equal((await from(alone, '10.0.3.4', '203.0.113.6')).statusCode, 429);
  });

  it('answers 503 with Retry-After, not 500, when a store is unreachable', async () => {
    const server = build();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:15432'), {
      code: 'ECONNREFUSED',
    });
    server.get('/store-down', async () => {
      throw new Error('could not run the query', { cause: refused });
    });
    const res = await server.inject({ method: 'GET', url: '/store-down' });
    assert.equal(res.statusCode, 503);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    assert.equal(res.json().code, 'DEPENDENCY_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '5');
    assert.doesNotMatch(res.body, /15432|ECONNREFUSED/, 'no address or cause in the answer');
  });

  it('answers 408 and closes the socket when a request does not arrive whole in time', async () => {
    app = createHttpServer({
      service: 'test-service',
      log: quietLogger(),
      metrics: createMetricsRegistry('test-service'),
      checks: [],
      requestTimeoutMs: 1_500,
    });
    app.post('/echo', async (request) => request.body);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    // Headers, then a body that never comes: a slow client holding a socket.
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100\r\n\r\n{"a":',
    );
    const started = Date.now();
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    await new Promise((resolve) => socket.once('close', resolve));
    const waited = Date.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
    assert.ok(waited >= 1_000 && waited < 5_000, `closed after ${waited} ms`);
  });

  it('keeps idle keep-alive connections as long as asked (72 s by default)', async () => {
    const base = () => ({
      service: 's',
      log: quietLogger(),
      metrics: createMetricsRegistry('s'),
      checks: [],
    });
    const byDefault = createHttpServer(base());
    const behindBalancer = createHttpServer({ ...base(), keepAliveSeconds: 3605 });
    assert.equal(byDefault.server.keepAliveTimeout, 72_000);
    assert.equal(behindBalancer.server.keepAliveTimeout, 3_605_000);
    await byDefault.close();
    await behindBalancer.close();
  });

  it('keeps AppError usable directly', () => {
    const error = new AppError('X', 409, 'conflict', { cause: new Error('root') });
    assert.equal(error.status, 409);
    assert.ok(error.cause instanceof Error);
  });
});
