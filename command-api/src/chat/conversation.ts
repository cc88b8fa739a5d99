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
  /** Whether it has a title (an untitled one gets the assistant's proposal once). */
  readonly titled: boolean;
  /** User messages posted (or asked to be answered again) and not yet answered or failed. */
  readonly awaitingReply: readonly string[];
  /** Per user message, the replies and failures recorded so far (the last attempt's number). */
  readonly answered: Readonly<Record<string, number>>;
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
/** Replies per user message, the first included: how often the owner may ask again. */
export const REPLIES_PER_MESSAGE = 10;

/** A reply (or a failure) to a user message: it awaits none any more. */
function answer<S extends Existing>(state: S, replyTo: string, attempt: number): S {
  return {
    ...state,
    awaitingReply: state.awaitingReply.filter((id) => id !== replyTo),
    answered: { ...state.answered, [replyTo]: Math.max(state.answered[replyTo] ?? 0, attempt) },
  };
}

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
      titled: event.value.encryptedTitle !== null || event.value.title !== '',
      awaitingReply: [],
      answered: {},
    };
  }
  if (state.status === 'initial' || state.status === 'deleted') return state;
  switch (event.type) {
    case 'ConversationRenamed':
      return { ...state, version, titled: true };
    case 'UserMessagePosted':
      return {
        ...state,
        version,
        messageCount: state.messageCount + 1,
        awaitingReply: [...state.awaitingReply, event.value.messageId],
      };
    case 'AssistantReplyRecorded':
      return {
        ...answer(state, event.value.replyTo, event.value.attempt),
        version,
        messageCount: state.messageCount + 1,
      };
    case 'AssistantReplyFailed':
      return { ...answer(state, event.value.replyTo, event.value.attempt), version };
    case 'ReplyRegenerationRequested':
      return {
        ...state,
        version,
        awaitingReply: [...state.awaitingReply, event.value.messageId],
      };
    case 'ReplyStopRequested':
      return { ...state, version };
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
