/** Parley's own records, encoded as the services write them, for benchmarks that need many. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Message } from '@parley/platform/kafka';
import { commandRecord } from '@parley/schemas/serde/command-record';
import { writeHeaders } from '@parley/schemas/serde/headers';
import type { AvroSerde } from '@parley/schemas/serde/serde';
import { MESSAGE_TEXT } from './parley.ts';

/** AES-256-GCM output the size the API's encryption of MESSAGE_TEXT makes (nonce and tag added). */
const sealedText = () => ({
  keyId: randomUUID(),
  nonce: randomBytes(12),
  ciphertext: randomBytes(Buffer.byteLength(MESSAGE_TEXT) + 16),
});

/** UserMessagePosted events, one per conversation, as the command processor appends them. */
export function messageEvents(serde: AvroSerde, count: number): Promise<Message[]> {
  const author = randomUUID();
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const aggregateId = randomUUID();
      const eventId = randomUUID();
      const correlationId = randomUUID();
      const causationId = randomUUID();
      const { payload, schemaId } = await serde.encode('UserMessagePosted', {
        metadata: {
          eventId,
          aggregateId,
          aggregateVersion: i + 2,
          occurredAt: Date.now(),
          correlationId,
          causationId,
          actor: `user:${author}`,
          tenantId: null,
        },
        messageId: randomUUID(),
        authorId: author,
        text: '',
        encryptedText: sealedText(),
      });
      const headers = writeHeaders({
        id: eventId,
        type: 'UserMessagePosted',
        correlationId,
        causationId,
        actor: `user:${author}`,
        schemaId,
      });
      return { key: aggregateId, value: payload, headers };
    }),
  );
}

/** PostUserMessage commands over `conversations` conversations, as the command API sends them. */
export function messageCommands(
  serde: AvroSerde,
  count: number,
  conversations: number,
): Promise<Message[]> {
  const author = randomUUID();
  const ids = Array.from({ length: conversations }, () => randomUUID());
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const commandId = randomUUID();
      return commandRecord(serde, 'PostUserMessage', {
        metadata: {
          commandId,
          aggregateId: ids[i % conversations] as string,
          expectedVersion: null,
          issuedAt: Date.now(),
          correlationId: commandId,
          actor: `user:${author}`,
          actorRoles: ['user'],
          idempotencyKey: null,
          tenantId: null,
        },
        messageId: randomUUID(),
        text: '',
        encryptedText: sealedText(),
      });
    }),
  );
}
