// The pure parts of the read path: the views' shape, ETags, cursors, minimum versions, date
// ranges, page merging, the fill guard, single-flight, read-your-writes waiting, the progress
// contract and SSE framing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConversationDoc,
  LATEST_MESSAGES,
  type MessageDoc,
  PREVIEW_LENGTH,
} from '@parley/platform/read-models';
import { decodeViewProgress, encodeViewProgress } from '@parley/platform/view-progress';
import { listItemFromView, newestMessages, viewMessagesAfter } from '../src/chat/pages.ts';
import { sseEvent } from '../src/chat/sse.ts';
import { decodeCursor, encodeCursor } from '../src/http/cursor.ts';
import { contentEtag, matchesIfNoneMatch, versionEtag } from '../src/http/etag.ts';
import { listMinVersionOf, minVersionOf } from '../src/http/min-version.ts';
import { conversationViewOf, messagesComplete } from '../src/read-models/shapes.ts';
import { SingleFlight } from '../src/read-models/single-flight.ts';
import { type Watch, waitForVersion } from '../src/read-models/wait-for-version.ts';
import { dateRange } from '../src/usage/date-range.ts';

describe('read model shapes', () => {
  it('keep what the views projection keeps: the latest messages, the preview length', () => {
    const many = Array.from({ length: LATEST_MESSAGES + 3 }, (_, i) => message(i + 2));
    const view = conversationViewOf(
      doc({ messageCount: many.length, version: LATEST_MESSAGES + 4 }),
      many,
    );
    assert.equal(view.data?.messages.length, LATEST_MESSAGES);
    assert.equal(view.data?.messages.at(-1)?.id, many.at(-1)?._id);
    // The document's preview (the conversations projection cut it) is the view's and the list's.
    const preview = 'x'.repeat(PREVIEW_LENGTH);
    const lastMessage = { role: 'user' as const, preview, at: new Date(2000) };
    const listed = conversationViewOf(doc({ messageCount: 1, lastMessage }), [message(2, 2000)]);
    assert.ok(listed.data);
    assert.deepEqual(listed.data.lastMessage, { role: 'user', preview, at: 2000 });
    assert.deepEqual(listItemFromView(listed.data, 2).lastMessage, {
      role: 'user',
      preview,
      at: new Date(2000).toISOString(),
    });
  });
});

describe('ETags', () => {
  it('match If-None-Match weakly, in lists and with *', () => {
    assert.equal(versionEtag(7), '"7"');
    assert.ok(matchesIfNoneMatch('"7"', '"7"'));
    assert.ok(matchesIfNoneMatch('W/"7"', '"7"'));
    assert.ok(matchesIfNoneMatch('"1", "7"', '"7"'));
    assert.ok(matchesIfNoneMatch('*', '"7"'));
    assert.ok(!matchesIfNoneMatch('"6"', '"7"'));
    assert.ok(!matchesIfNoneMatch(undefined, '"7"'));
    assert.equal(contentEtag([1, 'a']), contentEtag([1, 'a']));
    assert.notEqual(contentEtag([1, 'a']), contentEtag([2, 'a']));
  });
});

describe('cursors', () => {
  const valid = (p: Record<string, unknown>): p is { s: number } => Number.isInteger(p.s);
  it('round-trip, and are refused by another route or when tampered with', () => {
    const cursor = encodeCursor('messages', { s: 5 });
    assert.deepEqual(decodeCursor('messages', cursor, valid), { s: 5 });
    assert.throws(() => decodeCursor('users', cursor, valid), { code: 'INVALID_CURSOR' });
    assert.throws(() => decodeCursor('messages', 'not-json', valid), { code: 'INVALID_CURSOR' });
    const forged = encodeCursor('messages', { s: 'x' });
    assert.throws(() => decodeCursor('messages', forged, valid), { code: 'INVALID_CURSOR' });
  });
});

describe('minimum versions', () => {
  it('come from the header before the query, and name the conversation on lists', () => {
    assert.equal(minVersionOf('4', '9'), 4);
    assert.equal(minVersionOf(undefined, '9'), 9);
    assert.equal(minVersionOf(undefined, undefined), undefined);
    const id = '0b9c4c5e-2a4f-4f7e-9a53-5b2f3d1c7e10';
    assert.deepEqual(listMinVersionOf(`${id.toUpperCase()}:12`), {
      conversationId: id,
      version: 12,
    });
  });
});

describe('date ranges', () => {
  const today = new Date('2026-03-10T12:00:00Z');
  it('default to the last 30 days and refuse reversed or over-long ranges', () => {
    assert.deepEqual(dateRange({}, today), { from: '2026-02-09', to: '2026-03-10' });
    assert.deepEqual(dateRange({ from: '2026-01-01', to: '2026-01-01' }, today), {
      from: '2026-01-01',
      to: '2026-01-01',
    });
    assert.throws(() => dateRange({ from: '2026-02-01', to: '2026-01-01' }), {
      code: 'INVALID_RANGE',
    });
    assert.throws(() => dateRange({ from: '2024-01-01', to: '2026-01-01' }), {
      code: 'INVALID_RANGE',
    });
  });
});

const doc = (overrides: Partial<ConversationDoc> = {}): ConversationDoc => ({
  _id: 'c1',
  ownerId: 'u1',
  title: 'T',
  status: 'active',
  messageCount: 2,
  lastMessage: null,
  lastActivityAt: new Date(2000),
  createdAt: new Date(1000),
  version: 3,
  ...overrides,
});
const message = (seq: number, at = seq * 1000): MessageDoc => ({
  _id: `m${seq}`,
  conversationId: 'c1',
  ownerId: 'u1',
  role: 'user',
  text: `text ${seq}`,
  at: new Date(at),
  seq,
});

describe('filling a conversation view from MongoDB', () => {
  it('builds the view the projection would, oldest message first', () => {
    const view = conversationViewOf(doc(), [message(3, 2000), message(2, 1500)]);
    assert.equal(view.version, 3);
    assert.deepEqual(
      view.data?.messages.map((m) => m.id),
      ['m2', 'm3'],
    );
    assert.equal(conversationViewOf(doc({ status: 'deleted' }), []).data, null);
  });
  it('is refused while the document counts messages the collection does not have yet', () => {
    assert.ok(messagesComplete(doc(), [message(3, 2000), message(2, 1500)]));
    assert.ok(!messagesComplete(doc(), [message(2, 1500)]), 'one missing');
    const many = doc({ messageCount: 25, version: 30, lastActivityAt: new Date(30_000) });
    const newestMissing = Array.from({ length: 20 }, (_, i) => message(28 - i));
    assert.ok(!messagesComplete(many, newestMissing), 'the newest missing, twenty found');
    const all = Array.from({ length: 20 }, (_, i) => message(30 - i));
    assert.ok(messagesComplete(many, all));
    assert.ok(messagesComplete(doc({ messageCount: 0 }), []));
  });
});

describe('the newest page of messages', () => {
  const stored = [message(5), message(4), message(3)];
  const viewOf = (...seqs: number[]) =>
    seqs.map((s) => ({ id: `m${s}`, role: 'user' as const, text: `text ${s}`, at: s * 1000 }));
  it('puts what the view has and MongoDB not yet on top, without a seq', () => {
    const page = newestMessages(stored, viewOf(3, 4, 5, 6, 7), 10);
    assert.deepEqual(
      page.items.map((m) => [m.id, m.seq]),
      [
        ['m7', null],
        ['m6', null],
        ['m5', 5],
        ['m4', 4],
        ['m3', 3],
      ],
    );
    assert.equal(page.more, false);
  });
  it('pages on below the oldest message with a seq', () => {
    const page = newestMessages([message(5), message(4), message(3)], viewOf(4, 5, 6), 2);
    assert.deepEqual(
      page.items.map((m) => m.id),
      ['m6', 'm5'],
    );
    assert.equal(page.more, true);
    assert.equal(page.olderThan, 5);
  });
  it('finds the messages after a given one in the view, or says it is not there', () => {
    const view = viewOf(1, 2, 3);
    assert.deepEqual(
      viewMessagesAfter(view, 'm1')?.map((m) => m.id),
      ['m2', 'm3'],
    );
    assert.equal(viewMessagesAfter(view, 'm9'), undefined);
    assert.equal(viewMessagesAfter(view, undefined)?.length, 3);
  });
});

describe('single-flight', () => {
  it('runs one call for concurrent askers of a key, and a new one after it settles', async () => {
    const flight = new SingleFlight();
    let calls = 0;
    const slow = () =>
      new Promise<number>((resolve) => {
        calls += 1;
        setTimeout(() => resolve(calls), 20);
      });
    const results = await Promise.all(Array.from({ length: 50 }, () => flight.run('k', slow)));
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r === 1));
    assert.equal(await flight.run('k', slow), 2);
    assert.equal(flight.size, 0);
  });
});

describe('waiting for a version', () => {
  /** A watch woken by hand. */
  const manualWatch = () => {
    let wake: ((v: boolean) => void) | undefined;
    let stopped = false;
    const watch: Watch = {
      next: (ms) =>
        new Promise<boolean>((resolve) => {
          wake = resolve;
          setTimeout(() => resolve(false), ms);
        }),
      stop: () => {
        stopped = true;
      },
    };
    return { watch, wake: () => wake?.(true), stopped: () => stopped };
  };

  it('reads again only when woken, and answers once the version is there', async () => {
    const versions = [3, 4, 6];
    const reads: boolean[] = [];
    const manual = manualWatch();
    const pending = waitForVersion({
      minVersion: 5,
      versionOf: (v: number) => v,
      read: async (again) => {
        reads.push(again);
        return versions.shift() ?? 0;
      },
      watch: () => manual.watch,
      timeoutMs: 5_000,
    });
    await new Promise((r) => setTimeout(r, 10));
    manual.wake();
    await new Promise((r) => setTimeout(r, 10));
    manual.wake();
    assert.deepEqual(await pending, { value: 6, stale: false });
    assert.deepEqual(reads, [false, true, true]);
    assert.ok(manual.stopped());
  });

  it('answers stale at the bound, or at once when no progress can arrive', async () => {
    const started = Date.now();
    const late = await waitForVersion({
      minVersion: 5,
      versionOf: (v: number) => v,
      read: async () => 2,
      watch: () => manualWatch().watch,
      timeoutMs: 100,
    });
    assert.deepEqual(late, { value: 2, stale: true });
    assert.ok(Date.now() - started >= 90);
    const blind = await waitForVersion({
      minVersion: 5,
      versionOf: (v: number) => v,
      read: async () => 2,
      watch: () => undefined,
      timeoutMs: 10_000,
    });
    assert.deepEqual(blind, { value: 2, stale: true });
  });
});

describe('the progress contract', () => {
  it('round-trips and ignores anything else', () => {
    const progress = { generation: 2, views: [['conversation', 'c1', 7] as const] };
    assert.deepEqual(decodeViewProgress(encodeViewProgress(progress)), progress);
    assert.equal(decodeViewProgress('nope'), undefined);
    assert.equal(decodeViewProgress('{"generation":1,"views":[["other","x",1]]}'), undefined);
  });

  it('carries the trace of the event that moved a view, as a fourth element when there is one', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const progress = {
      generation: 2,
      views: [['conversation', 'c1', 7, traceparent] as const, ['me', 'u1', 3] as const],
    };
    assert.deepEqual(decodeViewProgress(encodeViewProgress(progress)), progress);
    assert.equal(
      decodeViewProgress('{"generation":1,"views":[["me","u1",1,7]]}'),
      undefined,
      'a fourth element that is not a string',
    );
  });
});

describe('SSE framing', () => {
  it('writes id, event and one data line, ending with a blank line', () => {
    assert.equal(
      sseEvent({ id: 'm1\n', event: 'message', data: { text: 'a\nb' } }),
      'id: m1\nevent: message\ndata: {"text":"a\\nb"}\n\n',
    );
  });
});
