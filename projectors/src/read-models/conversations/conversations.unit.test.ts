import { describe, it } from 'node:test';
import type { ConversationDoc, MessageDoc } from '@parley/platform/read-models';
import type { EncryptedText } from '@parley/schemas/generated/records';
import { batchContent } from '../../runtime/content.ts';
import { history, ids, MINUTE, sealedText, specFor, T0 } from '../spec.ts';
import { foldConversations, writesOf } from './fold.ts';

const docs = (...list: ConversationDoc[]) => new Map(list.map((d) => [d._id, d]));
/** The writes a batch makes, its owners' content readable unless erased here. */
const specWith = (erased: string[] = [], opened = new Map<EncryptedText, string | undefined>()) =>
  specFor((loaded: ReadonlyMap<string, ConversationDoc>, events) =>
    writesOf(loaded, foldConversations(loaded, events, batchContent(opened, new Set(erased)))),
  );
const nothing = {
  messageInserts: [],
  messagesDeleted: [],
  conversationInserts: [],
  conversationReplaces: [],
};

const started: ConversationDoc = {
  _id: ids.chat1,
  ownerId: ids.alice,
  title: 'Trip to Lisbon',
  status: 'active',
  messageCount: 0,
  lastMessage: null,
  lastActivityAt: new Date(T0),
  createdAt: new Date(T0),
  version: 1,
};
const at = (minutes: number) => new Date(T0 + minutes * MINUTE);
const message = (fields: Partial<MessageDoc> & Pick<MessageDoc, '_id' | 'seq'>): MessageDoc => ({
  conversationId: ids.chat1,
  ownerId: ids.alice,
  role: 'user',
  text: null,
  at: at(fields.seq - 1),
  ...fields,
});

describe('conversations projection', () => {
  it('given nothing, when a conversation starts, then its document is inserted', () => {
    const chat = history(ids.chat1);
    specWith()
      .given(docs())
      .when(
        chat('ConversationStarted', {
          ownerId: ids.alice,
          title: 'Trip to Lisbon',
          encryptedTitle: null,
        }),
      )
      .thenWrites({ ...nothing, conversationInserts: [started] });
  });

  it('decrypts titles and messages with the owner’s key; a message whose key is gone has no text', () => {
    const title = sealedText('secret title');
    const text = sealedText('secret text');
    const lost = sealedText('lost');
    const chat = history(ids.chat1);
    const opened = new Map([
      [title, 'Trip to Lisbon'],
      [text, 'Where should I eat?'],
      [lost, undefined],
    ]);
    specWith([], opened)
      .given(docs())
      .when(
        chat('ConversationStarted', { ownerId: ids.alice, title: '', encryptedTitle: title }),
        chat('UserMessagePosted', {
          messageId: ids.message1,
          authorId: ids.alice,
          text: '',
          encryptedText: text,
        }),
        chat('UserMessagePosted', {
          messageId: ids.message2,
          authorId: ids.alice,
          text: '',
          encryptedText: lost,
        }),
      )
      .thenWrites({
        ...nothing,
        messageInserts: [
          message({ _id: ids.message1, seq: 2, text: 'Where should I eat?' }),
          message({ _id: ids.message2, seq: 3, text: null }),
        ],
        conversationInserts: [
          {
            ...started,
            messageCount: 2,
            lastActivityAt: at(2),
            lastMessage: { role: 'user', preview: 'Where should I eat?', at: at(1) },
            version: 3,
          },
        ],
      });
  });

  it('given a conversation, when a reply and a failure, then messages and a guarded replacement', () => {
    const chat = history(ids.chat1, 1);
    specWith()
      .given(docs(started))
      .when(
        chat('AssistantReplyRecorded', {
          messageId: ids.reply1,
          replyTo: ids.message1,
          text: 'Try the bacalhau.',
          encryptedText: null,
          model: 'offline:echo',
          promptTokens: 1,
          completionTokens: 3,
          latencyMs: 5,
          provider: 'offline',
          finishReason: 'stopped',
          firstTokenMs: 1,
          attempt: 1,
        }),
        chat('AssistantReplyFailed', {
          replyTo: ids.message2,
          reason: 'timeout',
          model: null,
          attempt: 1,
        }),
      )
      .thenWrites({
        ...nothing,
        messageInserts: [
          message({
            _id: ids.reply1,
            seq: 2,
            role: 'assistant',
            text: 'Try the bacalhau.',
            replyTo: ids.message1,
            outcome: 'stopped',
          }),
          message({
            _id: `${ids.chat1.slice(0, 8)}-event-3`,
            seq: 3,
            role: 'assistant',
            replyTo: ids.message2,
            outcome: 'failed',
            failed: 'timeout',
          }),
        ],
        conversationReplaces: [
          {
            doc: {
              ...started,
              messageCount: 2,
              lastActivityAt: at(2),
              lastMessage: { role: 'assistant', preview: 'Try the bacalhau.', at: at(1) },
              version: 3,
            },
            loadedVersion: 1,
          },
        ],
      });
  });

  it('keeps only a tombstone of a deleted conversation and deletes its messages', () => {
    const chat = history(ids.chat1, 1);
    specWith()
      .given(docs(started))
      .when(
        chat('UserMessagePosted', {
          messageId: ids.message1,
          authorId: ids.alice,
          text: 'bye',
          encryptedText: null,
        }),
        chat('ConversationDeleted', {}),
      )
      .thenWrites({
        ...nothing,
        messagesDeleted: [ids.chat1],
        conversationReplaces: [
          {
            doc: {
              _id: ids.chat1,
              ownerId: ids.alice,
              status: 'deleted',
              messageCount: 0,
              lastMessage: null,
              lastActivityAt: at(2),
              createdAt: new Date(T0),
              version: 3,
            },
            loadedVersion: 1,
          },
        ],
      });
  });

  it('writes an erased owner’s conversation as a tombstone with no text, even when it starts', () => {
    const chat = history(ids.chat1);
    specWith([ids.alice])
      .given(docs())
      .when(
        chat('ConversationStarted', { ownerId: ids.alice, title: 'x', encryptedTitle: null }),
        chat('UserMessagePosted', {
          messageId: ids.message1,
          authorId: ids.alice,
          text: 'written before the erasure',
          encryptedText: null,
        }),
      )
      .thenWrites({
        ...nothing,
        messagesDeleted: [ids.chat1],
        conversationInserts: [
          {
            _id: ids.chat1,
            ownerId: ids.alice,
            status: 'erased',
            messageCount: 0,
            lastMessage: null,
            lastActivityAt: new Date(T0),
            createdAt: new Date(T0),
            version: 2,
          },
        ],
      });
  });

  it('writes nothing for events the document already reflects, or of a conversation never started', () => {
    const chat1 = history(ids.chat1);
    const chat2 = history(ids.chat2, 2);
    specWith()
      .given(docs({ ...started, status: 'archived', version: 2 }))
      .when(
        chat1('ConversationStarted', { ownerId: ids.alice, title: 'x', encryptedTitle: null }),
        chat1('ConversationArchived', {}),
        chat2('ConversationArchived', {}),
      )
      .thenWrites(nothing);
  });

  it('renames, and archives without touching the messages', () => {
    const chat = history(ids.chat1, 1);
    specWith()
      .given(docs(started))
      .when(
        chat('ConversationRenamed', {
          title: 'Porto instead',
          encryptedTitle: null,
          promptTokens: 0,
          completionTokens: 0,
        }),
        chat('ReplyStopRequested', { messageId: ids.message1 }),
        chat('ConversationArchived', {}),
      )
      .thenWrites({
        ...nothing,
        conversationReplaces: [
          {
            doc: { ...started, title: 'Porto instead', status: 'archived', version: 4 },
            loadedVersion: 1,
          },
        ],
      });
  });
});
