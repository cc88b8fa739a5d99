import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from '@parley/platform/redis';
import type { ReplyEvent } from '@parley/platform/reply-stream';
import { ReplyWriter } from '../src/reply-writer.ts';

/** A connection whose append script answers as `answer` says, recording what it was sent. */
function fakeRedis(answer: (event: ReplyEvent) => Promise<string>) {
  const sent: ReplyEvent[] = [];
  const redis = {
    defineCommand: () => undefined,
    appendReplyEvent: (_stream: string, _channel: string, _max: string, json: string) => {
      const event = JSON.parse(json) as ReplyEvent;
      sent.push(event);
      return answer(event);
    },
  };
  return { redis: redis as unknown as Redis, sent };
}

/** The unhandled rejections while `work` runs and a few turns after. */
async function unhandledDuring(work: () => Promise<void>) {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

/** The reply's `reply-started`, as the reactor writes it before the deltas. */
const startReply = (writer: ReplyWriter) =>
  writer.append('c1', { type: 'reply-started', replyId: 'r1', replyTo: 'm1', attempt: 1 });

describe('ReplyWriter deltas', () => {
  it('sends the first delta at once and gathers the rest into one entry', async () => {
    const { redis, sent } = fakeRedis(async () => '1-0');
    const deltas = new ReplyWriter(redis, 'test.').deltas('c1', 'r1');
    deltas.push('Hel');
    deltas.push('lo, ');
    deltas.push('world');
    await deltas.flush();
    assert.deepEqual(
      sent.map((e) => (e.type === 'reply-delta' ? e.text : e.type)),
      ['Hel', 'lo, world'],
    );
  });

  it('when Redis fails mid-reply: the final flush fails, and no rejection goes unhandled', async () => {
    const down = new Error('Stream isn’t writeable');
    let flushed: unknown;
    const unhandled = await unhandledDuring(async () => {
      const { redis } = fakeRedis(async () => {
        throw down;
      });
      const writer = new ReplyWriter(redis, 'test.');
      // reply-started failed too, and nobody awaits it but the deltas.
      const started = startReply(writer);
      const deltas = writer.deltas('c1', 'r1', started);
      deltas.push('first');
      await new Promise((r) => setTimeout(r, 10));
      deltas.push('second');
      flushed = await deltas.flush().then(
        () => 'written',
        (error: unknown) => error,
      );
    });
    assert.equal(flushed, down);
    assert.deepEqual(unhandled, []);
  });

  it('when Redis goes away after the first delta: the later writes and the final flush fail, none unhandled', async () => {
    const down = new Error('Connection is closed.');
    let up = true;
    const { redis, sent } = fakeRedis(async () => {
      if (!up) throw down;
      return '1-0';
    });
    const writer = new ReplyWriter(redis, 'test.');
    let flushed: unknown;
    const unhandled = await unhandledDuring(async () => {
      const started = startReply(writer);
      const deltas = writer.deltas('c1', 'r1', started);
      deltas.push('first');
      await started;
      await new Promise((r) => setTimeout(r, 10));
      up = false;
      deltas.push(' second');
      // Gathered for 100 ms: the timer's write fails on its own, then more text comes.
      await new Promise((r) => setTimeout(r, 150));
      deltas.push(' third');
      flushed = await deltas.flush().then(
        () => 'written',
        (error: unknown) => error,
      );
    });
    assert.equal(flushed, down);
    assert.deepEqual(unhandled, []);
    assert.deepEqual(
      sent.map((e) => (e.type === 'reply-delta' ? e.text : e.type)),
      ['reply-started', 'first', ' second'],
      'the writes after the failed one are not tried',
    );
  });
});
