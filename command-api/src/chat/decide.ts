/**
 * Conversation commands: one pure function per command and a `decide` switch. Owners only: anyone
 * else is told the conversation does not exist (404), so ids cannot be probed (OWASP API1).
 */

import { ASSISTANT_ACTOR } from '@parley/platform/actors';
import type {
  ChatCommandMap,
  ChatEventMap,
  CommandMetadata,
  EncryptedText,
} from '@parley/schemas/generated/records';
import { actorUserId, type Decider, type Draft, type Envelope } from '../shared/decider.ts';
import { AlreadyExists, Forbidden, NotFound, RuleViolation } from '../shared/errors.ts';
import { validMessage, validTitle } from './content.ts';
import {
  type ConversationState,
  evolveConversation,
  initialConversation,
  MESSAGES_PER_CONVERSATION,
  REPLIES_PER_MESSAGE,
} from './conversation.ts';

export type ConversationCommand = Envelope<ChatCommandMap>;
type Drafts = Array<Draft<ChatEventMap>>;
type Of<K extends keyof ChatCommandMap> = ChatCommandMap[K];
type Live = Extract<ConversationState, { status: 'active' | 'archived' }>;

/** The system actor allowed to record the assistant's replies (platform/src/actors.ts). */
export { ASSISTANT_ACTOR };

/** The conversation if it exists and the actor owns it; NotFound otherwise. */
function owned(state: ConversationState, metadata: CommandMetadata): Live {
  if (state.status === 'initial' || state.status === 'deleted')
    throw new NotFound('no such conversation');
  if (actorUserId(metadata) !== state.ownerId) throw new NotFound('no such conversation');
  return state;
}

function byAssistant(state: ConversationState, metadata: CommandMetadata, replyTo: string): Live {
  if (metadata.actor !== ASSISTANT_ACTOR) throw new Forbidden('only the assistant records replies');
  if (state.status === 'initial' || state.status === 'deleted')
    throw new NotFound('no such conversation');
  if (!state.awaitingReply.includes(replyTo)) {
    throw new RuleViolation(`message ${replyTo} is not awaiting a reply`);
  }
  return state;
}

/**
 * The plain text an event carries: none when the command brought it encrypted (the API trimmed
 * and checked it before encrypting, ADR 0023); a command sent before that brought plain text,
 * checked here.
 */
function plainUnlessEncrypted(
  plain: string,
  encrypted: EncryptedText | null,
  check: (raw: string) => string,
): string {
  return encrypted ? '' : check(plain);
}

function start(command: Of<'StartConversation'>, state: ConversationState): Drafts {
  if (state.status !== 'initial') throw new AlreadyExists('the conversation already exists');
  const ownerId = actorUserId(command.metadata);
  if (!ownerId) throw new Forbidden('only users start conversations');
  // No title at all: untitled, until the assistant proposes one after the first exchange.
  const untitled = command.encryptedTitle === null && command.title.trim() === '';
  const title = untitled
    ? ''
    : plainUnlessEncrypted(command.title, command.encryptedTitle, validTitle);
  return [
    {
      type: 'ConversationStarted',
      value: { ownerId, title, encryptedTitle: command.encryptedTitle },
    },
  ];
}

function rename(command: Of<'RenameConversation'>, state: ConversationState): Drafts {
  const conversation = owned(state, command.metadata);
  if (conversation.status === 'archived')
    throw new RuleViolation('an archived conversation cannot be renamed');
  // The state holds no title (it is encrypted): a rename to the same title is recorded too.
  const title = plainUnlessEncrypted(command.title, command.encryptedTitle, validTitle);
  return [
    {
      type: 'ConversationRenamed',
      value: {
        title,
        encryptedTitle: command.encryptedTitle,
        promptTokens: 0,
        completionTokens: 0,
      },
    },
  ];
}

function post(command: Of<'PostUserMessage'>, state: ConversationState): Drafts {
  const conversation = owned(state, command.metadata);
  if (conversation.status === 'archived')
    throw new RuleViolation('no new messages in an archived conversation');
  const text = plainUnlessEncrypted(command.text, command.encryptedText, validMessage);
  if (conversation.messageCount >= MESSAGES_PER_CONVERSATION) {
    throw new RuleViolation(
      `a conversation holds at most ${MESSAGES_PER_CONVERSATION} messages; start a new one`,
      {
        extensions: { quota: 'messages-per-conversation', limit: MESSAGES_PER_CONVERSATION },
      },
    );
  }
  return [
    {
      type: 'UserMessagePosted',
      value: {
        messageId: command.messageId,
        authorId: conversation.ownerId,
        text,
        encryptedText: command.encryptedText,
      },
    },
  ];
}

function recordReply(command: Of<'RecordAssistantReply'>, state: ConversationState): Drafts {
  byAssistant(state, command.metadata, command.replyTo);
  const { metadata: _, ...reply } = command;
  return [{ type: 'AssistantReplyRecorded', value: reply }];
}

function recordFailure(
  command: Of<'RecordAssistantReplyFailure'>,
  state: ConversationState,
): Drafts {
  byAssistant(state, command.metadata, command.replyTo);
  const { metadata: _, ...failure } = command;
  return [{ type: 'AssistantReplyFailed', value: failure }];
}

/** The owner asks for another reply to a message that has one; earlier replies stay. */
function regenerate(command: Of<'RegenerateReply'>, state: ConversationState): Drafts {
  const conversation = owned(state, command.metadata);
  if (conversation.status === 'archived')
    throw new RuleViolation('no new replies in an archived conversation');
  const { messageId } = command;
  if (conversation.awaitingReply.includes(messageId)) {
    throw new RuleViolation(`message ${messageId} is being answered; stop the reply first`);
  }
  const attempts = conversation.answered[messageId];
  if (attempts === undefined) throw new NotFound('no such message with a reply');
  if (attempts >= REPLIES_PER_MESSAGE) {
    throw new RuleViolation(`a message gets at most ${REPLIES_PER_MESSAGE} replies`, {
      extensions: { limit: REPLIES_PER_MESSAGE },
    });
  }
  return [{ type: 'ReplyRegenerationRequested', value: { messageId, attempt: attempts + 1 } }];
}

/** The owner stops the reply being written; the assistant records what it had as stopped. */
function stop(command: Of<'StopReply'>, state: ConversationState): Drafts {
  const conversation = owned(state, command.metadata);
  if (!conversation.awaitingReply.includes(command.messageId)) {
    throw new RuleViolation(`no reply to message ${command.messageId} is being written`);
  }
  return [{ type: 'ReplyStopRequested', value: { messageId: command.messageId } }];
}

/** The assistant's title for an untitled conversation; a titled one keeps its own. */
function proposeTitle(command: Of<'ProposeConversationTitle'>, state: ConversationState): Drafts {
  if (command.metadata.actor !== ASSISTANT_ACTOR) {
    throw new Forbidden('only the assistant proposes titles');
  }
  if (state.status === 'initial' || state.status === 'deleted') {
    throw new NotFound('no such conversation');
  }
  if (state.titled) return [];
  return [
    {
      type: 'ConversationRenamed',
      value: {
        title: '',
        encryptedTitle: command.encryptedTitle,
        // What the title cost counts in the owner's usage.
        promptTokens: command.promptTokens,
        completionTokens: command.completionTokens,
      },
    },
  ];
}

function archive(command: Of<'ArchiveConversation'>, state: ConversationState): Drafts {
  const conversation = owned(state, command.metadata);
  return conversation.status === 'archived' ? [] : [{ type: 'ConversationArchived', value: {} }];
}

function remove(command: Of<'DeleteConversation'>, state: ConversationState): Drafts {
  owned(state, command.metadata);
  return [{ type: 'ConversationDeleted', value: {} }];
}

export function decideConversation(command: ConversationCommand, state: ConversationState): Drafts {
  switch (command.type) {
    case 'StartConversation':
      return start(command.value, state);
    case 'RenameConversation':
      return rename(command.value, state);
    case 'PostUserMessage':
      return post(command.value, state);
    case 'RecordAssistantReply':
      return recordReply(command.value, state);
    case 'RecordAssistantReplyFailure':
      return recordFailure(command.value, state);
    case 'RegenerateReply':
      return regenerate(command.value, state);
    case 'StopReply':
      return stop(command.value, state);
    case 'ProposeConversationTitle':
      return proposeTitle(command.value, state);
    case 'ArchiveConversation':
      return archive(command.value, state);
    case 'DeleteConversation':
      return remove(command.value, state);
    default: {
      const unknown: never = command;
      throw new RuleViolation(`unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export const conversationDecider: Decider<ChatCommandMap, ChatEventMap, ConversationState> = {
  initialState: initialConversation,
  decide: decideConversation,
  evolve: evolveConversation,
};
