import { describe, it } from 'node:test';
import {
  type ConversationView,
  LATEST_MESSAGES,
  type MeView,
  type Versioned,
} from '@parley/platform/read-models';
import type { EncryptedText } from '@parley/schemas/generated/records';
import { batchContent } from '../../runtime/content.ts';
import { history, ids, MINUTE, sealedText, specFor, T0 } from '../spec.ts';
import { foldViews, type Views, type ViewWrite } from './fold.ts';

const EMAIL = sealedText('alice@example.com');
const NAME = sealedText('Alice');
const GONE = sealedText('erased key');
const opened = new Map<EncryptedText, string | undefined>([
  [EMAIL, 'alice@example.com'],
  [NAME, 'Alice'],
  [GONE, undefined],
]);
const open = (value: EncryptedText | null) => (value ? (opened.get(value) ?? null) : null);

const specWith = (erased: string[] = []) =>
  specFor((loaded: Views, events) =>
    foldViews(loaded, events, open, batchContent(opened, new Set(erased))),
  );
const views = (
  me: Array<[string, Versioned<MeView>]> = [],
  conversations: Array<[string, Versioned<ConversationView>]> = [],
): Views => ({ me: new Map(me), conversations: new Map(conversations) });

const alice: MeView = {
  userId: ids.alice,
  email: 'alice@example.com',
  displayName: 'Alice',
  role: 'user',
  status: 'active',
  locale: null,
};
const conversation: ConversationView = {
  id: ids.chat1,
  ownerId: ids.alice,
  title: 'Lisbon',
  status: 'active',
  messageCount: 0,
  createdAt: T0,
  lastActivityAt: T0,
  lastMessage: null,
  messages: [],
};

/** The tombstone of chat1 at version 2: no data, its owner named so the list drops it. */
const chat1Tombstone: ViewWrite = {
  kind: 'conversation',
  id: ids.chat1,
  version: 2,
  ownerId: ids.alice,
  countBefore: 0,
  data: null,
};

describe('views projection', () => {
  it('given nothing, when a user registers, then their me view in clear', () => {
    const user = history(ids.alice);
    specWith()
      .given(views())
      .when(user('UserRegistered', { email: EMAIL, displayName: NAME, role: 'user', locale: null }))
      .thenWrites([{ kind: 'me', id: ids.alice, version: 1, data: alice }]);
  });

  it('writes a name whose key is gone as null, and keeps what a profile update leaves null', () => {
    const user = history(ids.alice, 1);
    specWith()
      .given(views([[ids.alice, { version: 1, data: alice }]]))
      .when(
        user('UserProfileUpdated', { displayName: GONE, locale: null }),
        user('UserProfileUpdated', { displayName: null, locale: 'fr-FR' }),
      )
      .thenWrites([
        {
          kind: 'me',
          id: ids.alice,
          version: 3,
          data: { ...alice, displayName: null, locale: 'fr-FR' },
        },
      ]);
  });

  it('given an erased user, then only id, role and status remain', () => {
    const user = history(ids.alice, 1);
    specWith()
      .given(views([[ids.alice, { version: 1, data: alice }]]))
      .when(
        user('UserRoleChanged', { role: 'admin', previousRole: 'user' }),
        user('UserErased', {}),
      )
      .thenWrites([
        {
          kind: 'me',
          id: ids.alice,
          version: 3,
          data: { ...alice, email: null, displayName: null, role: 'admin', status: 'erased' },
        },
      ]);
  });

  it('starts a conversation view in its owner’s list, with the latest messages', () => {
    const chat = history(ids.chat1);
    specWith()
      .given(views())
      .when(
        chat('ConversationStarted', { ownerId: ids.alice, title: 'Lisbon', encryptedTitle: null }),
        chat('UserMessagePosted', {
          messageId: ids.message1,
          authorId: ids.alice,
          text: 'Where to eat?',
          encryptedText: null,
        }),
      )
      .thenWrites([
        {
          kind: 'conversation',
          id: ids.chat1,
          version: 2,
          ownerId: ids.alice,
          countBefore: 0,
          data: {
            ...conversation,
            messageCount: 1,
            lastActivityAt: T0 + MINUTE,
            lastMessage: { role: 'user', preview: 'Where to eat?', at: T0 + MINUTE },
            messages: [{ id: ids.message1, role: 'user', text: 'Where to eat?', at: T0 + MINUTE }],
          },
        },
      ]);
  });

  it(`keeps the latest ${LATEST_MESSAGES} messages and counts them all`, () => {
    const chat = history(ids.chat1, 1);
    const posts = Array.from({ length: LATEST_MESSAGES + 2 }, (_, i) =>
      chat('UserMessagePosted', {
        messageId: `m${i}`,
        authorId: ids.alice,
        text: `message ${i}`,
        encryptedText: null,
      }),
    );
    specWith()
      .given(views([], [[ids.chat1, { version: 1, data: conversation }]]))
      .when(...posts)
      .thenWrites([
        {
          kind: 'conversation',
          id: ids.chat1,
          version: LATEST_MESSAGES + 3,
          ownerId: ids.alice,
          countBefore: 0,
          data: {
            ...conversation,
            messageCount: LATEST_MESSAGES + 2,
            lastActivityAt: T0 + (LATEST_MESSAGES + 2) * MINUTE,
            lastMessage: {
              role: 'user',
              preview: `message ${LATEST_MESSAGES + 1}`,
              at: T0 + (LATEST_MESSAGES + 2) * MINUTE,
            },
            messages: posts.slice(2).map((_, i) => ({
              id: `m${i + 2}`,
              role: 'user' as const,
              text: `message ${i + 2}`,
              at: T0 + (i + 3) * MINUTE,
            })),
          },
        },
      ]);
  });

  it('given a stored head, writes only the batch’s messages; a failed reply keeps the last text', () => {
    const chat = history(ids.chat1, 7);
    const head: ConversationView = {
      ...conversation,
      messageCount: 6,
      lastActivityAt: T0 + 6 * MINUTE,
      lastMessage: { role: 'user', preview: 'And then?', at: T0 + 6 * MINUTE },
      messages: [],
    };
    specWith()
      .given(views([], [[ids.chat1, { version: 7, data: head }]]))
      .when(
        chat('AssistantReplyFailed', {
          replyTo: 'm5',
          reason: 'timeout',
          model: 'offline',
          attempt: 1,
        }),
      )
      .thenWrites([
        {
          kind: 'conversation',
          id: ids.chat1,
          version: 8,
          ownerId: ids.alice,
          countBefore: 6,
          data: {
            ...head,
            messageCount: 7,
            lastActivityAt: T0 + 7 * MINUTE,
            messages: [
              {
                id: `${ids.chat1.slice(0, 8)}-event-8`,
                role: 'assistant',
                text: null,
                at: T0 + 7 * MINUTE,
                replyTo: 'm5',
                outcome: 'failed',
              },
            ],
          },
        },
      ]);
  });

  it('leaves a tombstone of a deleted conversation, still naming its owner (the list drops it)', () => {
    const chat = history(ids.chat1, 1);
    specWith()
      .given(views([], [[ids.chat1, { version: 1, data: conversation }]]))
      .when(chat('ConversationDeleted', {}))
      .thenWrites([chat1Tombstone]);
  });

  it('writes an erased owner’s conversation as a tombstone', () => {
    const chat = history(ids.chat1, 1);
    specWith([ids.alice])
      .given(views([], [[ids.chat1, { version: 1, data: conversation }]]))
      .when(chat('ConversationArchived', {}))
      .thenWrites([chat1Tombstone]);
  });

  it('writes nothing when every event is already reflected (a replayed batch)', () => {
    const user = history(ids.alice);
    const chat = history(ids.chat1);
    specWith()
      .given(
        views(
          [[ids.alice, { version: 1, data: alice }]],
          [[ids.chat1, { version: 1, data: conversation }]],
        ),
      )
      .when(
        user('UserRegistered', { email: EMAIL, displayName: NAME, role: 'user', locale: null }),
        chat('ConversationStarted', { ownerId: ids.alice, title: 'Lisbon', encryptedTitle: null }),
      )
      .thenWrites([]);
  });
});
