// The commands benchmark's Emmett peer in process (Fastify inject) on a database of its own: it
// answers the two commands as the command API does, stores encrypted text only, refuses what the
// decider refuses, and orders concurrent posts to one conversation by retrying on conflict.
// Its own process: Emmett changes pg's type parsers for the whole process.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { createPostgresPool } from '@parley/platform/postgres';
import { quietLogger, stackConfig } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { settings } from './config.ts';
import { createDatabase } from './database.ts';
import { createDependencies, type PeerDependencies } from './dependencies.ts';

const key = createSigningKey();
const alice = randomUUID();
const bob = randomUUID();
const token = (sub: string) => `Bearer ${signToken(key, { sub })}`;

let database: Awaited<ReturnType<typeof createDatabase>>;
let deps: PeerDependencies;
let app: FastifyInstance;

before(async () => {
  database = await createDatabase(stackConfig(), `parley_test_emmett_${randomUUID().slice(0, 8)}`);
  const config = loadConfig(settings, {
    source: { ...process.env, ...serviceKeyEnv(key), EVENT_STORE_URL: database.url },
  });
  const metrics = createMetricsRegistry('emmett-command-api');
  deps = await createDependencies({ config, log: quietLogger(), metrics });
  app = await buildApp({ config, log: quietLogger(), metrics, deps });
});

after(async () => {
  await app?.close();
  for (const resource of deps?.resources ?? []) await resource.close().catch(() => {});
  await database?.drop();
});

const start = (owner = alice) =>
  app.inject({
    method: 'POST',
    url: '/v1/conversations',
    headers: { authorization: token(owner) },
    payload: { title: 'Plans' },
  });

const post = (id: string, text: string, as = alice, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/v1/conversations/${id}/messages`,
    headers: { authorization: token(as), ...headers },
    payload: { text },
  });

describe('Emmett peer command API', () => {
  it('starts a conversation and posts to it: 201, Location, ETag, version, store position', async () => {
    const started = await start();
    assert.equal(started.statusCode, 201, started.body);
    const { aggregateId, version, position } = started.json();
    assert.equal(started.headers.location, `/v1/conversations/${aggregateId}`);
    assert.equal(started.headers.etag, '"1"');
    assert.equal(version, 1);
    assert.match(position, /^\d+$/);

    const posted = await post(aggregateId, '  Lisbon with kids?  ');
    assert.equal(posted.statusCode, 201, posted.body);
    assert.equal(posted.json().version, 2);
    assert.equal(posted.headers.etag, '"2"');
  });

  it('stores events as JSON with the text encrypted (base64) and never in plain text', async () => {
    const { aggregateId } = (await start()).json();
    await post(aggregateId, 'a secret plan');
    const pool = createPostgresPool({ url: database.url, applicationName: 'test' });
    try {
      const { rows } = await pool.query<{ message_type: string; message_data: unknown }>(
        'select message_type, message_data from emt_messages where stream_id = $1 order by stream_position',
        [`conversation-${aggregateId}`],
      );
      assert.deepEqual(
        rows.map((r) => r.message_type),
        ['ConversationStarted', 'UserMessagePosted'],
      );
      const posted = JSON.stringify(rows[1]?.message_data);
      assert.doesNotMatch(posted, /a secret plan/);
      assert.match(posted, /"encryptedText":\{"keyId":"[^"]+","nonce":"[A-Za-z0-9+/=]+"/);
    } finally {
      await pool.end();
    }
  });

  it('refuses as the command API does: 401 without a token, 400 for a bad body, 404 for a stranger, 409 for a stale If-Match', async () => {
    const { aggregateId } = (await start()).json();
    const anonymous = await app.inject({
      method: 'POST',
      url: '/v1/conversations',
      payload: { title: 'x' },
    });
    assert.equal(anonymous.statusCode, 401);

    const extra = await app.inject({
      method: 'POST',
      url: `/v1/conversations/${aggregateId}/messages`,
      headers: { authorization: token(alice) },
      payload: { text: 'hi', extra: true },
    });
    assert.equal(extra.statusCode, 400);
    assert.equal(extra.json().code, 'VALIDATION_FAILED');

    const blank = await post(aggregateId, '   ');
    assert.equal(blank.statusCode, 400);
    assert.equal(blank.json().code, 'VALIDATION_FAILED');
    assert.match(blank.json().detail, /text must not be blank/);

    const stranger = await post(aggregateId, 'hello', bob);
    assert.equal(stranger.statusCode, 404);
    assert.equal(stranger.headers['content-type'], 'application/problem+json; charset=utf-8');

    const stale = await post(aggregateId, 'hello', alice, { 'if-match': '"7"' });
    assert.equal(stale.statusCode, 409);
    assert.equal(stale.json().code, 'VERSION_CONFLICT');
  });

  it('takes concurrent posts to one conversation, each at its own version', async () => {
    const { aggregateId } = (await start()).json();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(aggregateId, `message ${i}`)),
    );
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      answers.map(() => 201),
    );
    const versions = answers.map((a) => a.json().version as number).sort((a, b) => a - b);
    assert.deepEqual(versions, [2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
