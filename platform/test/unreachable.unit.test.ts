import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { createMongoClient } from '../src/mongo.ts';
import { createPostgresPool } from '../src/postgres.ts';
import { closeRedis, createRedis } from '../src/redis.ts';
import { isUnreachable } from '../src/unreachable.ts';

/** A loopback port nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** The error `call` fails with. */
async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('isUnreachable', () => {
  it('knows each client’s error for a store that is not there', async () => {
    const port = await closedPort();
    const pool = createPostgresPool({
      url: `postgres://parley@127.0.0.1:${port}/parley`,
      applicationName: 'unreachable-test',
    });
    const redis = createRedis({ url: `redis://127.0.0.1:${port}`, connectionName: 'test' });
    const mongo = createMongoClient({ url: `mongodb://127.0.0.1:${port}/x`, appName: 'test' });
    try {
      const errors = {
        postgres: await failureOf(() => pool.query('select 1')),
        redis: await failureOf(() => redis.get('k')),
        mongo: await failureOf(() => mongo.db('x').collection('c').findOne({})),
      };
      for (const [store, error] of Object.entries(errors)) {
        assert.ok(isUnreachable(error), `${store}: ${String(error)}`);
      }
    } finally {
      await pool.end();
      await closeRedis(redis);
      await mongo.close();
    }
  });

  it('looks through wrapping errors, and leaves bugs and refusals alone', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.ok(isUnreachable(new Error('retries exhausted', { cause: refused })));
    assert.ok(isUnreachable(Object.assign(new Error('gave up'), { originalError: refused })));
    assert.ok(isUnreachable(Object.assign(new Error('shutting down'), { code: '57P01' })));
    assert.ok(isUnreachable(Object.assign(new Error('no connection'), { code: '08006' })));
    assert.ok(
      isUnreachable(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })),
    );
    assert.ok(isUnreachable(new Error('socket hang up')));
    assert.ok(!isUnreachable(new TypeError("Cannot read properties of undefined (reading 'x')")));
    assert.ok(!isUnreachable(Object.assign(new Error('duplicate key'), { code: '23505' })));
    assert.ok(!isUnreachable('ECONNREFUSED'));
  });
});
