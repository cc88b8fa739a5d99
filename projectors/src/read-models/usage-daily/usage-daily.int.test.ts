import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { usageTable } from '@parley/platform/read-model-names';
import { history } from '../spec.ts';
import { writerFixture } from '../writer-fixture.ts';
import { usageDailyProjection } from './projection.ts';

let fixture: Awaited<ReturnType<typeof writerFixture>>;
before(async () => {
  fixture = await writerFixture(usageDailyProjection);
});
after(() => fixture?.close());

const reply = (completionTokens: number) => ({
  messageId: randomUUID(),
  replyTo: randomUUID(),
  text: '',
  encryptedText: null,
  model: 'offline:echo',
  promptTokens: 10,
  completionTokens,
  latencyMs: 5,
  provider: 'offline',
  finishReason: 'stop',
  firstTokenMs: 1,
  attempt: 1,
});

describe('usage-daily read model in PostgreSQL', () => {
  it('adds each batch’s counts to the day’s row, finding a reply’s owner from an earlier batch', async () => {
    const owner = randomUUID();
    const chat = history(randomUUID());
    const posted = () =>
      chat('UserMessagePosted', {
        messageId: randomUUID(),
        authorId: owner,
        text: 'hi',
        encryptedText: null,
      });
    await fixture.apply([
      chat('ConversationStarted', { ownerId: owner, title: 't', encryptedTitle: null }),
      posted(),
      chat('AssistantReplyRecorded', reply(7)),
    ]);
    await fixture.apply([posted(), chat('AssistantReplyRecorded', reply(5))]);
    const { rows } = await fixture.stores.pool.query(
      `select day::text, messages, replies, prompt_tokens::int, completion_tokens::int
       from ${usageTable(fixture.generation)} where user_id = $1`,
      [owner],
    );
    assert.deepEqual(rows, [
      {
        day: '2026-11-24',
        messages: 2,
        replies: 2,
        prompt_tokens: 20,
        completion_tokens: 12,
      },
    ]);
  });
});
