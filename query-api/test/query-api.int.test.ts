// The query API on the real stack, fed by the real write side: the command API (in process) and
// processor append on topics of this test's own, the projectors build the read models under this
// test's namespace, and the query API reads them. Every route with its owner, another user,
// no token, and the admin and analyst roles; read-your-writes; paging while messages arrive;
// cache-aside fills and single-flight; Redis, PostgreSQL or MongoDB unreachable; event streams.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '@parley/platform/config';
import { createProducer, type Producer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { namespaceOf, pointerKey, viewKeys } from '@parley/platform/read-model-names';
import {
  acceptsConnections,
  freePort,
  quietLogger,
  redisReady,
} from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import type { FastifyInstance } from 'fastify';
import { processorFixture } from '../../command-api/test/processor-fixture.ts';
import { settings as projectorSettings } from '../../projectors/src/config.ts';
import { connectStores, projectorContext } from '../../projectors/src/dependencies.ts';
import { PROJECTIONS } from '../../projectors/src/read-models/index.ts';
import { projectionMetrics } from '../../projectors/src/runtime/metrics.ts';
import { type Supervisor, startSupervisor } from '../../projectors/src/runtime/supervisor.ts';
import { counterValue, openEventStream, type QueryApi, startQueryApi } from './helper.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
const PASSWORD = 'correct horse battery staple';
let fixture: Awaited<ReturnType<typeof processorFixture>>;
let commands: Awaited<ReturnType<typeof fixture.commandApi>>;
let stores: ReturnType<typeof connectStores>;
let producer: Producer;
let supervisor: Supervisor;
let query: QueryApi;
let namespace = '';
const queryEnv = () => ({
  JWT_PUBLIC_KEYS: keyEnv.JWT_PUBLIC_KEYS ?? '',
  TOPIC_PREFIX: fixture.topicPrefix,
  READ_RATE_LIMIT_PER_MINUTE: '100000',
  GENERATION_CACHE_MS: '200',
});

before(async () => {
  fixture = await processorFixture();
  await fixture.createDeadLetterTopics();
  await fixture.start();
  commands = await fixture.commandApi({
    ...keyEnv,
    COMMAND_OUTCOME_WAIT_MS: '10000',
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    WRITE_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const config = loadConfig(projectorSettings, {
    source: { ...process.env, PII_MASTER_KEY: keyEnv.PII_MASTER_KEY ?? '' },
  });
  stores = connectStores(config, quietLogger(), 'query-api-test');
  producer = createProducer(stores.kafka.kafka, { idempotent: true });
  await producer.connect();
  namespace = namespaceOf(fixture.topicPrefix);
  const registry = createMetricsRegistry('projectors-test');
  supervisor = await startSupervisor({
    ...projectorContext(stores, {
      producer,
      names: fixture.names,
      log: quietLogger(),
      metrics: projectionMetrics(registry),
    }),
    projections: PROJECTIONS,
    namespace,
    pollMs: 500,
    registry,
  });
  query = await startQueryApi(queryEnv());
});

after(async () => {
  await query?.close();
  await supervisor?.stop();
  await producer?.disconnect();
  // This test's read models: every generation of every projection in its namespace.
  for (const projection of PROJECTIONS) {
    const generation = {
      projection: pointerKey(namespace, projection.name),
      number: 1,
      namespace,
    };
    await projection.drop(stores.stores, generation).catch(() => {});
  }
  await stores.stores.pool
    .query('delete from read.generations where projection like $1', [`${namespace}%`])
    .catch(() => {});
  await stores.stores.pool
    .query('delete from read.checkpoints where projection like $1', [`${namespace}%`])
    .catch(() => {});
  for (const r of stores.resources) await r.close().catch(() => {});
  await commands?.close();
  await fixture.cleanup();
});

async function until<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  ms = 30_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function command(method: 'POST' | 'DELETE', url: string, token: string, payload?: object) {
  const res = await commands.app.inject({
    method,
    url,
    ...(payload ? { payload } : {}),
    headers: { authorization: `Bearer ${token}` },
  });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json() as { aggregateId: string; version: number; position: string };
}

interface Person {
  userId: string;
  email: string;
  accessToken: string;
}

async function registerOnce(): Promise<Person> {
  const email = `reader.${randomUUID().slice(0, 8)}@example.com`;
  const res = await commands.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, displayName: `Name ${email}` },
  });
  assert.equal(res.statusCode, 201, res.body);
  return { email, ...(res.json() as { userId: string; accessToken: string }) };
}

/**
 * A registered user whose profile the read models hold. The registration commits the user's data
 * key before it sends the command, so the projectors always decrypt a new user's profile (they
 * once could see the event first and take the user for erased).
 */
async function registered(): Promise<Person> {
  const person = await registerOnce();
  const me = await get('/v1/me', person.accessToken, { 'x-min-version': '1' });
  assert.equal(me.statusCode, 200, me.body);
  assert.equal(me.json().email, person.email, 'the projected profile holds the email');
  return person;
}

const get = (
  url: string,
  token?: string,
  headers: Record<string, string> = {},
  app: FastifyInstance = query.app,
) =>
  app.inject({
    method: 'GET',
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });

const as = (userId: string, roles: string[]) => signToken(key, { sub: userId, roles });

/** A redis-server of this test's own on a given port (so it can come back on the same one). */
async function redisServerOn(port: number) {
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await until(() => acceptsConnections(port), `redis-server on ${port}`, 10_000);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

async function conversationWith(owner: Person, title: string, messages: number) {
  const started = await command('POST', '/v1/conversations', owner.accessToken, { title });
  let last = started;
  for (let i = 0; i < messages; i++) {
    last = await command(
      'POST',
      `/v1/conversations/${started.aggregateId}/messages`,
      owner.accessToken,
      {
        text: `${title} message ${i}`,
      },
    );
  }
  return { id: started.aggregateId, version: last.version };
}

let ann: Person;
let bob: Person;
let annChat: { id: string; version: number };

describe('query API', () => {
  before(async () => {
    [ann, bob] = await Promise.all([registered(), registered()]);
    annChat = await conversationWith(ann, 'Lisbon', 3);
  });

  it('answers /v1/me for its owner with an ETag, 304 on If-None-Match, 401 without a token', async () => {
    const res = await get('/v1/me', ann.accessToken, { 'x-min-version': '1' });
    assert.equal(res.statusCode, 200, res.body);
    const me = res.json();
    assert.equal(me.userId, ann.userId);
    assert.equal(me.email, ann.email);
    assert.equal(res.headers.etag, `"${me.version}"`);
    assert.equal(res.headers['cache-control'], 'private, no-cache');
    const again = await get('/v1/me', ann.accessToken, {
      'if-none-match': String(res.headers.etag),
    });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const anonymous = await get('/v1/me');
    assert.equal(anonymous.statusCode, 401);
    assert.match(String(anonymous.headers['content-type']), /^application\/problem\+json/);
    const forged = await get('/v1/me', signToken(createSigningKey(), { sub: ann.userId }));
    assert.equal(forged.statusCode, 401);
  });

  it('shows a conversation, its messages and its stream to the owner only', async () => {
    const detail = await get(`/v1/conversations/${annChat.id}`, ann.accessToken, {
      'x-min-version': String(annChat.version),
    });
    assert.equal(detail.statusCode, 200, detail.body);
    assert.equal(detail.json().title, 'Lisbon');
    assert.equal(detail.json().version, annChat.version);
    assert.equal(detail.headers['x-view-stale'], undefined);
    assert.deepEqual(
      detail.json().messages.map((m: { text: string }) => m.text),
      ['Lisbon message 0', 'Lisbon message 1', 'Lisbon message 2'],
    );
    const messages = await get(`/v1/conversations/${annChat.id}/messages`, ann.accessToken);
    assert.equal(messages.statusCode, 200);
    assert.equal(messages.json().items[0].text, 'Lisbon message 2');
    const list = await get('/v1/conversations', ann.accessToken, {
      'x-min-version': `${annChat.id}:${annChat.version}`,
    });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list.json().items.map((i: { id: string }) => i.id),
      [annChat.id],
    );
    assert.equal(list.json().items[0].lastMessage.preview, 'Lisbon message 2');

    for (const url of [
      `/v1/conversations/${annChat.id}`,
      `/v1/conversations/${annChat.id}/messages`,
      `/v1/conversations/${annChat.id}/events`,
    ]) {
      const other = await get(url, bob.accessToken);
      assert.equal(other.statusCode, 404, `${url} for another user`);
      assert.equal(other.json().code, 'NOT_FOUND');
      const admin = await get(url, as(bob.userId, ['admin']));
      assert.equal(admin.statusCode, 404, `${url} is the owner's, even for an admin`);
      const anonymous = await get(url);
      assert.equal(anonymous.statusCode, 401, `${url} without a token`);
    }
    const bobs = await get('/v1/conversations', bob.accessToken);
    assert.deepEqual(bobs.json().items, []);
    const bad = await get('/v1/conversations/not-a-uuid', ann.accessToken);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
  });

  it('filters conversations by status and pages them', async () => {
    const carol = await registered();
    const chats = [];
    for (const title of ['One', 'Two', 'Three'])
      chats.push(await conversationWith(carol, title, 0));
    const archived = await command(
      'POST',
      `/v1/conversations/${chats[0]?.id}/archive`,
      carol.accessToken,
    );
    const ids = new Set<string>();
    let cursor: string | null = null;
    do {
      const res = await get(
        `/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        carol.accessToken,
        { 'x-min-version': `${chats[0]?.id}:${archived.version}` },
      );
      assert.equal(res.statusCode, 200, res.body);
      for (const item of res.json().items) {
        assert.ok(!ids.has(item.id), 'no conversation twice');
        ids.add(item.id);
      }
      cursor = res.json().next;
    } while (cursor);
    assert.equal(ids.size, 3);
    const onlyArchived = await get('/v1/conversations?status=archived', carol.accessToken);
    assert.deepEqual(
      onlyArchived.json().items.map((i: { id: string }) => i.id),
      [chats[0]?.id],
    );
    const active = await get('/v1/conversations?status=active', carol.accessToken);
    assert.equal(active.json().items.length, 2);
  });

  it('lets admins read users by id and search by email or status; others get 403', async () => {
    const admin = as(randomUUID(), ['admin']);
    const one = await get(`/v1/users/${ann.userId}`, admin);
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().email, ann.email);
    assert.equal(one.headers['cache-control'], 'no-store');
    const search = (token: string, payload: object) =>
      query.app.inject({
        method: 'POST',
        url: '/v1/users/search',
        payload,
        headers: { authorization: `Bearer ${token}` },
      });
    const byEmail = await search(admin, { email: ann.email.toUpperCase() });
    assert.equal(byEmail.statusCode, 200, byEmail.body);
    assert.deepEqual(
      byEmail.json().items.map((u: { userId: string }) => u.userId),
      [ann.userId],
    );
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await search(admin, {
        status: 'active',
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      assert.equal(page.statusCode, 200, page.body);
      for (const u of page.json().items) {
        assert.ok(!seen.has(u.userId));
        seen.add(u.userId);
      }
      cursor = page.json().next ?? undefined;
    } while (cursor && seen.size < 10);
    assert.ok(seen.has(ann.userId) && seen.has(bob.userId));
    assert.equal((await get(`/v1/users/${ann.userId}`, ann.accessToken)).statusCode, 403);
    assert.equal(
      (await get(`/v1/users/${ann.userId}`, as(ann.userId, ['analyst']))).statusCode,
      403,
    );
    assert.equal((await search(bob.accessToken, { email: ann.email })).statusCode, 403);
    assert.equal((await get(`/v1/users/${ann.userId}`)).statusCode, 401);
    const unknownField = await search(admin, { email: ann.email, extra: 1 });
    assert.equal(unknownField.statusCode, 400);
  });

  it('reports usage per day to its owner and only aggregates to analysts', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const mine = await until(async () => {
      const res = await get(`/v1/usage?from=${today}&to=${today}`, ann.accessToken);
      return res.json().totals?.messages === 3 && res;
    }, 'the usage of today');
    assert.equal(mine.statusCode, 200);
    assert.deepEqual(
      mine.json().days.map((d: { day: string }) => d.day),
      [today],
    );
    const bobs = await get(`/v1/usage?from=${today}&to=${today}`, bob.accessToken);
    assert.equal(bobs.json().totals.messages, 0);
    const analyst = as(randomUUID(), ['analyst']);
    const all = await get(`/v1/analytics/usage?from=${today}&to=${today}`, analyst);
    assert.equal(all.statusCode, 200, all.body);
    const day = all.json().days[0];
    assert.ok(day.activeUsers >= 1 && day.messages >= 3);
    assert.deepEqual(Object.keys(day).sort(), [
      'activeUsers',
      'completionTokens',
      'day',
      'messages',
      'promptTokens',
      'replies',
    ]);
    assert.ok(!all.body.includes(ann.userId) && !all.body.includes(ann.email));
    assert.equal((await get('/v1/analytics/usage', ann.accessToken)).statusCode, 403);
    assert.equal((await get('/v1/analytics/usage', as(ann.userId, ['admin']))).statusCode, 403);
    assert.equal((await get('/v1/usage')).statusCode, 401);
    const reversed = await get('/v1/usage?from=2026-02-01&to=2026-01-01', ann.accessToken);
    assert.equal(reversed.statusCode, 400);
  });

  it('reads its own writes: every read with the version a command returned shows at least it', async () => {
    const chat = await conversationWith(ann, 'Tight loop', 0);
    for (let i = 0; i < 8; i++) {
      const posted = await command(
        'POST',
        `/v1/conversations/${chat.id}/messages`,
        ann.accessToken,
        {
          text: `write ${i}`,
        },
      );
      for (let read = 0; read < 3; read++) {
        const res = await get(
          `/v1/conversations/${chat.id}?minVersion=${posted.version}`,
          ann.accessToken,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['x-view-stale'], undefined, 'reached within the bound');
        assert.ok(res.json().version >= posted.version, 'never an older state');
        assert.ok(res.json().messages.some((m: { text: string }) => m.text === `write ${i}`));
      }
      const page = await get(`/v1/conversations/${chat.id}/messages?limit=5`, ann.accessToken, {
        'x-min-version': String(posted.version),
      });
      assert.equal(page.json().items[0].text, `write ${i}`);
    }
  });

  it('answers stale, after the bound, for a version no command reached', async () => {
    const started = Date.now();
    const res = await get(`/v1/conversations/${annChat.id}`, ann.accessToken, {
      'x-min-version': String(annChat.version + 100),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-view-stale'], 'true');
    assert.equal(res.json().version, annChat.version);
    assert.ok(Date.now() - started >= 1900, 'waited for the bound');
  });

  it('pages messages without duplicates or gaps while new ones arrive', async () => {
    const chat = await conversationWith(ann, 'Paging', 12);
    const first = await get(`/v1/conversations/${chat.id}/messages?limit=4`, ann.accessToken, {
      'x-min-version': String(chat.version),
    });
    const seen: string[] = first.json().items.map((m: { text: string }) => m.text);
    let cursor: string | null = first.json().next;
    let posted = 0;
    while (cursor) {
      await command('POST', `/v1/conversations/${chat.id}/messages`, ann.accessToken, {
        text: `late ${posted++}`,
      });
      const page = await get(
        `/v1/conversations/${chat.id}/messages?limit=4&cursor=${cursor}`,
        ann.accessToken,
      );
      assert.equal(page.statusCode, 200, page.body);
      seen.push(...page.json().items.map((m: { text: string }) => m.text));
      cursor = page.json().next;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 12 }, (_, i) => `Paging message ${11 - i}`),
    );
    // From a point, oldest first: the late ones after the twelfth.
    const twelfth = await get(`/v1/conversations/${chat.id}/messages?limit=1`, ann.accessToken);
    assert.ok(twelfth.statusCode === 200);
    const fromPoint = await until(async () => {
      const res = await get(
        `/v1/conversations/${chat.id}/messages?after=${chat.version}&limit=50`,
        ann.accessToken,
      );
      return res.json().items.length === posted && res;
    }, 'the late messages in MongoDB');
    assert.deepEqual(
      fromPoint.json().items.map((m: { text: string }) => m.text),
      Array.from({ length: posted }, (_, i) => `late ${i}`),
    );
  });

  it('refills an evicted view from the databases with one read for a herd, then serves it from Redis', async () => {
    const generation = Number(
      (
        await stores.stores.pool.query(
          'select generation from read.generations where projection = $1',
          [`${namespace}views`],
        )
      ).rows[0]?.generation ?? 1,
    );
    const keys = viewKeys({ namespace, number: generation });
    await stores.stores.redis.del(keys.conversation(annChat.id), keys.me(ann.userId));
    const reads = () =>
      counterValue(query.metrics, 'query_database_reads_total', { model: 'conversation' });
    const before = await reads();
    const herd = await Promise.all(
      Array.from({ length: 30 }, () => get(`/v1/conversations/${annChat.id}`, ann.accessToken)),
    );
    assert.ok(herd.every((r) => r.statusCode === 200));
    assert.ok(herd.every((r) => r.json().version === annChat.version));
    assert.equal(herd[0]?.headers['x-read-source'], 'mongodb');
    assert.equal((await reads()) - before, 1, 'one database read for thirty readers');
    const refilled = await stores.stores.redis.hget(keys.conversation(annChat.id), 'version');
    assert.equal(Number(refilled), annChat.version);
    assert.ok((await stores.stores.redis.ttl(keys.conversation(annChat.id))) > 0, 'with a TTL');
    const after = await get(`/v1/conversations/${annChat.id}`, ann.accessToken);
    assert.equal(after.headers['x-read-source'], 'redis');
    const me = await get('/v1/me', ann.accessToken);
    assert.equal(me.headers['x-read-source'], 'postgres');
    assert.equal((await get('/v1/me', ann.accessToken)).headers['x-read-source'], 'redis');
    // The list marker: a list the projection restarted is read as a miss and filled whole.
    await stores.stores.redis.del(keys.list(ann.userId));
    const list = await get('/v1/conversations', ann.accessToken);
    assert.ok(list.json().items.some((i: { id: string }) => i.id === annChat.id));
    assert.equal(await stores.stores.redis.zscore(keys.list(ann.userId), '~complete'), '-inf');
  });

  it('serves every read from the databases while Redis is unreachable, saying so', async () => {
    const cut = await startQueryApi({
      ...queryEnv(),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    try {
      const me = await get('/v1/me', ann.accessToken, {}, cut.app);
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json().email, ann.email);
      assert.equal(me.headers['x-read-source'], 'postgres');
      assert.equal(me.headers['x-degraded'], 'redis-unavailable');
      const detail = await get(`/v1/conversations/${annChat.id}`, ann.accessToken, {}, cut.app);
      assert.equal(detail.statusCode, 200, detail.body);
      assert.equal(detail.json().version, annChat.version);
      assert.equal(detail.headers['x-read-source'], 'mongodb');
      const list = await get('/v1/conversations', ann.accessToken, {}, cut.app);
      assert.equal(list.statusCode, 200, list.body);
      assert.ok(list.json().items.some((i: { id: string }) => i.id === annChat.id));
      assert.equal(list.headers['x-degraded'], 'redis-unavailable');
      const usage = await get('/v1/usage', ann.accessToken, {}, cut.app);
      assert.equal(usage.statusCode, 200);
      const other = await get(`/v1/conversations/${annChat.id}`, bob.accessToken, {}, cut.app);
      assert.equal(other.statusCode, 404);
      // A version no store has yet (the projection behind, the views out of reach): try again.
      const ahead = await get(
        `/v1/conversations/${randomUUID()}`,
        ann.accessToken,
        { 'x-min-version': '3' },
        cut.app,
      );
      assert.equal(ahead.statusCode, 503, ahead.body);
      assert.ok(Number(ahead.headers['retry-after']) >= 1);
      const stream = await get(
        `/v1/conversations/${annChat.id}/events`,
        ann.accessToken,
        {},
        cut.app,
      );
      assert.equal(stream.statusCode, 503);
      assert.ok(Number(stream.headers['retry-after']) >= 1);
      const ready = await cut.app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 200, 'degraded, still serving');
      assert.equal(ready.json().status, 'degraded');
      assert.deepEqual(ready.json().failing, ['redis']);
    } finally {
      await cut.close();
    }
  });

  it('answers from the databases while its Redis is down, and fills the views again once it is back', async () => {
    const port = await freePort();
    let redis = await redisServerOn(port);
    const own = await startQueryApi({ ...queryEnv(), REDIS_URL: `redis://127.0.0.1:${port}` });
    const read = () => get(`/v1/conversations/${annChat.id}`, ann.accessToken, {}, own.app);
    try {
      assert.equal((await read()).headers['x-read-source'], 'mongodb', 'an empty Redis: a miss');
      // The miss fills the view; on a busy machine the API's new connection to this Redis may
      // not be up for the first fill (a failed fill is dropped), so a later read fills it.
      await until(
        async () => (await read()).headers['x-read-source'] === 'redis',
        'the view filled and read from Redis',
      );
      await redis.stop();
      const down = await read();
      assert.equal(down.statusCode, 200);
      assert.equal(down.headers['x-degraded'], 'redis-unavailable');
      assert.equal(down.json().version, annChat.version);
      // Back, empty (as after a restart without persistence): the next reads fill it again.
      redis = await redisServerOn(port);
      await until(
        async () => (await own.app.inject({ url: '/health/ready' })).json().status === 'ready',
        'ready',
      );
      const refilled = await until(
        async () => {
          const res = await read();
          return res.headers['x-degraded'] === undefined && res;
        },
        'reads through Redis again',
        15_000,
      );
      assert.equal(refilled.statusCode, 200);
      await until(
        async () => (await read()).headers['x-read-source'] === 'redis',
        'the conversation read from Redis again',
      );
      assert.equal((await get('/v1/me', ann.accessToken, {}, own.app)).statusCode, 200);
      await until(
        async () =>
          (await get('/v1/me', ann.accessToken, {}, own.app)).headers['x-read-source'] === 'redis',
        'me read from Redis again',
      );
    } finally {
      await own.close();
      await redis.stop();
    }
  });

  it('answers 503 with Retry-After only on the routes that need a database that is down', async () => {
    // Redis connects in the background (no offline queue): until it is up, every view read goes
    // to the databases, so a read with one of them down would answer 503 for want of Redis.
    const onlyFailing = (api: QueryApi, store: string) =>
      until(async () => {
        const ready = await api.app.inject({ method: 'GET', url: '/health/ready' });
        const failing = (ready.json() as { failing: string[] }).failing;
        return failing.length === 1 && failing[0] === store;
      }, `readiness failing on ${store} alone`);
    const noPostgres = await startQueryApi({
      ...queryEnv(),
      POSTGRES_URL: `postgres://parley@127.0.0.1:${await freePort()}/parley`,
    });
    try {
      await onlyFailing(noPostgres, 'postgres');
      const usage = await get('/v1/usage', ann.accessToken, {}, noPostgres.app);
      assert.equal(usage.statusCode, 503, usage.body);
      assert.equal(usage.json().code, 'POSTGRES_UNAVAILABLE');
      assert.ok(Number(usage.headers['retry-after']) >= 1);
      // The views still answer (with generation 1, the only one this test's projections have).
      const detail = await get(
        `/v1/conversations/${annChat.id}`,
        ann.accessToken,
        {},
        noPostgres.app,
      );
      assert.equal(detail.statusCode, 200, detail.body);
      const me = await get('/v1/me', ann.accessToken, {}, noPostgres.app);
      assert.equal(me.statusCode, 200, me.body);
    } finally {
      await noPostgres.close();
    }
    const noMongo = await startQueryApi({
      ...queryEnv(),
      MONGO_URL: `mongodb://127.0.0.1:${await freePort()}/parley`,
    });
    try {
      await onlyFailing(noMongo, 'mongodb');
      const detail = await get(`/v1/conversations/${annChat.id}`, ann.accessToken, {}, noMongo.app);
      assert.equal(detail.statusCode, 200, 'the view answers');
      const messages = await get(
        `/v1/conversations/${annChat.id}/messages`,
        ann.accessToken,
        {},
        noMongo.app,
      );
      assert.equal(messages.statusCode, 503, messages.body);
      assert.equal(messages.json().code, 'MONGODB_UNAVAILABLE');
      assert.ok(Number(messages.headers['retry-after']) >= 1);
      const me = await get('/v1/me', ann.accessToken, {}, noMongo.app);
      assert.equal(me.statusCode, 200);
    } finally {
      await noMongo.close();
    }
  });

  it('streams new messages as Server-Sent Events and resumes after Last-Event-ID', async () => {
    const chat = await conversationWith(ann, 'Stream', 1);
    await get(`/v1/conversations/${chat.id}`, ann.accessToken, {
      'x-min-version': String(chat.version),
    });
    const port = await freePort();
    await query.app.listen({ host: '127.0.0.1', port });
    const url = `http://127.0.0.1:${port}/v1/conversations/${chat.id}/events`;
    const open = async (headers: Record<string, string> = {}) => {
      const stream = await openEventStream(url, {
        authorization: `Bearer ${ann.accessToken}`,
        ...headers,
      });
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      return stream;
    };
    const live = await open();
    await command('POST', `/v1/conversations/${chat.id}/messages`, ann.accessToken, {
      text: 'pushed 1',
    });
    await command('POST', `/v1/conversations/${chat.id}/messages`, ann.accessToken, {
      text: 'pushed 2',
    });
    const got = await live.next(2);
    assert.deepEqual(
      got.filter((e) => e.event === 'message').map((e) => e.data?.text),
      ['pushed 1', 'pushed 2'],
    );
    live.close();
    const firstId = got[0]?.id ?? '';
    const resumed = await open({ 'last-event-id': firstId });
    const replay = await resumed.next(1);
    assert.equal(replay[0]?.data?.text, 'pushed 2', 'the message after Last-Event-ID');
    resumed.close();
  });

  it('holds a few event streams per user on an instance: one more is 429, a closed one frees its slot', async () => {
    const chat = await conversationWith(ann, 'Streams', 1);
    const bea = await registerOnce();
    const beaChat = await conversationWith(bea, 'Hers', 1);
    const capped = await startQueryApi({ ...queryEnv(), SSE_MAX_STREAMS_PER_USER: '2' });
    const port = await freePort();
    await capped.app.listen({ host: '127.0.0.1', port });
    const open = (who: { accessToken: string }, id: string) =>
      openEventStream(`http://127.0.0.1:${port}/v1/conversations/${id}/events`, {
        authorization: `Bearer ${who.accessToken}`,
      });
    const openStreams = async () =>
      (await capped.metrics.getSingleMetric('query_event_streams_open')?.get())?.values[0]?.value ??
      -1;
    try {
      await get(`/v1/conversations/${chat.id}`, ann.accessToken, {
        'x-min-version': String(chat.version),
      });
      const held = [await open(ann, chat.id), await open(ann, chat.id)];
      assert.deepEqual(
        held.map((s) => s.status),
        [200, 200],
      );
      const refused = await fetch(`http://127.0.0.1:${port}/v1/conversations/${chat.id}/events`, {
        headers: { authorization: `Bearer ${ann.accessToken}` },
      });
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(((await refused.json()) as { code?: string }).code, 'TOO_MANY_STREAMS');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      await get(`/v1/conversations/${beaChat.id}`, bea.accessToken, {
        'x-min-version': String(beaChat.version),
      });
      const hers = await open(bea, beaChat.id);
      assert.equal(hers.status, 200, 'another user has slots of their own');
      assert.equal(await openStreams(), 3);
      held[0]?.close();
      await until(async () => (await openStreams()) === 2, 'the closed stream’s slot given back');
      const again = await open(ann, chat.id);
      assert.equal(again.status, 200);
      for (const stream of [held[1], hers, again]) stream?.close();
      await until(async () => (await openStreams()) === 0, 'every slot given back');
      // Clients that leave as soon as they ask give their slots back too (the race with the
      // set-up before the slot is taken is guarded in the route; this does not always hit it).
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const controller = new AbortController();
          setTimeout(() => controller.abort(), i % 10);
          await fetch(`http://127.0.0.1:${port}/v1/conversations/${chat.id}/events`, {
            headers: { authorization: `Bearer ${ann.accessToken}` },
            signal: controller.signal,
          })
            .then((res) => res.body?.cancel())
            .catch(() => undefined);
        }),
      );
      await until(async () => (await openStreams()) === 0, 'the slots of clients that left');
    } finally {
      await capped.close();
    }
  });

  it('refuses an erased or a deactivated user’s token within seconds, on both APIs (401 TOKEN_REVOKED)', async () => {
    for (const how of ['erase', 'deactivate'] as const) {
      const person = await registered();
      const keeper = await registered();
      const auth = { authorization: `Bearer ${person.accessToken}` };
      const ended = await commands.app.inject({
        method: 'POST',
        url: `/v1/users/${person.userId}/${how}`,
        headers: auth,
        payload: how === 'erase' ? { password: PASSWORD } : {},
      });
      assert.equal(ended.statusCode, 200, ended.body);
      const started = Date.now();
      // The command API refuses it at once (its own route saw the outcome).
      const write = await commands.app.inject({
        method: 'POST',
        url: '/v1/conversations',
        headers: auth,
        payload: { title: 'after the end' },
      });
      assert.equal(write.statusCode, 401, `${how}: ${write.body}`);
      assert.equal(write.json().code, 'TOKEN_REVOKED');
      // The query API, once the users read model has the event.
      const read = await until(
        async () => {
          const res = await get('/v1/me', person.accessToken);
          return res.statusCode === 401 && res;
        },
        `query-api refusing the ${how}d user's token`,
        10_000,
      );
      assert.equal(read.json().code, 'TOKEN_REVOKED');
      assert.ok(Date.now() - started < 10_000);
      for (const url of ['/v1/conversations', '/v1/usage']) {
        assert.equal((await get(url, person.accessToken)).statusCode, 401, url);
      }
      // Other users are not affected.
      assert.equal((await get('/v1/me', keeper.accessToken)).statusCode, 200);
    }
  });

  it('limits reads per user, compresses large answers and documents itself at /docs', async () => {
    // Counters live in Redis, shared by every instance: two users who have not read yet.
    const [dan, eve] = await Promise.all([registerOnce(), registerOnce()]);
    const limited = await startQueryApi({ ...queryEnv(), READ_RATE_LIMIT_PER_MINUTE: '3' });
    // Until its Redis connection is up the limiter lets reads through (fail-open).
    await redisReady(limited.deps.redis);
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const res = await get('/v1/me', dan.accessToken, { 'x-min-version': '1' }, limited.app);
        statuses.push(res.statusCode);
        if (res.statusCode === 429) assert.ok(Number(res.headers['retry-after']) >= 1);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const another = await get('/v1/me', eve.accessToken, { 'x-min-version': '1' }, limited.app);
      assert.equal(another.statusCode, 200, 'another user has a budget of their own');
    } finally {
      await limited.close();
    }
    const docs = await get('/docs/json', undefined, { 'accept-encoding': 'gzip' });
    assert.equal(docs.statusCode, 200);
    assert.equal(docs.headers['content-encoding'], 'gzip');
    const spec = await get('/docs/json');
    assert.equal(spec.json().openapi, '3.1.0');
    for (const path of [
      '/v1/me',
      '/v1/conversations',
      '/v1/conversations/{id}',
      '/v1/conversations/{id}/messages',
      '/v1/conversations/{id}/events',
      '/v1/usage',
      '/v1/users/{id}',
      '/v1/users/search',
      '/v1/analytics/usage',
    ]) {
      assert.ok(spec.json().paths[path], `${path} is documented`);
    }
  });
});
