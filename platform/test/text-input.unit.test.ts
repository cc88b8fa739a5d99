import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../src/http.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import { quietLogger } from '../src/testing/fixtures.ts';
import { charsetOf, textProblem } from '../src/text-input.ts';

let app: FastifyInstance;

before(async () => {
  app = createHttpServer({
    service: 'text-test',
    log: quietLogger(),
    metrics: createMetricsRegistry('text-test'),
    checks: [],
  });
  app.post(
    '/items',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['title'],
          properties: {
            title: { type: 'string', minLength: 1 },
            text: { type: 'string', 'x-text': 'multiline' },
            tags: { type: 'array', items: { type: 'string' } },
            nested: { type: 'object', properties: { name: { type: 'string' } } },
          },
        },
        querystring: { type: 'object', properties: { q: { type: 'string' } } },
      },
    },
    async (request) => request.body,
  );
  await app.ready();
});
after(() => app.close());

const post = (payload: string, contentType = 'application/json', url = '/items') =>
  app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });

function assertRefused(
  res: Awaited<ReturnType<typeof post>>,
  field: RegExp,
  code = 'VALIDATION_FAILED',
) {
  assert.equal(res.statusCode, 400, res.body);
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.code, code);
  assert.match(body.detail, field);
}

describe('text input', () => {
  it('refuses NUL and other C0 controls in a single-line field, naming it', async () => {
    for (const control of ['\\u0000', '\\u0001', '\\u001b', '\\u007f', '\\t', '\\n', '\\r']) {
      assertRefused(await post(`{"title":"a${control}b"}`), /title/);
    }
  });

  it('allows tab and line breaks in a multiline field but no other control', async () => {
    const ok = await post('{"title":"t","text":"line one\\nline\\ttwo\\r\\n"}');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().text, 'line one\nline\ttwo\r\n');
    assertRefused(await post('{"title":"t","text":"a\\u0000b"}'), /text/);
    assertRefused(await post('{"title":"t","text":"a\\u000bb"}'), /text/);
  });

  it('checks strings inside arrays and nested objects, and in query strings', async () => {
    assertRefused(await post('{"title":"t","tags":["ok","b\\u0000d"]}'), /tags/);
    assertRefused(await post('{"title":"t","nested":{"name":"\\u0007"}}'), /name/);
    assertRefused(await post('{"title":"t"}', 'application/json', '/items?q=a%00b'), /q/);
  });

  it('refuses lone surrogates, high or low, and takes pairs', async () => {
    assertRefused(await post('{"title":"a\\ud800b"}'), /title/);
    assertRefused(await post('{"title":"a\\udc00"}'), /title/);
    assertRefused(await post('{"title":"\\ud83d"}'), /title/);
    const pair = await post('{"title":"smile \\ud83d\\ude00"}');
    assert.equal(pair.statusCode, 200);
    assert.equal(pair.json().title, 'smile 😀');
  });

  it('refuses a body that is not UTF-8 instead of replacing the bytes', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('{"title":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    const res = await app.inject({
      method: 'POST',
      url: '/items',
      headers: { 'content-type': 'application/json' },
      payload: latin1,
    });
    assertRefused(res, /body/, 'INVALID_UTF8');
  });

  it('refuses any charset but UTF-8, and takes utf-8 in any spelling', async () => {
    assertRefused(
      await post('{"title":"t"}', 'application/json; charset=iso-8859-1'),
      /charset/,
      'UNSUPPORTED_CHARSET',
    );
    assertRefused(
      await post('{"title":"t"}', 'application/json; charset="utf-16"'),
      /charset/,
      'UNSUPPORTED_CHARSET',
    );
    for (const ct of ['application/json; charset=UTF-8', 'application/json;charset="utf8"']) {
      assert.equal((await post('{"title":"t"}', ct)).statusCode, 200, ct);
    }
  });

  it('answers a missing body where one is needed, malformed and prototype-poisoning JSON with problem+json 400', async () => {
    assertRefused(await post(''), /body/, 'VALIDATION_FAILED');
    assertRefused(await post('{"title":'), /body/, 'INVALID_JSON');
    assertRefused(await post('{"title":"t","__proto__":{"x":1}}'), /body/, 'INVALID_JSON');
  });

  it('says what is wrong with a string, or nothing', () => {
    assert.equal(textProblem('fine text é 😀', 'line'), undefined);
    assert.match(textProblem('a\u0000', 'line') ?? '', /U\+0000 at index 1/);
    assert.equal(textProblem('a\nb', 'multiline'), undefined);
    assert.match(textProblem('a\nb', 'line') ?? '', /U\+000A/);
    assert.match(textProblem('\udfff', 'multiline') ?? '', /lone surrogate U\+DFFF/);
    assert.equal(charsetOf('application/json; Charset="UTF-8"'), 'utf-8');
    assert.equal(charsetOf('application/json'), undefined);
  });
});
