// Errors before any route answers: Node's parser (malformed requests, headers or a request line
// too large) and Fastify's router (a path parameter too long, bad percent-encoding). Each is
// problem+json, like every other error, over a real socket.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../src/http.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import { quietLogger } from '../src/testing/fixtures.ts';

let app: FastifyInstance;
let port = 0;

before(async () => {
  app = createHttpServer({
    service: 'client-errors',
    log: quietLogger(),
    metrics: createMetricsRegistry('client-errors'),
    checks: [],
  });
  app.get('/v1/things/:id', async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
after(() => app.close());

/** Sends raw bytes and reads the whole answer. */
function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve) => {
    let data = '';
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body });
    });
  });
}

const request = (line: string, headers = '') =>
  `${line}\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;

describe('errors before routing', () => {
  const cases: Array<[string, string, number, string]> = [
    ['a malformed request', 'GARBAGE\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      'a request line over the header limit',
      request(`GET /${'a'.repeat(20_000)} HTTP/1.1`),
      431,
      'HEADERS_TOO_LARGE',
    ],
    [
      'headers over the limit',
      request('GET / HTTP/1.1', `X-Big: ${'b'.repeat(20_000)}\r\n`),
      431,
      'HEADERS_TOO_LARGE',
    ],
    [
      'a path parameter over its length',
      request(`GET /v1/things/${'a'.repeat(200)} HTTP/1.1`),
      414,
      'MAX_PARAM_LENGTH',
    ],
    [
      'bad percent-encoding in the path',
      request('GET /v1/things/%E0%A4%A HTTP/1.1'),
      400,
      'BAD_URL',
    ],
  ];
  for (const [what, bytes, status, code] of cases) {
    it(`answers ${what} with ${status} problem+json`, async () => {
      const res = await raw(bytes);
      assert.equal(res.status, status);
      assert.match(res.headers, /content-type: application\/problem\+json/);
      const body = JSON.parse(res.body);
      assert.equal(body.status, status);
      assert.equal(body.code, code);
      assert.ok(body.type && body.title && body.detail);
      assert.ok(!res.body.includes('aaaaaaaaaa'), 'the request is not echoed');
    });
  }
});
