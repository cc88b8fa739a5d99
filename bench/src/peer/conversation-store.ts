/**
 * Conversations in Emmett's PostgreSQL event store, decided by Parley's own decider: a command
 * reads stream `conversation-<id>`, folds it with `evolveConversation`, runs `runDecider` (the
 * same checks, stamping and If-Match as the command processor) and appends the events expecting
 * the version it read. A version conflict (another command appended first) is retried: Parley
 * does not refuse concurrent posts to one conversation either, its processor orders them.
 *
 * Events are Emmett events `{type, data}` in JSONB; `data` is the Avro record's fields, metadata
 * included, with the encrypted text's bytes in base64.
 */
import {
  CommandHandler,
  CommandHandlerStreamVersionConflictRetryOptions,
  type Event,
  isExpectedVersionConflictError,
} from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import type { Pool } from '@parley/platform/postgres';
import type { EncryptedText } from '@parley/schemas/generated/records';
import {
  type ConversationEvent,
  type ConversationState,
  evolveConversation,
  initialConversation,
} from '../../../command-api/src/chat/conversation.ts';
import {
  type ConversationCommand,
  conversationDecider,
} from '../../../command-api/src/chat/decide.ts';
import type { Outcome } from '../../../command-api/src/outcomes/outcome.ts';
import { runDecider } from '../../../command-api/src/shared/decider.ts';
import { VersionConflict } from '../../../command-api/src/shared/errors.ts';

/** A conversation event as Emmett stores it. */
type StoredEvent = Event<ConversationEvent['type'], Record<string, unknown>>;

/** The fields of chat events that hold encrypted text (at the top level of every event). */
const SEALED_FIELDS = ['encryptedTitle', 'encryptedText'] as const;

interface StoredSealed {
  keyId: string;
  nonce: string;
  ciphertext: string;
}

function toStored(event: ConversationEvent): StoredEvent {
  const data: Record<string, unknown> = { ...event.value };
  for (const field of SEALED_FIELDS) {
    const sealed = data[field] as EncryptedText | null | undefined;
    if (!sealed) continue;
    data[field] = {
      keyId: sealed.keyId,
      nonce: sealed.nonce.toString('base64'),
      ciphertext: sealed.ciphertext.toString('base64'),
    } satisfies StoredSealed;
  }
  return { type: event.type, data };
}

function fromStored(event: StoredEvent): ConversationEvent {
  const value: Record<string, unknown> = { ...event.data };
  for (const field of SEALED_FIELDS) {
    const sealed = value[field] as StoredSealed | null | undefined;
    if (!sealed) continue;
    value[field] = {
      keyId: sealed.keyId,
      nonce: Buffer.from(sealed.nonce, 'base64'),
      ciphertext: Buffer.from(sealed.ciphertext, 'base64'),
    } satisfies EncryptedText;
  }
  // As written by toStored: the record's own fields.
  return { type: event.type, value } as unknown as ConversationEvent;
}

export type ConversationStore = Awaited<ReturnType<typeof conversationStore>>;

/**
 * The event store on `pool` (its schema migrated before this resolves) and how a command is
 * handled in it. `conflicts` is told of every version conflict.
 */
export async function conversationStore(options: {
  /** Only names the database to Emmett: its queries go through `pool`. */
  url: string;
  pool: Pool;
  versionConflictRetries: number;
  conflicts?: () => void;
}) {
  const store = getPostgreSQLEventStore(options.url, { connectionOptions: { pool: options.pool } });
  await store.schema.migrate();
  const handle = CommandHandler<ConversationState, StoredEvent>({
    evolve: (state, event) => evolveConversation(state, fromStored(event)),
    initialState: () => initialConversation,
    mapToStreamId: (id) => `conversation-${id}`,
    // Emmett's own backoff for conflicts (from 100 ms, x1.5), counted.
    retry: {
      onVersionConflict: {
        ...CommandHandlerStreamVersionConflictRetryOptions,
        retries: options.versionConflictRetries,
        shouldRetryError: (error) => {
          const conflict = isExpectedVersionConflictError(error);
          if (conflict) options.conflicts?.();
          return conflict;
        },
      },
    },
  });

  return {
    /** Decides and appends one command; its outcome as the command processor reports one. */
    async handle(command: ConversationCommand): Promise<Extract<Outcome, { status: 'accepted' }>> {
      const { metadata } = command.value;
      let result: Awaited<ReturnType<typeof handle<typeof store>>>;
      try {
        result = await handle(store, metadata.aggregateId, (state) =>
          runDecider(conversationDecider, command, state).events.map(toStored),
        );
      } catch (error) {
        // Emmett bundles its error classes twice: instanceof fails across the copies.
        if (!isExpectedVersionConflictError(error)) throw error;
        throw new VersionConflict('the conversation kept changing under this command; retry', {
          cause: error,
        });
      }
      return {
        status: 'accepted',
        commandId: metadata.commandId,
        actor: metadata.actor,
        aggregateId: metadata.aggregateId,
        version: Number(result.nextExpectedStreamVersion),
        // The store's global position (a bigint), where Parley's is topic:partition:offset.
        position: result.newEvents.length > 0 ? String(result.lastEventGlobalPosition) : null,
      };
    },
    close: () => store.close(),
  };
}
