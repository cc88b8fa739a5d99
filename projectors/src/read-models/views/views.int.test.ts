import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { viewKeys } from '@parley/platform/read-model-names';
import { LATEST_MESSAGES } from '@parley/platform/read-models';
import { redisReady } from '@parley/platform/testing/fixtures';
import { conversationLayout } from '@parley/platform/view-hashes';
import { decodeViewProgress, viewProgressChannel } from '@parley/platform/view-progress';
import { history } from '../spec.ts';
import { writerFixture } from '../writer-fixture.ts';
import { viewsProjection } from './projection.ts';

let fixture: Awaited<ReturnType<typeof writerFixture>>;
before(async () => {
  fixture = await writerFixture(viewsProjection);
});
after(() => fixture?.close());

describe('views read model in Redis', () => {
  it('writes the me view, the conversation and the owner’s list; publishes progress; a replay changes nothing', async () => {
    const { cipher, redis } = fixture.stores;
    const keys = viewKeys(fixture.generation);
    const owner = randomUUID();
    const id = randomUUID();
    const user = history(owner);
    const chat = history(id);
    const subscriber = redis.duplicate();
    const progress: string[] = [];
    try {
      await redisReady(subscriber);
      await subscriber.subscribe(viewProgressChannel(fixture.generation.namespace));
      subscriber.on('message', (_channel, message) => progress.push(message));
      const batch = [
        user('UserRegistered', {
          email: await cipher.encrypt(owner, 'cy@example.com'),
          displayName: await cipher.encrypt(owner, 'Cy'),
          role: 'user',
          locale: null,
        }),
        chat('ConversationStarted', { ownerId: owner, title: 'Porto', encryptedTitle: null }),
      ];
      await fixture.apply(batch);
      const me = await redis.hgetall(keys.me(owner));
      assert.equal(me.version, '1');
      assert.equal(JSON.parse(me.data ?? '{}').email, 'cy@example.com');
      const conversation = conversationLayout.fromHash(await redis.hgetall(keys.conversation(id)));
      assert.equal(conversation?.data?.title, 'Porto');
      assert.deepEqual(await redis.zrange(keys.list(owner), 0, -1), [id]);

      const before = await fixture.checksum();
      await fixture.apply(batch);
      assert.equal(await fixture.checksum(), before);

      await fixture.apply([chat('ConversationDeleted', {})]);
      assert.deepEqual(await redis.hgetall(keys.conversation(id)), { version: '2' });
      assert.deepEqual(await redis.zrange(keys.list(owner), 0, -1), []);

      for (let i = 0; i < 50 && progress.length < 2; i++)
        await new Promise((r) => setTimeout(r, 20));
      const views = progress.flatMap((m) => decodeViewProgress(m)?.views ?? []);
      assert.deepEqual(
        views.map(([kind, viewId, version]) => [kind, viewId, version]),
        [
          ['me', owner, 1],
          ['conversation', id, 1],
          ['conversation', id, 2],
        ],
      );
    } finally {
      subscriber.disconnect();
    }
  });

  it(`keeps a conversation's latest ${LATEST_MESSAGES} messages over many batches, one field each`, async () => {
    const { redis } = fixture.stores;
    const keys = viewKeys(fixture.generation);
    const owner = randomUUID();
    const id = randomUUID();
    const chat = history(id);
    const post = (n: number) =>
      chat('UserMessagePosted', {
        messageId: `m-${n}`,
        authorId: owner,
        text: `message ${n}`,
        encryptedText: null,
      });
    await fixture.apply([
      chat('ConversationStarted', { ownerId: owner, title: 'Faro', encryptedTitle: null }),
      post(0),
      post(1),
    ]);
    // Batches of one to seven messages: each writes its own and drops what falls out.
    let n = 2;
    for (const size of [1, 7, 3, 5, 1, 6, 4]) {
      await fixture.apply(Array.from({ length: size }, () => post(n++)));
    }
    const hash = await redis.hgetall(keys.conversation(id));
    const fields = Object.keys(hash).filter((f) => /^m\d+$/.test(f));
    assert.equal(fields.length, LATEST_MESSAGES, 'one field per kept message, no more');
    const view = conversationLayout.fromHash(hash);
    assert.equal(view?.data?.messageCount, n);
    assert.deepEqual(
      view?.data?.messages.map((m) => m.text),
      Array.from({ length: LATEST_MESSAGES }, (_, i) => `message ${n - LATEST_MESSAGES + i}`),
    );
    assert.equal(view?.data?.lastMessage?.preview, `message ${n - 1}`);

    // Its owner erased: only the version stays (no head, no message fields).
    await fixture.apply([history(owner)('UserErased', {})]);
    assert.deepEqual(await redis.hgetall(keys.conversation(id)), { version: String(n + 1) });
  });

  it('goes on from a view of the earlier layout (its messages inside data) and rewrites it in this one', async () => {
    const { redis } = fixture.stores;
    const keys = viewKeys(fixture.generation);
    const owner = randomUUID();
    const id = randomUUID();
    const chat = history(id, 4);
    const earlier = Array.from({ length: 3 }, (_, n) => ({
      id: `old-${n}`,
      role: 'user',
      text: `earlier ${n}`,
      at: 1_000 + n,
    }));
    const head = {
      id,
      ownerId: owner,
      title: 'Braga',
      status: 'active',
      messageCount: 3,
      createdAt: 1_000,
      lastActivityAt: 1_002,
    };
    await redis.hset(keys.conversation(id), {
      version: '4',
      data: JSON.stringify({ ...head, messages: earlier }),
    });
    assert.equal(
      conversationLayout.fromHash(await redis.hgetall(keys.conversation(id)))?.data?.lastMessage
        ?.preview,
      'earlier 2',
      'the earlier layout reads with its last message',
    );
    await fixture.apply([
      chat('UserMessagePosted', {
        messageId: 'new-0',
        authorId: owner,
        text: 'and now',
        encryptedText: null,
      }),
    ]);
    const hash = await redis.hgetall(keys.conversation(id));
    assert.equal(JSON.parse(hash.data ?? '{}').messages, undefined, 'the head alone in data');
    const view = conversationLayout.fromHash(hash);
    assert.equal(view?.version, 5);
    assert.deepEqual(
      view?.data?.messages.map((m) => m.text),
      ['earlier 0', 'earlier 1', 'earlier 2', 'and now'],
    );
    assert.equal(view?.data?.messageCount, 4);
  });
});
