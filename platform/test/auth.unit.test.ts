import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { parsePublicKeys, registerAuth } from '../src/auth.ts';
import { createHttpServer } from '../src/http.ts';
import { createMetricsRegistry } from '../src/metrics.ts';
import { quietLogger } from '../src/testing/fixtures.ts';
import { createSigningKey, publicKeySet, signToken } from '../src/testing/tokens.ts';

const key = createSigningKey();
const app = createHttpServer({
  service: 'test-auth',
  log: quietLogger(),
  metrics: createMetricsRegistry('test-auth'),
  checks: [],
});
const revoked = new Set<string>();
await registerAuth(app, {
  publicKeys: parsePublicKeys(publicKeySet(key)),
  issuer: 'parley',
  audience: 'parley-api',
  maxLifetimeSeconds: 3600,
  revoked,
});
app.get('/me', { onRequest: app.authenticate }, async (request) => request.user);
after(() => app.close());

const me = (token: string) =>
  app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } });

describe('authenticate', () => {
  it('answers the same principal for a token seen before', async () => {
    const sub = randomUUID();
    const token = signToken(key, { sub, roles: ['user', 'admin'] });
    for (let i = 0; i < 3; i++) {
      const res = await me(token);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { userId: sub, roles: ['user', 'admin'] });
    }
  });

  it('refuses a remembered token once it has expired', async () => {
    const token = signToken(key, { sub: randomUUID(), expiresIn: 1 });
    assert.equal((await me(token)).statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const res = await me(token);
    assert.equal(res.statusCode, 401);
  });

  it('refuses a changed signature after the original was accepted', async () => {
    const token = signToken(key, { sub: randomUUID() });
    assert.equal((await me(token)).statusCode, 200);
    const forged = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    assert.equal((await me(forged)).statusCode, 401);
    const other = signToken(createSigningKey(), { sub: randomUUID() });
    assert.equal((await me(other)).statusCode, 401, 'an unknown key');
  });

  it('refuses the tokens of a revoked user at once, remembered or new, with TOKEN_REVOKED', async () => {
    const sub = randomUUID();
    const remembered = signToken(key, { sub });
    assert.equal((await me(remembered)).statusCode, 200);
    revoked.add(sub);
    for (const token of [remembered, signToken(key, { sub, expiresIn: 600 })]) {
      const res = await me(token);
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'TOKEN_REVOKED');
      assert.match(res.headers['content-type'] as string, /problem\+json/);
    }
    assert.equal((await me(signToken(key, { sub: randomUUID() }))).statusCode, 200, 'others');
  });

  it('refuses tokens that live longer than allowed, or do not say when they were issued', async () => {
    const sub = randomUUID();
    assert.equal((await me(signToken(key, { sub, expiresIn: 3600 }))).statusCode, 200);
    const long = await me(signToken(key, { sub, expiresIn: 3601 }));
    assert.equal(long.statusCode, 401);
    assert.match(long.json().detail, /longer than the 3600 s/);
    const backdated = await me(signToken(key, { sub, issuedAt: -7200, expiresIn: 600 }));
    assert.equal(backdated.statusCode, 401);
    assert.equal((await me(signToken(key, { sub, issuedAt: null }))).statusCode, 401);
  });
});
