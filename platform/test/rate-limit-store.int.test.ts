// The rate-limit store against the real Redis: counts without waiting for Redis, shares counts
// between instances through it, keeps counting when Redis is out of reach, and keeps routes
// apart unless they share a group.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sharedCountRateLimitStore } from '../src/rate-limit-store.ts';
import { closeRedis, createRedis } from '../src/redis.ts';
import { redisReady, stackConfig, uniqueName } from '../src/testing/fixtures.ts';

const config = stackConfig();
const redis = createRedis({
  url: config.REDIS_URL,
  password: config.REDIS_PASSWORD,
  connectionName: 'test.rate-limit',
});
after(() => closeRedis(redis));

const WINDOW = 60_000;
type Store = InstanceType<ReturnType<typeof sharedCountRateLimitStore>['Store']>;

function hit(store: Store, key: string) {
  let result: { current: number; ttl: number } | undefined;
  store.incr(
    key,
    (error, value) => {
      assert.equal(error, null);
      result = value;
    },
    WINDOW,
  );
  // The answer comes at once, before any Redis reply.
  assert.ok(result, 'incr answered synchronously');
  return result;
}

const instance = (prefix: string) => {
  const { Store, counters } = sharedCountRateLimitStore(redis, prefix);
  return { store: new Store().child({ groupId: 'reads' }), route: new Store(), counters };
};

describe('shared-count rate-limit store', () => {
  it('counts each hit at once, and two instances learn each other’s hits through Redis', async () => {
    await redisReady(redis);
    const prefix = `${uniqueName('rate')}:`;
    const a = instance(prefix);
    const b = instance(prefix);
    for (let i = 1; i <= 5; i++) assert.equal(hit(a.store, 'user:1').current, i);
    for (let i = 1; i <= 3; i++) assert.equal(hit(b.store, 'user:1').current, i);
    await a.counters.flush();
    await b.counters.flush();
    // b flushed after a: Redis answered b with both instances' hits.
    assert.equal(hit(b.store, 'user:1').current, 9);
    // a learns them with its own next hits (a client's budget matters where it sends requests).
    assert.equal(hit(a.store, 'user:1').current, 6, 'before its flush a knows its own hits');
    await a.counters.flush();
    assert.equal(hit(a.store, 'user:1').current, 10, 'after it, everyone’s');
    const keys = await redis.keys(`${prefix}*`);
    assert.equal(keys.length, 1);
    const ttl = await redis.pttl(keys[0] as string);
    assert.ok(ttl > 0 && ttl <= 2 * WINDOW, `the Redis counter expires (pttl ${ttl})`);
    await redis.del(...keys);
  });

  it('gives a ttl within the window and separates users and ungrouped routes', async () => {
    const { Store } = sharedCountRateLimitStore(redis, `${uniqueName('rate')}:`);
    const root = new Store();
    const login = root.child({ routeInfo: { method: 'POST', url: '/v1/auth/login' } });
    const refresh = root.child({ routeInfo: { method: 'POST', url: '/v1/auth/refresh' } });
    const first = hit(login, 'ip:1');
    assert.ok(first.ttl > 0 && first.ttl <= WINDOW);
    assert.equal(hit(login, 'ip:1').current, 2);
    assert.equal(hit(refresh, 'ip:1').current, 1, 'another route has its own budget');
    assert.equal(hit(login, 'ip:2').current, 1, 'another client has its own budget');
    let peeked: { current: number } | undefined;
    login.read(
      'ip:1',
      (_error, value) => {
        peeked = value;
      },
      WINDOW,
    );
    assert.equal(peeked?.current, 2, 'read does not count');
  });

  it('goes on counting on its own while Redis is out of reach', async () => {
    const down = createRedis({
      url: 'redis://127.0.0.1:1',
      connectionName: 'test.rate-limit-down',
    });
    try {
      const { Store, counters } = sharedCountRateLimitStore(down, 'unreachable:');
      const store = new Store();
      hit(store, 'user:1');
      hit(store, 'user:1');
      await counters.flush();
      assert.equal(hit(store, 'user:1').current, 3, 'the flushed hits are still counted');
    } finally {
      down.disconnect();
    }
  });
});
