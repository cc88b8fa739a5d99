/**
 * The views read model's fold: identity events over a user's `me` view, chat events over a
 * conversation's view (its latest messages), and the guarded writes they need. Pure; the writer
 * (projection.ts) loads the views from Redis, decrypts, and runs the writes. A conversation is
 * loaded without the messages stored before (their fields stay as they are): a view's `messages`
 * are then the ones the batch added, which are the ones to write.
 */
import {
  type ConversationView,
  LATEST_MESSAGES,
  type MeView,
  type ReplyOf,
  type Versioned,
} from '@parley/platform/read-models';
import { lastMessageOf } from '@parley/platform/view-hashes';
import type { EncryptedText } from '@parley/schemas/generated/records';
import type { BatchContent } from '../../runtime/content.ts';
import {
  isChatEvent,
  isIdentityEvent,
  type ProjectedChatEvent,
  type ProjectedEvent,
  type ProjectedIdentityEvent,
} from '../../runtime/projection.ts';

/** Personal data in clear, or null once its person was erased (the writer decrypted it). */
export type Opened = (value: EncryptedText | null) => string | null;

/** The views a batch touches, by user id and conversation id. */
export interface Views {
  me: Map<string, Versioned<MeView>>;
  conversations: Map<string, Versioned<ConversationView>>;
}

/** One guarded write: the value over an older version only, and the owner's list with it. */
export type ViewWrite =
  | { kind: 'me'; id: string; version: number; data: MeView | null }
  | {
      kind: 'conversation';
      id: string;
      version: number;
      data: ConversationView | null;
      /** The owner whose list holds the conversation (by last activity), when known. */
      ownerId: string | null;
      /** How many messages the stored view counted (0: none stored). */
      countBefore: number;
    };

export function evolveMe(
  view: Versioned<MeView> | undefined,
  event: ProjectedIdentityEvent,
  open: Opened,
): Versioned<MeView> | undefined {
  const { metadata } = event.value;
  const version = metadata.aggregateVersion;
  if (event.type === 'UserRegistered') {
    return {
      version,
      data: {
        userId: metadata.aggregateId,
        email: open(event.value.email),
        displayName: open(event.value.displayName),
        role: event.value.role,
        status: 'active',
        locale: event.value.locale,
      },
    };
  }
  if (!view?.data) return view && { ...view, version };
  const data = view.data;
  switch (event.type) {
    case 'UserProfileUpdated':
      return {
        version,
        data: {
          ...data,
          displayName: event.value.displayName ? open(event.value.displayName) : data.displayName,
          locale: event.value.locale ?? data.locale,
        },
      };
    case 'UserRoleChanged':
      return { version, data: { ...data, role: event.value.role } };
    case 'UserDeactivated':
      return { version, data: { ...data, status: 'deactivated' } };
    case 'UserErased':
      return {
        version,
        data: {
          userId: data.userId,
          email: null,
          displayName: null,
          role: data.role,
          status: 'erased',
          locale: null,
        },
      };
  }
}

export function evolveConversationView(
  view: Versioned<ConversationView> | undefined,
  event: ProjectedChatEvent,
  content: BatchContent,
): Versioned<ConversationView> | undefined {
  const { metadata } = event.value;
  const at = metadata.occurredAt;
  const version = metadata.aggregateVersion;
  if (event.type === 'ConversationStarted') {
    const { ownerId } = event.value;
    // An erased owner's conversation is a tombstone from the start (a rebuild after the erasure).
    if (content.erased(ownerId)) return { version, data: null };
    return {
      version,
      data: {
        id: metadata.aggregateId,
        ownerId,
        title: content.title(event.value, ownerId),
        status: 'active',
        messageCount: 0,
        createdAt: at,
        lastActivityAt: at,
        lastMessage: null,
        messages: [],
      },
    };
  }
  if (!view?.data) return view && { ...view, version };
  const data = view.data;
  if (content.erased(data.ownerId)) return { version, data: null };
  const withMessage = (
    id: string,
    role: 'user' | 'assistant',
    text: string | null,
    reply: ReplyOf = {},
  ) => {
    const message = { id, role, text, at, ...reply };
    return {
      version,
      data: {
        ...data,
        messageCount: data.messageCount + 1,
        lastActivityAt: at,
        lastMessage: lastMessageOf([message], data.lastMessage),
        messages: [...data.messages, message].slice(-LATEST_MESSAGES),
      },
    };
  };
  switch (event.type) {
    case 'ConversationRenamed':
      return {
        version,
        data: { ...data, title: content.title(event.value, data.ownerId) ?? data.title },
      };
    case 'UserMessagePosted':
      return withMessage(event.value.messageId, 'user', content.text(event.value, data.ownerId));
    case 'AssistantReplyRecorded':
      return withMessage(
        event.value.messageId,
        'assistant',
        content.text(event.value, data.ownerId),
        {
          replyTo: event.value.replyTo,
          outcome: event.value.finishReason === 'stopped' ? 'stopped' : 'finished',
        },
      );
    case 'AssistantReplyFailed':
      // A failure has no message id of its own: the event's id names it.
      return withMessage(metadata.eventId, 'assistant', null, {
        replyTo: event.value.replyTo,
        outcome: 'failed',
      });
    case 'ConversationArchived':
      return { version, data: { ...data, status: 'archived' } };
    case 'ConversationDeleted':
      return { version, data: null };
    case 'ReplyRegenerationRequested':
    case 'ReplyStopRequested':
      return { version, data };
  }
}

/** The owners a batch's conversation views belong to (loaded, or started in the batch). */
export function ownersOf(
  conversations: ReadonlyMap<string, Versioned<ConversationView>>,
  events: readonly ProjectedEvent[],
): string[] {
  const owners = new Set<string>();
  for (const view of conversations.values()) if (view.data) owners.add(view.data.ownerId);
  for (const e of events) if (e.type === 'ConversationStarted') owners.add(e.value.ownerId);
  return [...owners];
}

/** The batch's identity events over the `me` views; events a view reflects are skipped. */
function foldMe(
  me: Map<string, Versioned<MeView>>,
  events: readonly ProjectedEvent[],
  open: Opened,
) {
  for (const event of events) {
    if (!isIdentityEvent(event)) continue;
    const id = event.value.metadata.aggregateId;
    const view = me.get(id);
    if (view && event.value.metadata.aggregateVersion <= view.version) continue;
    const next = evolveMe(view, event, open);
    if (next) me.set(id, next);
  }
}

/** The batch's chat events over the conversation views; returns each conversation's owner. */
function foldConversations(
  conversations: Map<string, Versioned<ConversationView>>,
  events: readonly ProjectedEvent[],
  content: BatchContent,
): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [id, view] of conversations) if (view.data) owners.set(id, view.data.ownerId);
  for (const event of events) {
    if (!isChatEvent(event)) continue;
    const id = event.value.metadata.aggregateId;
    if (event.type === 'ConversationStarted') owners.set(id, event.value.ownerId);
    const view = conversations.get(id);
    if (view && event.value.metadata.aggregateVersion <= view.version) continue;
    const next = evolveConversationView(view, event, content);
    if (!next) continue;
    if (next.data) owners.set(id, next.data.ownerId);
    conversations.set(id, next);
  }
  return owners;
}

/**
 * A batch over the loaded views: one write per view it moved, `me` views first. Events a view
 * already reflects (its version) are skipped, so a replayed batch writes nothing.
 */
export function foldViews(
  loaded: Views,
  events: readonly ProjectedEvent[],
  open: Opened,
  content: BatchContent,
): ViewWrite[] {
  const me = new Map(loaded.me);
  const conversations = new Map(loaded.conversations);
  foldMe(me, events, open);
  const owners = foldConversations(conversations, events, content);
  const writes: ViewWrite[] = [];
  for (const [id, view] of me) {
    if (loaded.me.get(id)?.version === view.version) continue;
    writes.push({ kind: 'me', id, version: view.version, data: view.data });
  }
  for (const [id, view] of conversations) {
    if (loaded.conversations.get(id)?.version === view.version) continue;
    const ownerId = owners.get(id) ?? null;
    const countBefore = loaded.conversations.get(id)?.data?.messageCount ?? 0;
    writes.push({
      kind: 'conversation',
      id,
      version: view.version,
      data: view.data,
      ownerId,
      countBefore,
    });
  }
  return writes;
}
