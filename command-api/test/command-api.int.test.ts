// The command API over HTTP (Fastify inject) with a real processor, Kafka, registry and Redis on
// topics of the test's own: success paths, every kind of bad input and token, ownership,
// If-Match, Idempotency-Key, and 503 when Kafka cannot be reached.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createKafka, createProducer } from '@parley/platform/kafka';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { DependencyUnavailable, guard } from '@parley/platform/resilience';
import { SendBatcher } from '@parley/platform/send-batcher';
import { freePort, quietLogger, until } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { NOT_BLANK_PATTERN, TEXT_PATTERNS } from '@parley/platform/text-input';
import type { FastifyInstance } from 'fastify';
import { CommandGateway, commandMetrics } from '../src/commands/command-gateway.ts';
import { IdempotencyKeys } from '../src/commands/idempotency-keys.ts';
import type { CommandApiDependencies } from '../src/dependencies.ts';
import { processorFixture } from './processor-fixture.ts';

const key = createSigningKey();
const stranger = createSigningKey();
const alice = randomUUID();
const bob = randomUUID();
const token = (sub: string, extra: Parameters<typeof signToken>[1] = { sub }) =>
  `Bearer ${signToken(key, { ...extra, sub })}`;

let fixture: Awaited<ReturnType<typeof processorFixture>>;
let deps: CommandApiDependencies;
let app: FastifyInstance;
let closeApi: () => Promise<void>;

before(async () => {
  fixture = await processorFixture();
  await fixture.start();
  ({
    deps,
    app,
    close: closeApi,
  } = await fixture.commandApi({
    ...serviceKeyEnv(key),
    COMMAND_OUTCOME_WAIT_MS: '10000',
    HTTP_BODY_LIMIT: '4096',
    // Alice sends more than a user's minute of commands here; the limit has its own test.
    WRITE_RATE_LIMIT_PER_MINUTE: '100000',
  }));
});

after(async () => {
  await closeApi();
  await fixture.cleanup();
});

async function startConversation(
  owner = alice,
  title = 'Plans',
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/v1/conversations',
    headers: { authorization: token(owner), ...headers },
    payload: { title },
  });
}

async function commandCount(): Promise<number> {
  const offsets = await fixture.admin.fetchTopicOffsets(fixture.chat?.commandTopic ?? '');
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

describe('command API', () => {
  it('starts a conversation: 201, Location, ETag, version and log position', async () => {
    const res = await startConversation();
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(res.headers.location, `/v1/conversations/${body.aggregateId}`);
    assert.equal(res.headers.etag, '"1"');
    assert.equal(body.version, 1);
    assert.match(body.position, new RegExp(`^${fixture.chat?.eventsTopic}:\\d+:\\d+$`));
  });

  it('refuses missing, tampered, expired, alg=none, unknown-key and wrong-audience tokens with 401', async () => {
    const good = signToken(key, { sub: alice });
    const [h, p] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: key.kid })).toString('base64url')}.${p}.`;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: bob, roles: ['admin'], iss: 'parley', aud: 'parley-api', exp: 9e9 })).toString('base64url')}.${good.split('.')[2]}`;
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      malformed: 'Bearer not-a-token',
      tampered: `Bearer ${tampered}`,
      expired: `Bearer ${signToken(key, { sub: alice, expiresIn: -60 })}`,
      algNone: `Bearer ${none}`,
      unknownKey: `Bearer ${signToken(stranger, { sub: alice }, { kid: key.kid })}`,
      otherKid: `Bearer ${signToken(stranger, { sub: alice })}`,
      wrongAudience: `Bearer ${signToken(key, { sub: alice, aud: 'someone-else' })}`,
      badSubject: `Bearer ${signToken(key, { sub: 'not-a-uuid' })}`,
    };
    const before = await commandCount();
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/conversations',
        headers: authorization ? { authorization } : {},
        payload: { title: 'x' },
      });
      assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
      assert.equal(res.json().code, 'UNAUTHORIZED');
    }
    assert.equal(await commandCount(), before, 'nothing written');
  });

  it('refuses bad input with a clear 4xx and writes nothing', async () => {
    const before = await commandCount();
    const auth = { authorization: token(alice) };
    const cases = [
      {
        name: 'malformed JSON',
        status: 400,
        headers: { ...auth, 'content-type': 'application/json' },
        payload: '{"title": ',
      },
      { name: 'wrong type', status: 400, payload: { title: 42 } },
      { name: 'unknown field', status: 400, payload: { title: 'ok', owner: bob } },
      { name: 'empty title', status: 400, payload: { title: '' } },
      { name: 'blank title', status: 400, payload: { title: ' \u00a0 ' } },
      { name: 'control character', status: 400, payload: { title: 'a\u0007b' } },
      { name: 'oversize body', status: 413, payload: { title: 'x'.repeat(5000) } },
      {
        name: 'bad Idempotency-Key',
        status: 400,
        payload: { title: 'ok' },
        headers: { ...auth, 'idempotency-key': 'has space' },
      },
      {
        name: 'bad If-Match',
        status: 400,
        payload: { title: 'ok' },
        headers: { ...auth, 'if-match': 'yesterday' },
      },
    ];
    for (const c of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/conversations',
        headers: c.headers ?? auth,
        payload: c.payload,
      });
      assert.equal(res.statusCode, c.status, `${c.name}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/, c.name);
    }
    const badId = await app.inject({
      method: 'PATCH',
      url: '/v1/conversations/not-a-uuid',
      headers: auth,
      payload: { title: 'x' },
    });
    assert.equal(badId.statusCode, 400);
    // A method the path is not served with: 405 and what it allows.
    const wrongMethod = await app.inject({
      method: 'PUT',
      url: '/v1/conversations',
      headers: auth,
    });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.headers.allow, 'OPTIONS, POST');
    assert.equal(await commandCount(), before, 'nothing written');
  });

  it('keeps other users out of a conversation (404), and answers rule violations with 422', async () => {
    const id = (await startConversation()).json().aggregateId;
    const url = `/v1/conversations/${id}`;
    const asBob = { authorization: token(bob) };
    assert.equal(
      (await app.inject({ method: 'PATCH', url, headers: asBob, payload: { title: 'mine' } }))
        .statusCode,
      404,
    );
    assert.equal(
      (
        await app.inject({
          method: 'POST',
          url: `${url}/messages`,
          headers: asBob,
          payload: { text: 'hi' },
        })
      ).statusCode,
      404,
    );
    assert.equal((await app.inject({ method: 'DELETE', url, headers: asBob })).statusCode, 404);

    const asAlice = { authorization: token(alice) };
    assert.equal(
      (await app.inject({ method: 'POST', url: `${url}/archive`, headers: asAlice })).statusCode,
      200,
    );
    const archived = await app.inject({
      method: 'POST',
      url: `${url}/messages`,
      headers: asAlice,
      payload: { text: 'hi' },
    });
    assert.equal(archived.statusCode, 422);
    assert.equal(archived.json().code, 'RULE_VIOLATION');
  });

  it('lets exactly one of two If-Match writers win; the other gets 409', async () => {
    const id = (await startConversation()).json().aggregateId;
    const rename = (title: string) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/conversations/${id}`,
        headers: { authorization: token(alice), 'if-match': '"1"' },
        payload: { title },
      });
    const results = await Promise.all([rename('A'), rename('B')]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 409]);
    assert.equal(results.find((r) => r.statusCode === 409)?.json().code, 'VERSION_CONFLICT');
  });

  it('gives 50 parallel posts contiguous versions', async () => {
    const id = (await startConversation()).json().aggregateId;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        app.inject({
          method: 'POST',
          url: `/v1/conversations/${id}/messages`,
          headers: { authorization: token(alice) },
          payload: { text: `m${i}` },
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.statusCode),
      Array(50).fill(201),
    );
    assert.deepEqual(
      results.map((r) => r.json().version).sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 2),
    );
  });

  it('answers the same Idempotency-Key ten times with one conversation and one event', async () => {
    const headers = { 'idempotency-key': `create-${randomUUID()}` };
    const responses = [];
    for (let i = 0; i < 10; i++) responses.push(await startConversation(alice, 'Once', headers));
    assert.ok(responses.every((r) => r.statusCode === 201));
    const bodies = responses.map((r) => r.json());
    assert.equal(new Set(bodies.map((b) => b.aggregateId)).size, 1);
    assert.equal(new Set(bodies.map((b) => b.commandId)).size, 1);
    const events = await fixture.events(fixture.chat?.eventsTopic ?? '', bodies[0].aggregateId);
    assert.deepEqual(
      events.map((e) => e.type),
      ['ConversationStarted'],
    );
  });

  it('shows a command’s outcome to its sender only', async () => {
    const { commandId } = (await startConversation()).json();
    const mine = await app.inject({
      method: 'GET',
      url: `/v1/commands/${commandId}`,
      headers: { authorization: token(alice) },
    });
    assert.equal(mine.statusCode, 200);
    assert.equal(mine.json().commandId, commandId);
    const theirs = await app.inject({
      method: 'GET',
      url: `/v1/commands/${commandId}`,
      headers: { authorization: token(bob) },
    });
    assert.equal(theirs.statusCode, 404);
  });

  it('answers another user’s resource 404 on every write route, whatever If-Match says', async () => {
    const conversation = (await startConversation(alice)).json().aggregateId as string;
    const registered = await app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: {
        email: `owner.${randomUUID().slice(0, 8)}@example.com`,
        password: 'correct horse battery staple',
        displayName: 'Owner',
      },
    });
    assert.equal(registered.statusCode, 201, registered.body);
    const owner = registered.json().userId as string;
    const routes: Array<[string, string, object | undefined]> = [
      ['PATCH', `/v1/conversations/${conversation}`, { title: 'mine now' }],
      ['POST', `/v1/conversations/${conversation}/messages`, { text: 'hello' }],
      ['POST', `/v1/conversations/${conversation}/archive`, undefined],
      ['DELETE', `/v1/conversations/${conversation}`, undefined],
      ['PATCH', `/v1/users/${owner}`, { displayName: 'Mallory' }],
      ['POST', `/v1/users/${owner}/deactivate`, {}],
      ['POST', `/v1/users/${owner}/erase`, {}],
    ];
    for (const [method, url, payload] of routes) {
      for (const ifMatch of [undefined, '"0"', '"1"', '"2"', '"9"']) {
        const res = await app.inject({
          method: method as 'POST',
          url,
          headers: { authorization: token(bob), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
          ...(payload ? { payload } : {}),
        });
        assert.equal(res.statusCode, 404, `${method} ${url} If-Match ${ifMatch}: ${res.body}`);
        assert.equal(res.json().currentVersion, undefined);
      }
    }
  });

  it('answers a made-up command id as it answers another user’s: 404; a pending one 202 to its sender only', async () => {
    const madeUp = await app.inject({
      method: 'GET',
      url: `/v1/commands/${randomUUID()}`,
      headers: { authorization: token(alice) },
    });
    assert.equal(madeUp.statusCode, 404, madeUp.body);
    // With the processor stopped, a command is accepted but its outcome cannot come yet.
    await fixture.stop();
    const quick = await fixture.commandApi({
      ...serviceKeyEnv(key),
      COMMAND_OUTCOME_WAIT_MS: '50',
    });
    try {
      const sent = await quick.app.inject({
        method: 'POST',
        url: '/v1/conversations',
        headers: { authorization: token(alice) },
        payload: { title: 'Later' },
      });
      assert.equal(sent.statusCode, 202, sent.body);
      const { commandId } = sent.json();
      const poll = (who: string) =>
        quick.app.inject({
          method: 'GET',
          url: `/v1/commands/${commandId}`,
          headers: { authorization: token(who) },
        });
      assert.equal((await poll(alice)).statusCode, 202);
      assert.equal((await poll(bob)).statusCode, 404);
      await fixture.start();
      const done = await (async () => {
        for (let i = 0; i < 300; i++) {
          const res = await poll(alice);
          if (res.statusCode === 200) return res;
          await new Promise((r) => setTimeout(r, 100));
        }
        return poll(alice);
      })();
      assert.equal(done.statusCode, 200, done.body);
      assert.equal((await poll(bob)).statusCode, 404);
    } finally {
      await quick.close();
      if (!fixture.running()) await fixture.start();
    }
  });

  it('publishes an OpenAPI 3.1 document', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    const post = doc.paths['/v1/conversations/{id}/messages'].post;
    // The text rules are stated where clients read them: multiline, not blank.
    const text = post.requestBody.content['application/json'].schema.properties.text;
    assert.equal(text.pattern, TEXT_PATTERNS.multiline);
    assert.deepEqual(text.allOf, [{ pattern: NOT_BLANK_PATTERN }]);
    // A started conversation links to what can be done with it.
    const links = doc.paths['/v1/conversations'].post.responses['201'].links;
    assert.deepEqual(links['post-v1-conversations-id-messages'], {
      operationRef: '#/paths/~1v1~1conversations~1{id}~1messages/post',
      parameters: { id: '$response.body#/aggregateId' },
    });
  });

  it('limits each user’s requests per minute over every route with a token, refused ones too: then 429, writing nothing', async () => {
    const limited = await fixture.commandApi({
      ...serviceKeyEnv(key),
      COMMAND_OUTCOME_WAIT_MS: '10000',
      WRITE_RATE_LIMIT_PER_MINUTE: '4',
    });
    const carol = randomUUID();
    const dave = randomUUID();
    const send = (user: string, method: 'POST' | 'PATCH' | 'GET', url: string, payload?: object) =>
      limited.app.inject({ method, url, headers: { authorization: token(user) }, payload });
    try {
      // The limit counts per fixed minute (platform/src/rate-limit-store.ts): start where one
      // window holds every request of the test, as a busy machine may take seconds.
      const intoWindow = Date.now() % 60_000;
      if (intoWindow > 40_000) await new Promise((r) => setTimeout(r, 60_100 - intoWindow));
      const started = await send(carol, 'POST', '/v1/conversations', { title: 'Plans' });
      assert.equal(started.statusCode, 201, started.body);
      const id = started.json().aggregateId;
      // A refused body, an unknown command and a rename spend the same budget.
      assert.equal((await send(carol, 'POST', '/v1/conversations', { title: '' })).statusCode, 400);
      const poll = await send(carol, 'GET', `/v1/commands/${randomUUID()}`);
      assert.equal(poll.statusCode, 404);
      const renamed = await send(carol, 'PATCH', `/v1/conversations/${id}`, { title: 'Trips' });
      assert.equal(renamed.statusCode, 200, renamed.body);
      const before = await commandCount();
      const refused = await send(carol, 'POST', `/v1/conversations/${id}/messages`, { text: 'Hi' });
      assert.equal(refused.statusCode, 429);
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.json().code, 'RATE_LIMITED');
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal(await commandCount(), before, 'a refused command is not written');
      // The user routes and logout-all draw on the same budget.
      assert.equal((await send(carol, 'PATCH', `/v1/users/${carol}`, {})).statusCode, 429);
      assert.equal((await send(carol, 'POST', '/v1/auth/logout-all')).statusCode, 429);
      // Another user has a budget of their own.
      const other = await send(dave, 'POST', '/v1/conversations', { title: 'Mine' });
      assert.equal(other.statusCode, 201, other.body);
      // The document says so on every route with a token.
      const doc = (await limited.app.inject({ method: 'GET', url: '/docs/json' })).json();
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations as object)) {
          const { security, responses } = operation as { security?: unknown[]; responses: object };
          const limitedByUser = !security || security.length > 0;
          if (limitedByUser) assert.ok('429' in responses, `${method} ${path} documents 429`);
        }
      }
    } finally {
      await limited.close();
    }
  });

  it('refuses an Idempotency-Key reused with a different body (422), writing nothing', async () => {
    const headers = { 'idempotency-key': `reuse-${randomUUID()}` };
    const first = await startConversation(alice, 'First', headers);
    assert.equal(first.statusCode, 201);
    const before = await commandCount();
    const other = await startConversation(alice, 'Something else', headers);
    assert.equal(other.statusCode, 422);
    assert.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await commandCount(), before);
    // The same key from another user is another command altogether.
    assert.equal((await startConversation(bob, 'Something else', headers)).statusCode, 201);
  });

  it('answers 503 with Retry-After, without hanging, when Kafka cannot be reached; then fails fast', async () => {
    const deadKafka = createKafka({
      brokers: [`127.0.0.1:${await freePort()}`],
      clientId: 'dead',
      log: quietLogger(),
      connectionTimeoutMs: 200,
      retry: { retries: 0 },
    });
    const registry = createMetricsRegistry('command-api-test');
    const gateway = new CommandGateway({
      sender: new SendBatcher({ producer: createProducer(deadKafka) }),
      kafka: guard({
        code: 'COMMANDS_UNAVAILABLE',
        detail: 'down',
        timeoutMs: 1000,
        attempts: 2,
        breakAfter: 2,
        halfOpenAfterMs: 30_000,
        report: { registry, dependency: 'kafka' },
      }),
      durations: commandMetrics(registry),
      idempotencyKeys: new IdempotencyKeys(deps.redis, deps.redisGuard, quietLogger()),
      serde: fixture.serde,
      waiter: deps.waiter,
      topicOf: () => fixture.chat?.commandTopic ?? '',
      outcomeWaitMs: 1000,
    });
    const archive = () =>
      gateway.submit('ArchiveConversation', {
        metadata: {
          commandId: randomUUID(),
          aggregateId: randomUUID(),
          issuedAt: Date.now(),
          correlationId: 'c',
          actor: `user:${alice}`,
          actorRoles: ['user'],
          expectedVersion: null,
          idempotencyKey: null,
          tenantId: null,
        },
      });
    const unavailable = (error: unknown) =>
      error instanceof DependencyUnavailable &&
      error.status === 503 &&
      error.code === 'COMMANDS_UNAVAILABLE' &&
      typeof error.extensions.retryAfterSeconds === 'number';
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      await assert.rejects(archive(), unavailable);
      assert.ok(Date.now() - started < 5000, 'fails within the timeouts');
    }
    // The circuit is open now: refused at once, with the time until the next trial.
    const started = Date.now();
    await assert.rejects(
      archive(),
      (error: unknown) =>
        unavailable(error) && (error as DependencyUnavailable).extensions.retryAfterSeconds === 30,
    );
    assert.ok(Date.now() - started < 100, 'an open circuit refuses without calling Kafka');
    // Ops see it: the breaker open, and each refused command counted by type and result.
    const metrics = await registry.getMetricsAsJSON();
    const values = (name: string) => metrics.find((m) => m.name === name)?.values ?? [];
    const breaker = values('circuit_breaker_state').find((v) => v.labels.dependency === 'kafka');
    assert.equal(breaker?.value, 1);
    const refused = values('command_duration_seconds').find(
      (v) =>
        (v as { metricName?: string }).metricName === 'command_duration_seconds_count' &&
        v.labels.command === 'ArchiveConversation' &&
        v.labels.result === 'unavailable' &&
        v.labels.code === 'COMMANDS_UNAVAILABLE',
    );
    assert.equal(refused?.value, 3);
  });

  it('keeps accepting commands while its Redis is down (202), and the status route answers 503', async () => {
    const cut = await fixture.commandApi(
      { ...serviceKeyEnv(key), REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
      { awaitOutcomes: false },
    );
    const cutApp = cut.app;
    try {
      const started = Date.now();
      const res = await cutApp.inject({
        method: 'POST',
        url: '/v1/conversations',
        headers: { authorization: token(alice), 'idempotency-key': `cut-${randomUUID()}` },
        payload: { title: 'Without Redis' },
      });
      assert.equal(res.statusCode, 202);
      assert.ok(Date.now() - started < 2000, 'does not wait for an outcome that cannot arrive');
      const { commandId } = res.json();
      // The command was written and the processor (with its own Redis) answers it. Its pending
      // mark could not be written (this API's Redis is down), so the answer is a 404 until the
      // processor's outcome is there: wait for it, as a loaded machine may take a moment.
      const status = await until(async () => {
        const read = await app.inject({
          method: 'GET',
          url: `/v1/commands/${commandId}`,
          headers: { authorization: token(alice) },
        });
        return read.statusCode !== 404 && read;
      }, 'the processor’s outcome');
      assert.ok(status);
      assert.equal(status.statusCode, 200);
      const down = await cutApp.inject({
        method: 'GET',
        url: `/v1/commands/${commandId}`,
        headers: { authorization: token(alice) },
      });
      assert.equal(down.statusCode, 503);
      assert.equal(down.json().code, 'OUTCOMES_UNAVAILABLE');
      assert.ok(Number(down.headers['retry-after']) >= 1);
    } finally {
      await cut.close();
    }
  });
});
