import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../src/http.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import { quietLogger } from '../src/testing/fixtures.ts';
import {
  charsetOf,
  NOT_BLANK_PATTERN,
  TEXT_PATTERNS,
  type TextKind,
  textProblem,
  withDocumentedTextRules,
} from '../src/text-input.ts';

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
            title: { type: 'string', minLength: 1, 'x-not-blank': true },
            text: { type: 'string', 'x-text': 'multiline' },
            tags: { type: 'array', items: { type: 'string' } },
            nested: { type: 'object', properties: { name: { type: 'string' } } },
          },
        },
        querystring: { type: 'object', properties: { q: { type: 'string' } } },
        headers: { type: 'object', properties: { 'x-note': { type: 'string' } } },
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

  it('allows a tab in a header value (an HTTP field value may hold one), no other control', async () => {
    const headers = { 'content-type': 'application/json', 'x-note': 'a\tb' };
    const ok = await app.inject({
      method: 'POST',
      url: '/items',
      headers,
      payload: '{"title":"t"}',
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const bell = await app.inject({
      method: 'POST',
      url: '/items',
      headers: { ...headers, 'x-note': 'a\u0007b' },
      payload: '{"title":"t"}',
    });
    assertRefused(bell, /x-note/);
  });

  it('states each text rule as a pattern that refuses what the rule refuses, but lone surrogates', () => {
    // Every single code unit around the edges, then random strings of code units and pairs.
    const samples: string[] = [];
    for (let code = 0; code < 0x110; code++) samples.push(`a${String.fromCharCode(code)}b`);
    for (const code of [0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff]) {
      samples.push(String.fromCharCode(code), `x${String.fromCharCode(code)}`);
    }
    samples.push('', '😀', '\ud83d\ude00\ud83d', '\ude00\ud83d', 'line\r\nnext\t');
    const lone = /\p{Cs}/u;
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const units = [0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x41, 0x7f, 0xe9, 0xd83d, 0xde00, 0xfeff];
    for (let i = 0; i < 2000; i++) {
      const length = next() % 8;
      let text = '';
      for (let j = 0; j < length; j++)
        text += String.fromCharCode(units[next() % units.length] ?? 0);
      samples.push(text);
    }
    for (const kind of ['line', 'multiline'] as TextKind[]) {
      const pattern = new RegExp(TEXT_PATTERNS[kind], 'u');
      for (const text of samples) {
        const refused = textProblem(text, kind) !== undefined;
        // The pattern cannot name a lone surrogate; the rule refuses it anyway.
        if (lone.test(text)) assert.ok(refused, JSON.stringify(text));
        else assert.equal(pattern.test(text), !refused, JSON.stringify(text));
      }
    }
  });

  it('shows the text rules in the OpenAPI document as patterns where a string has none', () => {
    const document = withDocumentedTextRules({
      openapi: '3.1.0',
      paths: {
        '/items/{id}': {
          post: {
            parameters: [
              { in: 'path', name: 'id', schema: { type: 'string', format: 'uuid' } },
              { in: 'query', name: 'q', schema: { type: 'string' } },
              { in: 'header', name: 'x-note', schema: { type: 'string', maxLength: 9 } },
              { in: 'header', name: 'x-key', schema: { type: 'string', pattern: '^[a-z]+$' } },
            ],
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      title: { type: 'string' },
                      text: { type: 'string', 'x-text': 'multiline' },
                      status: { type: 'string', enum: ['active'] },
                      tags: { type: 'array', items: { type: 'string' } },
                    },
                  },
                },
              },
            },
            responses: { 200: { description: 'ok' } },
          },
        },
      },
    });
    const operation = document.paths['/items/{id}'].post;
    const [id, q, note, key] = operation.parameters.map((p) => p.schema);
    assert.deepEqual(id, { type: 'string', format: 'uuid' });
    assert.equal((q as { pattern?: string }).pattern, TEXT_PATTERNS.line);
    assert.deepEqual(note, { type: 'string', maxLength: 9, pattern: TEXT_PATTERNS.multiline });
    assert.deepEqual(key, { type: 'string', pattern: '^[a-z]+$' });
    const body = operation.requestBody.content['application/json'].schema.properties;
    assert.equal((body.title as { pattern?: string }).pattern, TEXT_PATTERNS.line);
    assert.equal((body.text as { pattern?: string }).pattern, TEXT_PATTERNS.multiline);
    assert.deepEqual(body.status, { type: 'string', enum: ['active'] });
    assert.equal((body.tags.items as { pattern?: string }).pattern, TEXT_PATTERNS.line);
    assert.deepEqual(operation.responses, { 200: { description: 'ok' } });
  });

  it('refuses a field that says not blank when it holds only spaces and line breaks', async () => {
    for (const blank of [' ', '   ', '\\u00a0', '\\ufeff', '\\u3000 ']) {
      const res = await post(`{"title":"${blank}"}`);
      assertRefused(res, /title must not be blank/);
    }
    assert.equal((await post('{"title":" a "}')).statusCode, 200);
  });

  it('states not blank as a pattern that matches exactly what trimming leaves something of', () => {
    const pattern = new RegExp(NOT_BLANK_PATTERN, 'u');
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCharCode(code);
      assert.equal(pattern.test(`  ${char}\n`), char.trim() !== '', `U+${code.toString(16)}`);
    }
    const document = withDocumentedTextRules({
      paths: {
        '/t': {
          post: {
            requestBody: {
              content: {
                'application/json': { schema: { type: 'string', 'x-not-blank': true } },
              },
            },
          },
        },
      },
    });
    assert.deepEqual(document.paths['/t'].post.requestBody.content['application/json'].schema, {
      type: 'string',
      'x-not-blank': true,
      pattern: TEXT_PATTERNS.line,
      allOf: [{ pattern: NOT_BLANK_PATTERN }],
    });
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
