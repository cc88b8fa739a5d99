import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConversationView,
  LATEST_MESSAGES,
  PREVIEW_LENGTH,
  type ViewMessage,
} from '../src/read-models.ts';
import { conversationHeadOf, conversationLayout, meLayout } from '../src/view-hashes.ts';

const message = (n: number, text: string | null = `message ${n}`): ViewMessage => ({
  id: `m${n}`,
  role: n % 2 === 0 ? 'user' : 'assistant',
  text,
  at: 1_000 + n,
});

const view = (count: number, messages: ViewMessage[]): ConversationView => ({
  id: 'c1',
  ownerId: 'u1',
  title: 'Lisbon',
  status: 'active',
  messageCount: count,
  createdAt: 1_000,
  lastActivityAt: 1_000 + count,
  lastMessage: { role: 'user', preview: 'last', at: 1_000 + count },
  messages,
});

/** A hash as Redis would hold it after these writes (HSET of version, data and the fields). */
const hashOf = (version: number, ...views: ConversationView[]) => {
  const hash: Record<string, string> = { version: String(version) };
  for (const v of views) {
    const { data, fields } = conversationLayout.toHash(v);
    hash.data = data;
    for (let i = 0; i < fields.length; i += 2) hash[fields[i] as string] = fields[i + 1] as string;
  }
  return hash;
};

describe('the views’ layout in their Redis hashes', () => {
  it('stores a conversation’s head in data and each message in a field numbered from its count', () => {
    const { data, fields } = conversationLayout.toHash(view(7, [message(5), message(6)]));
    assert.equal(JSON.parse(data).messages, undefined, 'no messages in the head');
    assert.deepEqual(
      fields.filter((_, i) => i % 2 === 0),
      ['m5', 'm6'],
    );
  });

  it('reads a conversation back with its latest messages in order, written over several batches', () => {
    const first = view(3, [message(0), message(1), message(2)]);
    const next = view(4, [message(3)]);
    const read = conversationLayout.fromHash(hashOf(9, first, next));
    assert.equal(read?.version, 9);
    assert.deepEqual(
      read?.data?.messages.map((m) => m.id),
      ['m0', 'm1', 'm2', 'm3'],
    );
    assert.equal(read?.data?.messageCount, 4);
  });

  it(`keeps at most ${LATEST_MESSAGES} messages when older fields are still there`, () => {
    const all = Array.from({ length: LATEST_MESSAGES + 3 }, (_, n) => message(n));
    const hash = hashOf(30, view(all.length, all));
    const read = conversationLayout.fromHash(hash);
    assert.equal(read?.data?.messages.length, LATEST_MESSAGES);
    assert.equal(read?.data?.messages[0]?.id, 'm3');
  });

  it('reads a tombstone as null data, and no hash as no view', () => {
    assert.deepEqual(conversationLayout.fromHash({ version: '4' }), { version: 4, data: null });
    assert.equal(conversationLayout.fromHash({}), undefined);
  });

  it('reads a view of the earlier layout (messages inside data, no lastMessage) the same', () => {
    const long = 'x'.repeat(PREVIEW_LENGTH + 10);
    const { lastMessage: _, ...older } = view(3, [message(0), message(1, long), message(2, null)]);
    const hash = { version: '3', data: JSON.stringify(older) };
    const read = conversationLayout.fromHash(hash);
    assert.deepEqual(
      read?.data?.messages.map((m) => m.id),
      ['m0', 'm1', 'm2'],
    );
    assert.deepEqual(read?.data?.lastMessage, {
      role: 'assistant',
      preview: long.slice(0, PREVIEW_LENGTH),
      at: 1_001,
    });
    assert.equal(conversationHeadOf(hash.data).messages.length, 3);
  });

  it('stores a me view whole in data', () => {
    const me = {
      userId: 'u1',
      email: null,
      displayName: 'Ann',
      role: 'user',
      status: 'active',
      locale: null,
    };
    const { data, fields } = meLayout.toHash(me);
    assert.deepEqual(fields, []);
    assert.deepEqual(meLayout.fromHash({ version: '2', data }), { version: 2, data: me });
  });
});
