// Accounts and sessions against the real stack (Postgres identity store, Kafka, processor,
// Redis): register, login, refresh rotation and reuse detection, logout, password change,
// profile, erasure with crypto-shredding, lockout, rate limits, token attacks, security headers.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { EncryptedText } from '@parley/platform/personal-data';
import { startThrowawayRedis } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import type { FastifyInstance } from 'fastify';
import type { CommandApiDependencies } from '../src/dependencies.ts';
import { processorFixture } from './processor-fixture.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
let fixture: Awaited<ReturnType<typeof processorFixture>>;
let deps: CommandApiDependencies;
let app: FastifyInstance;
let closeApi: () => Promise<void>;

const apiWith = (env: Record<string, string>) =>
  fixture.commandApi({ ...keyEnv, COMMAND_OUTCOME_WAIT_MS: '10000', ...env });

before(async () => {
  fixture = await processorFixture();
  await fixture.start();
  ({
    deps,
    app,
    close: closeApi,
  } = await apiWith({
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    WRITE_RATE_LIMIT_PER_MINUTE: '100000',
  }));
});

after(async () => {
  await closeApi();
  await fixture.cleanup();
});

const post = (url: string, payload: unknown, token?: string) =>
  app.inject({
    method: 'POST',
    url,
    payload: payload as object,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

const newEmail = () => `Ann.${randomUUID().slice(0, 8)}@Example.com`;
const PASSWORD = 'correct horse battery staple';

async function register(email = newEmail(), password = PASSWORD) {
  const res = await post('/v1/auth/register', { email, password, displayName: 'Ann Example' });
  assert.equal(res.statusCode, 201, res.body);
  return {
    email,
    ...(res.json() as { userId: string; accessToken: string; refreshToken: string }),
  };
}

/** The decoded identity events of one user. */
async function userEvents(userId: string) {
  const events = await fixture.allEvents(fixture.identity?.eventsTopic ?? '');
  return events.filter((e) => e.aggregateId === userId);
}

describe('identity', () => {
  it('registers: 201 with a working session; the log holds the email and name only encrypted', async () => {
    const { email, userId, accessToken } = await register();
    const started = await post('/v1/conversations', { title: 'Mine' }, accessToken);
    assert.equal(started.statusCode, 201);

    const [registered] = await userEvents(userId);
    assert.equal(registered?.type, 'UserRegistered');
    const encrypted = registered?.value.email as EncryptedText;
    const raw = JSON.stringify(registered?.value) + encrypted.ciphertext.toString('latin1');
    assert.ok(!raw.toLowerCase().includes(email.toLowerCase()), 'no clear email in the event');
    assert.ok(!raw.includes('Ann Example'), 'no clear name in the event');
    assert.equal(await deps.cipher.decrypt(encrypted), email.toLowerCase());
  });

  it('lets exactly one of 20 parallel registrations of one email win', async () => {
    const email = newEmail();
    const variants = Array.from({ length: 20 }, (_, i) =>
      i % 2 ? email.toUpperCase() : ` ${email.toLowerCase()}`.trim(),
    );
    const results = await Promise.all(
      variants.map((e) =>
        post('/v1/auth/register', { email: e, password: PASSWORD, displayName: 'Twin' }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [201, ...Array(19).fill(409)]);
    assert.ok(
      results.filter((r) => r.statusCode === 409).every((r) => r.json().code === 'EMAIL_IN_USE'),
    );
    const { rows } = await deps.pool.query(
      'select count(*)::int as n from identity.accounts where email = $1',
      [email.toLowerCase()],
    );
    assert.equal(rows[0].n, 1);
  });

  it('logs in; a wrong password and an unknown email get the same 401', async () => {
    const { email, userId } = await register();
    const ok = await post('/v1/auth/login', { email, password: PASSWORD });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().userId, userId);
    const wrong = await post('/v1/auth/login', { email, password: 'not the password at all' });
    const unknown = await post('/v1/auth/login', { email: newEmail(), password: PASSWORD });
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.equal(wrong.json().code, 'INVALID_CREDENTIALS');
    assert.equal(wrong.json().detail, unknown.json().detail);
  });

  it('locks an account after 5 failed logins: 429 with Retry-After, even for the right password', async () => {
    const { email } = await register();
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await post('/v1/auth/login', { email, password: `wrong password ${i}` })).statusCode,
        401,
      );
    }
    const locked = await post('/v1/auth/login', { email, password: PASSWORD });
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'TOO_MANY_ATTEMPTS');
    assert.ok(Number(locked.headers['retry-after']) > 0);
  });

  it('locks a signed-in user’s password checks (change, erasure) after 5 wrong ones, apart from logins', async () => {
    const { email, userId, accessToken } = await register();
    const change = (currentPassword: string) =>
      post(
        '/v1/auth/password',
        { currentPassword, newPassword: 'a brand new passphrase' },
        accessToken,
      );
    const erase = (password: string) =>
      post(`/v1/users/${userId}/erase`, { password }, accessToken);
    // A stolen token guessing: five wrong tries over both routes.
    for (const attempt of [change, erase, change, erase, change]) {
      assert.equal((await attempt('not the password at all')).statusCode, 401);
    }
    // Locked on both, even for the right password; nothing was changed or erased.
    for (const locked of [await change(PASSWORD), await erase(PASSWORD)]) {
      assert.equal(locked.statusCode, 429, locked.body);
      assert.equal(locked.json().code, 'TOO_MANY_ATTEMPTS');
      assert.ok(Number(locked.headers['retry-after']) > 0);
    }
    const { rows } = await deps.pool.query(
      'select status from identity.accounts where user_id = $1',
      [userId],
    );
    assert.equal(rows[0].status, 'active');
    assert.deepEqual(
      (await userEvents(userId)).map((e) => e.type),
      ['UserRegistered'],
    );
    // The owner still logs in with the password.
    assert.equal((await post('/v1/auth/login', { email, password: PASSWORD })).statusCode, 200);
  });

  it('lets the owner change the password while strangers’ failed logins lock the email', async () => {
    const { email, accessToken } = await register();
    for (let i = 0; i < 5; i++) {
      await post('/v1/auth/login', { email, password: `a stranger guessing ${i}` });
    }
    assert.equal((await post('/v1/auth/login', { email, password: PASSWORD })).statusCode, 429);
    const changed = await post(
      '/v1/auth/password',
      { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
      accessToken,
    );
    assert.equal(changed.statusCode, 204, changed.body);
  });

  it('gives guesses sent together no more than 5 checks', async () => {
    const { accessToken } = await register();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(
          '/v1/auth/password',
          { currentPassword: `guess number ${i}`, newPassword: 'a brand new passphrase' },
          accessToken,
        ),
      ),
    );
    const codes = answers.map((a) => a.statusCode).sort();
    assert.deepEqual(codes, [...Array(5).fill(401), ...Array(7).fill(429)]);
  });

  it('gives the tries back when the password is right', async () => {
    const { email } = await register();
    for (const round of [1, 2]) {
      for (let i = 0; i < 4; i++) {
        const wrong = await post('/v1/auth/login', { email, password: `wrong ${round}.${i}` });
        assert.equal(wrong.statusCode, 401, `round ${round}, try ${i}`);
      }
      // The fifth try, right: without the count cleared, round 2 would be locked by now.
      const right = await post('/v1/auth/login', { email, password: PASSWORD });
      assert.equal(right.statusCode, 200, `round ${round}: ${right.body}`);
    }
  });

  it('rotates refresh tokens; reusing a spent one revokes the whole family', async () => {
    const { refreshToken: first } = await register();
    const rotated = await post('/v1/auth/refresh', { refreshToken: first });
    assert.equal(rotated.statusCode, 200);
    const second = rotated.json().refreshToken as string;
    assert.notEqual(second, first);

    const reused = await post('/v1/auth/refresh', { refreshToken: first });
    assert.equal(reused.statusCode, 401);
    assert.equal(reused.json().code, 'REFRESH_TOKEN_REUSED');
    // The thief's copy is useless, and so is the rest of the family.
    assert.equal((await post('/v1/auth/refresh', { refreshToken: second })).statusCode, 401);
    assert.equal(
      (await post('/v1/auth/refresh', { refreshToken: 'A'.repeat(43) })).statusCode,
      401,
    );
  });

  it('logs out one session, or all of them', async () => {
    const { email, refreshToken, accessToken } = await register();
    const other = (await post('/v1/auth/login', { email, password: PASSWORD })).json();
    assert.equal((await post('/v1/auth/logout', { refreshToken })).statusCode, 204);
    assert.equal((await post('/v1/auth/refresh', { refreshToken })).statusCode, 401);
    assert.equal(
      (await post('/v1/auth/refresh', { refreshToken: other.refreshToken })).statusCode,
      200,
    );

    const third = (await post('/v1/auth/login', { email, password: PASSWORD })).json();
    assert.equal((await post('/v1/auth/logout-all', {}, accessToken)).statusCode, 204);
    assert.equal(
      (await post('/v1/auth/refresh', { refreshToken: third.refreshToken })).statusCode,
      401,
    );
    assert.equal((await post('/v1/auth/logout-all', {})).statusCode, 401, 'needs a token');
  });

  it('changes the password with the current one; every session ends', async () => {
    const { email, accessToken, refreshToken } = await register();
    const wrong = await post(
      '/v1/auth/password',
      { currentPassword: 'nope', newPassword: 'a new long passphrase' },
      accessToken,
    );
    assert.equal(wrong.statusCode, 401);
    const ok = await post(
      '/v1/auth/password',
      { currentPassword: PASSWORD, newPassword: 'a new long passphrase' },
      accessToken,
    );
    assert.equal(ok.statusCode, 204);
    assert.equal((await post('/v1/auth/refresh', { refreshToken })).statusCode, 401);
    assert.equal((await post('/v1/auth/login', { email, password: PASSWORD })).statusCode, 401);
    assert.equal(
      (await post('/v1/auth/login', { email, password: 'a new long passphrase' })).statusCode,
      200,
    );
  });

  it('updates one’s own profile; another user’s is not found; an admin may', async () => {
    const ann = await register();
    const bob = await register();
    const patch = (id: string, token: string) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/users/${id}`,
        payload: { displayName: 'Annie' },
        headers: { authorization: `Bearer ${token}` },
      });
    assert.equal((await patch(ann.userId, ann.accessToken)).statusCode, 200);
    assert.equal((await patch(ann.userId, bob.accessToken)).statusCode, 404);
    const admin = signToken(key, { sub: randomUUID(), roles: ['admin'] });
    assert.equal((await patch(ann.userId, admin)).statusCode, 200);
    const updated = (await userEvents(ann.userId)).filter((e) => e.type === 'UserProfileUpdated');
    assert.equal(updated.length, 2);
    assert.equal(
      await deps.cipher.decrypt(updated[0]?.value.displayName as EncryptedText),
      'Annie',
    );
  });

  it('erases an account: its personal data in the log becomes unreadable, its sessions end, its email is free', async () => {
    const { email, userId, accessToken, refreshToken } = await register();
    const bob = await register();
    const erase = (id: string, token: string, body: object) =>
      post(`/v1/users/${id}/erase`, body, token);
    assert.equal((await erase(userId, bob.accessToken, {})).statusCode, 404, 'not another’s');
    assert.equal((await erase(userId, accessToken, {})).statusCode, 401, 'needs the password');
    assert.equal(
      (await erase(userId, accessToken, { password: 'wrong password!' })).statusCode,
      401,
    );
    assert.equal((await erase(userId, accessToken, { password: PASSWORD })).statusCode, 200);

    const events = await userEvents(userId);
    assert.deepEqual(
      events.map((e) => e.type),
      ['UserRegistered', 'UserErased'],
    );
    assert.equal(await deps.cipher.decrypt(events[0]?.value.email as EncryptedText), undefined);
    assert.equal(
      await deps.cipher.decrypt(events[0]?.value.displayName as EncryptedText),
      undefined,
    );
    assert.equal((await post('/v1/auth/login', { email, password: PASSWORD })).statusCode, 401);
    assert.equal((await post('/v1/auth/refresh', { refreshToken })).statusCode, 401);
    const { rows } = await deps.pool.query(
      'select email, password_hash, status from identity.accounts where user_id = $1',
      [userId],
    );
    assert.deepEqual(rows[0], { email: null, password_hash: null, status: 'erased' });
    await register(email);
  });

  it('changes roles (admins only); the next session carries the new role', async () => {
    const ann = await register();
    const admin = signToken(key, { sub: randomUUID(), roles: ['admin'] });
    const put = (token: string) =>
      app.inject({
        method: 'PUT',
        url: `/v1/users/${ann.userId}/role`,
        payload: { role: 'analyst' },
        headers: { authorization: `Bearer ${token}` },
      });
    assert.equal((await put(ann.accessToken)).statusCode, 403);
    assert.equal((await put(admin)).statusCode, 200);
    const session = (await post('/v1/auth/login', { email: ann.email, password: PASSWORD })).json();
    const claims = JSON.parse(
      Buffer.from(session.accessToken.split('.')[1], 'base64url').toString(),
    );
    assert.deepEqual(claims.roles, ['analyst']);
  });

  it('deactivates an account: its sessions end and it cannot log in', async () => {
    const { email, userId, accessToken, refreshToken } = await register();
    const res = await post(`/v1/users/${userId}/deactivate`, {}, accessToken);
    assert.equal(res.statusCode, 200);
    assert.equal((await post('/v1/auth/refresh', { refreshToken })).statusCode, 401);
    assert.equal((await post('/v1/auth/login', { email, password: PASSWORD })).statusCode, 401);
  });

  it('follows the user events: an erasure appended without the route still shreds the key', async () => {
    const { userId } = await register();
    const [registered] = await userEvents(userId);
    const email = registered?.value.email as EncryptedText;
    assert.ok(await deps.cipher.decrypt(email));
    // As if the API had died after appending: only the event tells the store.
    const admin = randomUUID();
    await deps.gateway.submit('EraseUser', {
      metadata: {
        commandId: randomUUID(),
        aggregateId: userId,
        issuedAt: Date.now(),
        correlationId: randomUUID(),
        actor: `user:${admin}`,
        actorRoles: ['admin'],
        expectedVersion: null,
        idempotencyKey: null,
        tenantId: null,
      },
    });
    const deadline = Date.now() + 20_000;
    while ((await deps.credentials.byId(userId))?.status !== 'erased') {
      assert.ok(Date.now() < deadline, 'the store sync applied the erasure');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await deps.cipher.decrypt(email), undefined);
  });

  it('refuses a token signed with HS256 using the public key as the secret', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
    const body = b64({
      sub: randomUUID(),
      roles: ['admin'],
      iss: 'parley',
      aud: 'parley-api',
      iat: now,
      exp: now + 600,
    });
    const mac = createHmac('sha256', key.publicPem).update(`${head}.${body}`).digest('base64url');
    const res = await post('/v1/conversations', { title: 'x' }, `${head}.${body}.${mac}`);
    assert.equal(res.statusCode, 401);
  });

  it('sends security headers, and CORS headers to allowed origins only', async () => {
    const allowed = await app.inject({
      method: 'OPTIONS',
      url: '/v1/auth/login',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://localhost:5173');
    const other = await app.inject({
      method: 'OPTIONS',
      url: '/v1/auth/login',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(String(res.headers['strict-transport-security']), /max-age=/);
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  it('rate-limits login per IP: 429 problem with Retry-After', async () => {
    const redis = await startThrowawayRedis();
    const limited = await apiWith({ AUTH_RATE_LIMIT_PER_MINUTE: '3', REDIS_URL: redis.url });
    try {
      const attempt = () =>
        limited.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: newEmail(), password: 'whatever it is' },
        });
      // The limit counts per fixed minute (platform/src/rate-limit-store.ts), and the four
      // attempts take seconds on a busy machine: they start where one window holds them all.
      const intoWindow = Date.now() % 60_000;
      if (intoWindow > 40_000) await new Promise((r) => setTimeout(r, 60_100 - intoWindow));
      for (let i = 0; i < 3; i++) assert.equal((await attempt()).statusCode, 401);
      const refused = await attempt();
      assert.equal(refused.statusCode, 429);
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.json().code, 'RATE_LIMITED');
      assert.ok(Number(refused.headers['retry-after']) > 0);
    } finally {
      await limited.close();
      await redis.stop();
    }
  });

  it('rate-limits password changes per user, not per address', async () => {
    const redis = await startThrowawayRedis();
    const limited = await apiWith({ AUTH_RATE_LIMIT_PER_MINUTE: '3', REDIS_URL: redis.url });
    try {
      const attempt = (userId: string) =>
        limited.app.inject({
          method: 'POST',
          url: '/v1/auth/password',
          headers: { authorization: `Bearer ${signToken(key, { sub: userId })}` },
          payload: { currentPassword: 'a guess', newPassword: 'another long passphrase' },
        });
      const intoWindow = Date.now() % 60_000;
      if (intoWindow > 40_000) await new Promise((r) => setTimeout(r, 60_100 - intoWindow));
      const [guesser, neighbour] = [randomUUID(), randomUUID()];
      for (let i = 0; i < 3; i++) assert.equal((await attempt(guesser)).statusCode, 401);
      const refused = await attempt(guesser);
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.json().code, 'RATE_LIMITED');
      // Same address, another account: a budget of its own.
      assert.equal((await attempt(neighbour)).statusCode, 401);
    } finally {
      await limited.close();
      await redis.stop();
    }
  });
});
