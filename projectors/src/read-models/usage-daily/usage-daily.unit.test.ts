import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { history, ids, specFor, T0 } from '../spec.ts';
import { dailyUsage, isoDay, ownersToLoad, startedIn } from './fold.ts';

const DAY = 86_400_000;
const today = Math.floor(T0 / DAY);
const spec = specFor((owners: ReadonlyMap<string, string>, events) => dailyUsage(events, owners));
const counts = { messages: 0, replies: 0, promptTokens: 0, completionTokens: 0 };

const reply = (promptTokens: number, completionTokens: number) => ({
  messageId: ids.reply1,
  replyTo: ids.message1,
  text: '',
  encryptedText: null,
  model: 'offline:echo',
  promptTokens,
  completionTokens,
  latencyMs: 10,
  provider: 'offline',
  finishReason: 'stop',
  firstTokenMs: 1,
  attempt: 1,
});
const posted = (authorId: string) => ({
  messageId: ids.message1,
  authorId,
  text: 'hi',
  encryptedText: null,
});

describe('usage-daily projection', () => {
  it('given a known owner, when messages and replies, then one row per user and day', () => {
    const chat = history(ids.chat1, 1);
    spec
      .given(new Map([[ids.chat1, ids.alice]]))
      .when(
        chat('UserMessagePosted', posted(ids.alice)),
        chat('AssistantReplyRecorded', reply(12, 30)),
        chat('UserMessagePosted', posted(ids.alice)),
        chat('AssistantReplyRecorded', reply(20, 5)),
      )
      .thenWrites([
        {
          ...counts,
          userId: ids.alice,
          day: today,
          messages: 2,
          replies: 2,
          promptTokens: 32,
          completionTokens: 35,
        },
      ]);
  });

  it('counts by UTC day and sorts rows by user then day (one lock order for every batch)', () => {
    const chat1 = history(ids.chat1, 1);
    const chat2 = history(ids.chat2, 1);
    spec
      .given(new Map())
      .when(
        chat2('UserMessagePosted', posted(ids.bob), { occurredAt: T0 + DAY }),
        chat1('UserMessagePosted', posted(ids.bob)),
        chat1('UserMessagePosted', posted(ids.alice)),
      )
      .thenWrites([
        { ...counts, userId: ids.alice, day: today, messages: 1 },
        { ...counts, userId: ids.bob, day: today, messages: 1 },
        { ...counts, userId: ids.bob, day: today + 1, messages: 1 },
      ]);
  });

  it('given a known owner, when the assistant titles the conversation, then its tokens count (not an owner’s rename)', () => {
    const chat = history(ids.chat1, 1);
    const renamed = (promptTokens: number, completionTokens: number) => ({
      title: '',
      encryptedTitle: null,
      promptTokens,
      completionTokens,
    });
    spec
      .given(new Map([[ids.chat1, ids.alice]]))
      .when(
        chat('ConversationRenamed', renamed(0, 0)),
        chat('AssistantReplyRecorded', reply(12, 30)),
        chat('ConversationRenamed', renamed(40, 6)),
      )
      .thenWrites([
        {
          ...counts,
          userId: ids.alice,
          day: today,
          replies: 1,
          promptTokens: 52,
          completionTokens: 36,
        },
      ]);
  });

  it('counts a reply for nobody when its conversation has no known owner', () => {
    const chat = history(ids.chat1, 1);
    spec
      .given(new Map())
      .when(chat('AssistantReplyRecorded', reply(1, 1)))
      .thenWrites([]);
  });

  it('learns owners from the batch and asks the store only for the others', () => {
    const chat1 = history(ids.chat1);
    const chat2 = history(ids.chat2, 4);
    const chat3 = history(ids.chat3, 2);
    const chat4 = history(ids.chat4, 2);
    const events = [
      chat1('ConversationStarted', { ownerId: ids.alice, title: 't', encryptedTitle: null }),
      chat1('AssistantReplyRecorded', reply(1, 1)),
      chat2('AssistantReplyRecorded', reply(1, 1)),
      chat2('ConversationArchived', {}),
      // An owner's rename costs nothing; the assistant's title does.
      chat3('ConversationRenamed', {
        title: '',
        encryptedTitle: null,
        promptTokens: 0,
        completionTokens: 0,
      }),
      chat4('ConversationRenamed', {
        title: '',
        encryptedTitle: null,
        promptTokens: 9,
        completionTokens: 2,
      }),
    ];
    const started = startedIn(events);
    assert.deepEqual([...started], [[ids.chat1, ids.alice]]);
    assert.deepEqual(ownersToLoad(events, started), [ids.chat2, ids.chat4]);
  });

  it('writes days as the dates PostgreSQL stores', () => {
    assert.equal(isoDay(today), '2026-11-24');
    assert.equal(isoDay(0), '1970-01-01');
  });
});
