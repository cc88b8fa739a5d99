import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEventMap, EncryptedText } from '@parley/schemas/generated/records';
import { MESSAGES_PER_CONVERSATION } from '../src/chat/conversation.ts';
import {
  ASSISTANT_ACTOR,
  type ConversationCommand,
  conversationDecider,
} from '../src/chat/decide.ts';
import { type Draft, runDecider } from '../src/shared/decider.ts';
import {
  AlreadyExists,
  Forbidden,
  NotFound,
  RuleViolation,
  VersionConflict,
} from '../src/shared/errors.ts';
import { ids, metadata, specFor } from './decider-spec.ts';

const spec = specFor(conversationDecider);
type Event = Draft<ChatEventMap>;

/** What the API sends: the text encrypted under the owner's key (a stand-in here; deciders never open it). */
const sealed = (text: string): EncryptedText => ({
  keyId: 'key-1',
  nonce: Buffer.alloc(12),
  ciphertext: Buffer.from(text),
});
const TITLE = sealed('Trip to Lisbon');
const TEXT = sealed('Where should I eat?');
/** A title the owner gave: no model tokens. */
const noTokens = { promptTokens: 0, completionTokens: 0 };

const started: Event = {
  type: 'ConversationStarted',
  value: { ownerId: ids.owner, title: '', encryptedTitle: TITLE },
};
const posted: Event = {
  type: 'UserMessagePosted',
  value: { messageId: ids.message, authorId: ids.owner, text: '', encryptedText: TEXT },
};
const archived: Event = { type: 'ConversationArchived', value: {} };
const deleted: Event = { type: 'ConversationDeleted', value: {} };

const byOwner = metadata();
const byOther = metadata({ actor: `user:${ids.other}` });
const byAssistant = metadata({ actor: ASSISTANT_ACTOR, actorRoles: [] });

const start = (title: EncryptedText | string, m = byOwner): ConversationCommand => ({
  type: 'StartConversation',
  value:
    typeof title === 'string'
      ? { metadata: m, title, encryptedTitle: null }
      : { metadata: m, title: '', encryptedTitle: title },
});
const rename = (title: EncryptedText | string, m = byOwner): ConversationCommand => ({
  type: 'RenameConversation',
  value:
    typeof title === 'string'
      ? { metadata: m, title, encryptedTitle: null }
      : { metadata: m, title: '', encryptedTitle: title },
});
const post = (
  text: EncryptedText | string,
  m = byOwner,
  messageId = ids.message2,
): ConversationCommand => ({
  type: 'PostUserMessage',
  value:
    typeof text === 'string'
      ? { metadata: m, messageId, text, encryptedText: null }
      : { metadata: m, messageId, text: '', encryptedText: text },
});
const reply = (replyTo: string, m = byAssistant, attempt = 1): ConversationCommand => ({
  type: 'RecordAssistantReply',
  value: {
    metadata: m,
    messageId: ids.message2,
    replyTo,
    text: '',
    encryptedText: sealed('Try the Time Out Market.'),
    model: 'offline:echo',
    promptTokens: 12,
    completionTokens: 7,
    latencyMs: 40,
    provider: 'offline',
    finishReason: 'stop',
    firstTokenMs: 5,
    attempt,
  },
});
const failure = (replyTo: string): ConversationCommand => ({
  type: 'RecordAssistantReplyFailure',
  value: { metadata: byAssistant, replyTo, reason: 'timeout', model: 'offline:echo', attempt: 1 },
});
const archive = (m = byOwner): ConversationCommand => ({
  type: 'ArchiveConversation',
  value: { metadata: m },
});
const remove = (m = byOwner): ConversationCommand => ({
  type: 'DeleteConversation',
  value: { metadata: m },
});

describe('StartConversation', () => {
  it('starts a conversation owned by the actor, its title as the API encrypted it', () => {
    spec.given([]).when(start(TITLE)).thenEvents([started]);
  });
  it('refuses a second start and a start by a system actor', () => {
    spec.given([started]).when(start(TITLE)).thenThrows(AlreadyExists);
    spec.given([]).when(start(TITLE, byAssistant)).thenThrows(Forbidden);
  });
});

describe('RenameConversation', () => {
  it('renames; the state holds no title, so every rename is recorded', () => {
    const renamed: Event = {
      type: 'ConversationRenamed',
      value: { title: '', encryptedTitle: sealed('Lisbon food'), ...noTokens },
    };
    spec
      .given([started])
      .when(rename(sealed('Lisbon food')))
      .thenEvents([renamed]);
    spec
      .given([started, renamed])
      .when(rename(sealed('Lisbon food')))
      .thenEvents([renamed]);
  });
  it('is the owner’s only: anyone else gets not-found', () => {
    spec.given([started]).when(rename(TITLE, byOther)).thenThrows(NotFound);
  });
  it('refuses archived and deleted conversations', () => {
    spec
      .given([started, archived])
      .when(rename(TITLE))
      .thenThrows(RuleViolation, /archived/);
    spec.given([started, deleted]).when(rename(TITLE)).thenThrows(NotFound);
  });
});

describe('PostUserMessage', () => {
  it('posts the owner’s message as the API encrypted it', () => {
    spec
      .given([started])
      .when(post(TEXT))
      .thenEvents([
        {
          type: 'UserMessagePosted',
          value: { messageId: ids.message2, authorId: ids.owner, text: '', encryptedText: TEXT },
        },
      ]);
  });
  it('lets only the owner post (BOLA)', () => {
    spec.given([started]).when(post(TEXT, byOther)).thenThrows(NotFound);
  });
  it('takes no messages in an archived, deleted or unknown conversation', () => {
    spec
      .given([started, archived])
      .when(post(TEXT))
      .thenThrows(RuleViolation, /archived/);
    spec.given([started, deleted]).when(post(TEXT)).thenThrows(NotFound);
    spec.given([]).when(post(TEXT)).thenThrows(NotFound);
  });
  it('enforces the per-conversation message quota', () => {
    const full: Event[] = [started];
    for (let i = 0; i < MESSAGES_PER_CONVERSATION; i++) {
      full.push({
        type: 'UserMessagePosted',
        value: { messageId: `${i}`, authorId: ids.owner, text: '', encryptedText: TEXT },
      });
    }
    spec
      .given(full)
      .when(post(TEXT))
      .thenThrows(RuleViolation, /at most 1000 messages/);
  });
});

describe('commands sent before content was encrypted (plain text)', () => {
  it('checks and trims their text, and the event carries it as it came', () => {
    spec
      .given([])
      .when(start('  Trip to Lisbon '))
      .thenEvents([
        {
          type: 'ConversationStarted',
          value: { ownerId: ids.owner, title: 'Trip to Lisbon', encryptedTitle: null },
        },
      ]);
    spec
      .given([started])
      .when(post(' Hello '))
      .thenEvents([
        {
          type: 'UserMessagePosted',
          value: {
            messageId: ids.message2,
            authorId: ids.owner,
            text: 'Hello',
            encryptedText: null,
          },
        },
      ]);
    spec
      .given([started])
      .when(rename('Lisbon food'))
      .thenEvents([
        {
          type: 'ConversationRenamed',
          value: { title: 'Lisbon food', encryptedTitle: null, ...noTokens },
        },
      ]);
  });
  it('refuses empty and overlong titles and messages', () => {
    spec
      .given([])
      .when(start('x'.repeat(201)))
      .thenThrows(RuleViolation, /at most 200/);
    spec.given([started]).when(post('  ')).thenThrows(RuleViolation, /empty/);
    spec
      .given([started])
      .when(post('x'.repeat(10_001)))
      .thenThrows(RuleViolation, /at most 10000/);
  });
});

describe('assistant replies', () => {
  it('records a reply to a message awaiting one, from the assistant only', () => {
    const { metadata: _, ...value } = reply(ids.message).value as { metadata: unknown };
    spec
      .given([started, posted])
      .when(reply(ids.message))
      .thenEvents([{ type: 'AssistantReplyRecorded', value } as Event]);
    spec.given([started, posted]).when(reply(ids.message, byOwner)).thenThrows(Forbidden);
  });
  it('refuses a reply to a message not awaiting one (unknown or already answered)', () => {
    spec
      .given([started])
      .when(reply(ids.message))
      .thenThrows(RuleViolation, /not awaiting/);
    const answered: Event = {
      type: 'AssistantReplyFailed',
      value: { replyTo: ids.message, reason: 'timeout', model: null, attempt: 1 },
    };
    spec
      .given([started, posted, answered])
      .when(reply(ids.message))
      .thenThrows(RuleViolation, /not awaiting/);
  });
  it('records a failure, and still records replies after archiving', () => {
    spec
      .given([started, posted])
      .when(failure(ids.message))
      .thenEvents([
        {
          type: 'AssistantReplyFailed',
          value: { replyTo: ids.message, reason: 'timeout', model: 'offline:echo', attempt: 1 },
        },
      ]);
    spec
      .given([started, posted, archived])
      .when(failure(ids.message))
      .thenEvents([
        {
          type: 'AssistantReplyFailed',
          value: { replyTo: ids.message, reason: 'timeout', model: 'offline:echo', attempt: 1 },
        },
      ]);
  });
});

const replied = (attempt = 1): Event => {
  const { metadata: _, ...value } = reply(ids.message, byAssistant, attempt).value as {
    metadata: unknown;
  };
  return { type: 'AssistantReplyRecorded', value } as Event;
};
const regenerate = (messageId = ids.message, m = byOwner): ConversationCommand => ({
  type: 'RegenerateReply',
  value: { metadata: m, messageId },
});
const stopReply = (messageId = ids.message, m = byOwner): ConversationCommand => ({
  type: 'StopReply',
  value: { metadata: m, messageId },
});
const again = (attempt: number): Event => ({
  type: 'ReplyRegenerationRequested',
  value: { messageId: ids.message, attempt },
});

describe('RegenerateReply', () => {
  it('asks for another reply to an answered message; the next attempt is numbered on', () => {
    spec
      .given([started, posted, replied()])
      .when(regenerate())
      .thenEvents([again(2)]);
    spec
      .given([started, posted, replied(), again(2), replied(2)])
      .when(regenerate())
      .thenEvents([again(3)]);
  });
  it('makes the message await a reply again, so the assistant records a second one', () => {
    spec
      .given([started, posted, replied(), again(2)])
      .when(reply(ids.message, byAssistant, 2))
      .thenEvents([replied(2)]);
  });
  it('refuses while a reply is being written, for a message without a reply, and for others', () => {
    spec
      .given([started, posted])
      .when(regenerate())
      .thenThrows(RuleViolation, /being answered/);
    spec.given([started, posted, replied()]).when(regenerate(ids.message2)).thenThrows(NotFound);
    spec
      .given([started, posted, replied()])
      .when(regenerate(ids.message, byOther))
      .thenThrows(NotFound);
  });
  it('stops at the replies a message may get', () => {
    const history: Event[] = [started, posted, replied()];
    for (let attempt = 2; attempt <= 10; attempt++) history.push(again(attempt), replied(attempt));
    spec
      .given(history)
      .when(regenerate())
      .thenThrows(RuleViolation, /at most 10 replies/);
  });
});

describe('StopReply', () => {
  it('stops the reply being written to a message, for its owner only', () => {
    spec
      .given([started, posted])
      .when(stopReply())
      .thenEvents([{ type: 'ReplyStopRequested', value: { messageId: ids.message } }]);
    spec.given([started, posted]).when(stopReply(ids.message, byOther)).thenThrows(NotFound);
  });
  it('refuses when no reply is being written', () => {
    spec
      .given([started, posted, replied()])
      .when(stopReply())
      .thenThrows(RuleViolation, /no reply/);
  });
});

describe('untitled conversations and the assistant’s title', () => {
  const untitled: Event = {
    type: 'ConversationStarted',
    value: { ownerId: ids.owner, title: '', encryptedTitle: null },
  };
  const propose: ConversationCommand = {
    type: 'ProposeConversationTitle',
    value: {
      metadata: byAssistant,
      encryptedTitle: sealed('Eating in Lisbon'),
      promptTokens: 31,
      completionTokens: 5,
    },
  };
  it('starts without a title', () => {
    spec.given([]).when(start('')).thenEvents([untitled]);
  });
  it('takes the assistant’s proposal once (with the tokens it cost), and never over a title', () => {
    const proposed: Event = {
      type: 'ConversationRenamed',
      value: {
        title: '',
        encryptedTitle: sealed('Eating in Lisbon'),
        promptTokens: 31,
        completionTokens: 5,
      },
    };
    spec.given([untitled, posted, replied()]).when(propose).thenEvents([proposed]);
    spec.given([untitled, posted, replied(), proposed]).when(propose).thenEvents([]);
    spec.given([started, posted, replied()]).when(propose).thenEvents([]);
  });
  it('takes proposals from the assistant only', () => {
    const byUser = {
      ...propose,
      value: { ...propose.value, metadata: byOwner },
    } as ConversationCommand;
    spec.given([untitled]).when(byUser).thenThrows(Forbidden);
  });
});

describe('ArchiveConversation and DeleteConversation', () => {
  it('archives once; archiving again changes nothing', () => {
    spec.given([started]).when(archive()).thenEvents([archived]);
    spec.given([started, archived]).when(archive()).thenEvents([]);
  });
  it('deletes, after which the conversation is gone for every command', () => {
    spec.given([started, archived]).when(remove()).thenEvents([deleted]);
    spec.given([started, deleted]).when(remove()).thenThrows(NotFound);
    spec.given([started, deleted]).when(archive()).thenThrows(NotFound);
  });
  it('lets only the owner archive or delete', () => {
    spec.given([started]).when(archive(byOther)).thenThrows(NotFound);
    spec.given([started]).when(remove(byOther)).thenThrows(NotFound);
  });
});

describe('If-Match and event stamping', () => {
  it('refuses a command whose expected version is not the current one', () => {
    spec
      .given([started, posted])
      .when(rename('x', metadata({ expectedVersion: 1 })))
      .thenThrows(VersionConflict);
    spec
      .given([started, posted])
      .when(rename('x', metadata({ expectedVersion: 2 })))
      .thenEvents([
        { type: 'ConversationRenamed', value: { title: 'x', encryptedTitle: null, ...noTokens } },
      ]);
  });
  it('checks who may see the conversation before its version: another user gets 404, never 409', () => {
    for (const expectedVersion of [0, 1, 2, 99]) {
      const other = { ...byOther, expectedVersion };
      spec.given([started, posted]).when(rename('x', other)).thenThrows(NotFound);
      spec.given([started, posted]).when(archive(other)).thenThrows(NotFound);
      spec.given([started, posted]).when(remove(other)).thenThrows(NotFound);
    }
    spec
      .given([])
      .when(rename('x', metadata({ expectedVersion: 3 })))
      .thenThrows(NotFound);
  });
  it('stamps metadata from the command and derives the same event ids for the same command', () => {
    const command = start('Hello');
    const first = runDecider(conversationDecider, command, conversationDecider.initialState);
    const second = runDecider(conversationDecider, command, conversationDecider.initialState);
    assert.deepEqual(first.events, second.events);
    const m = first.events[0]?.value.metadata;
    assert.equal(m?.aggregateVersion, 1);
    assert.equal(m?.occurredAt, byOwner.issuedAt);
    assert.equal(m?.causationId, byOwner.commandId);
    assert.equal(m?.correlationId, byOwner.correlationId);
    assert.match(
      m?.eventId ?? '',
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
