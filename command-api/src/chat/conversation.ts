/**
 * The Conversation aggregate: its events (generated from the Avro schemas), its state by status,
 * and `evolve`. The state holds no title or text: what people write is encrypted under the
 * owner's key (ADR 0023) and the state's changelog topic is kept forever. A conversation is owned by the user who started it; the assistant's replies are
 * recorded against the user messages awaiting one.
 */
import type { ChatEventMap } from '@parley/schemas/generated/records';
import type { Stamped } from '../shared/decider.ts';

export type ConversationEvent = Stamped<ChatEventMap>;

interface Existing {
  readonly version: number;
  readonly ownerId: string;
  readonly messageCount: number;
  /** User messages posted and not yet answered (or failed) by the assistant. */
  readonly awaitingReply: readonly string[];
}

export type ConversationState =
  | { readonly status: 'initial'; readonly version: 0 }
  | (Existing & { readonly status: 'active' })
  | (Existing & { readonly status: 'archived' })
  | { readonly status: 'deleted'; readonly version: number; readonly ownerId: string };

export const initialConversation: ConversationState = { status: 'initial', version: 0 };

export const TITLE_MAX_LENGTH = 200;
export const MESSAGE_MAX_LENGTH = 10_000;
/** Messages (user and assistant) per conversation; beyond it the owner starts a new one. */
export const MESSAGES_PER_CONVERSATION = 1_000;

export function evolveConversation(
  state: ConversationState,
  event: ConversationEvent,
): ConversationState {
  const version = event.value.metadata.aggregateVersion;
  if (event.type === 'ConversationStarted') {
    return {
      status: 'active',
      version,
      ownerId: event.value.ownerId,
      messageCount: 0,
      awaitingReply: [],
    };
  }
  if (state.status === 'initial' || state.status === 'deleted') return state;
  switch (event.type) {
    case 'ConversationRenamed':
      return { ...state, version };
    case 'UserMessagePosted':
      return {
        ...state,
        version,
        messageCount: state.messageCount + 1,
        awaitingReply: [...state.awaitingReply, event.value.messageId],
      };
    case 'AssistantReplyRecorded':
      return {
        ...state,
        version,
        messageCount: state.messageCount + 1,
        awaitingReply: state.awaitingReply.filter((id) => id !== event.value.replyTo),
      };
    case 'AssistantReplyFailed':
      return {
        ...state,
        version,
        awaitingReply: state.awaitingReply.filter((id) => id !== event.value.replyTo),
      };
    case 'ConversationArchived':
      return { ...state, version, status: 'archived' };
    case 'ConversationDeleted':
      return { status: 'deleted', version, ownerId: state.ownerId };
    default: {
      const unexpected: never = event;
      return unexpected;
    }
  }
}
