/**
 * Conversation commands over HTTP: /v1/conversations. Owners only (checked by the decider). What
 * people write is trimmed, checked and encrypted under their data key here, so it is never in a
 * Kafka record in plain text (ADR 0023).
 */

import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { uuidFrom } from '@parley/platform/ids';
import type { OpenApiLink } from '@parley/platform/openapi';
import type { PersonalDataCipher } from '@parley/platform/personal-data';
import { Type } from 'typebox';
import type { CommandGateway } from '../commands/command-gateway.ts';
import {
  answer,
  commandHeaders,
  commandMetadata,
  commandResponses,
  writeRateLimit,
} from '../commands/http.ts';
import type { AssistantControl } from './assistant-control.ts';
import { validMessage, validTitle } from './content.ts';
import { MESSAGE_MAX_LENGTH, TITLE_MAX_LENGTH } from './conversation.ts';
import type { Quotas } from './quotas.ts';

// Trimmed before use (content.ts): blank is refused as it arrives, and the document says so.
const title = Type.String({ minLength: 1, maxLength: TITLE_MAX_LENGTH, 'x-not-blank': true });

// What the commands benchmark sends, exported so its peer (bench/src/peer) validates it the same.
export const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const startConversationBody = Type.Optional(
  Type.Object({ title: Type.Optional(title) }, { additionalProperties: false }),
);
export const postMessageBody = Type.Object(
  {
    // Tab and line breaks allowed; other control characters refused (platform text-input).
    text: Type.String({
      minLength: 1,
      maxLength: MESSAGE_MAX_LENGTH,
      'x-text': 'multiline',
      'x-not-blank': true,
    }),
    messageId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);

const messageParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  messageId: Type.String({ format: 'uuid' }),
});

/** What the document links: a started conversation's id to what can be done with it. */
export const chatLinks: OpenApiLink[] = [
  {
    from: 'POST /v1/conversations',
    status: '201',
    to: [
      'PATCH /v1/conversations/{id}',
      'DELETE /v1/conversations/{id}',
      'POST /v1/conversations/{id}/archive',
      'POST /v1/conversations/{id}/messages',
    ],
    parameters: { id: '$response.body#/aggregateId' },
  },
];

export const chatRoutes: FastifyPluginAsyncTypebox<{
  gateway: CommandGateway;
  /** Titles and messages are encrypted under the owner's data key before they become commands. */
  cipher: PersonalDataCipher;
  /** Daily quotas, checked before a message is sent (so before any model call). */
  quotas: Quotas;
  /** Where messages are counted for the quotas, and stop requests reach the assistant. */
  control: AssistantControl;
  /** The per-user write budget a minute (WRITE_RATE_LIMIT_PER_MINUTE), shared with commands. */
  rateLimitPerMinute: number;
}> = async (app, { gateway, cipher, quotas, control, rateLimitPerMinute }) => {
  app.addHook('onRequest', app.authenticate);
  const config = writeRateLimit(rateLimitPerMinute);

  app.post(
    '/v1/conversations',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Start a conversation (without a title, the assistant proposes one)',
        headers: commandHeaders,
        body: startConversationBody,
        response: commandResponses(201),
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      // With an Idempotency-Key, a retried create targets the same conversation.
      const id = key ? uuidFrom(`conversation|${request.user.userId}|${key}`) : randomUUID();
      const metadata = commandMetadata(request, id);
      const given = request.body?.title;
      const title = given === undefined ? undefined : validTitle(given);
      const encryptedTitle =
        title === undefined ? null : await cipher.encrypt(request.user.userId, title);
      const submitted = await gateway.submit(
        'StartConversation',
        { metadata, title: '', encryptedTitle },
        { title: title ?? null },
      );
      return answer(reply, submitted, 201, `/v1/conversations/${id}`);
    },
  );

  app.patch(
    '/v1/conversations/:id',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Rename a conversation',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object({ title }, { additionalProperties: false }),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const title = validTitle(request.body.title);
      const encryptedTitle = await cipher.encrypt(request.user.userId, title);
      return answer(
        reply,
        await gateway.submit(
          'RenameConversation',
          { metadata, title: '', encryptedTitle },
          { title },
        ),
        200,
      );
    },
  );

  app.post(
    '/v1/conversations/:id/messages',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Post a message to the assistant',
        headers: commandHeaders,
        params: idParams,
        body: postMessageBody,
        response: commandResponses(201),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const messageId = request.body.messageId ?? uuidFrom(`message|${metadata.commandId}`);
      const text = validMessage(request.body.text);
      await quotas.check(request.user.userId, request.user.roles);
      const submitted = await gateway.submit(
        'PostUserMessage',
        {
          metadata,
          messageId,
          text: '',
          encryptedText: await cipher.encrypt(request.user.userId, text),
        },
        { messageId, text },
      );
      if (submitted.kind === 'outcome' && submitted.outcome.status === 'accepted') {
        await control.countMessage(request.user.userId, metadata.commandId);
      }
      return answer(
        reply,
        submitted,
        201,
        `/v1/conversations/${request.params.id}/messages/${messageId}`,
      );
    },
  );

  app.post(
    '/v1/conversations/:id/messages/:messageId/regenerate',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Ask the assistant for another reply to one of my messages (earlier replies stay)',
        headers: commandHeaders,
        params: messageParams,
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      await quotas.check(request.user.userId, request.user.roles);
      const metadata = commandMetadata(request, request.params.id);
      const { messageId } = request.params;
      return answer(reply, await gateway.submit('RegenerateReply', { metadata, messageId }), 200);
    },
  );

  app.post(
    '/v1/conversations/:id/messages/:messageId/stop',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Stop the reply the assistant is writing to one of my messages',
        headers: commandHeaders,
        params: messageParams,
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const { messageId } = request.params;
      const submitted = await gateway.submit('StopReply', { metadata, messageId });
      if (submitted.kind === 'outcome' && submitted.outcome.status === 'accepted') {
        await control.stop(messageId);
      }
      return answer(reply, submitted, 200);
    },
  );

  app.post(
    '/v1/conversations/:id/archive',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Archive a conversation (readable, no new messages)',
        headers: commandHeaders,
        params: idParams,
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      return answer(reply, await gateway.submit('ArchiveConversation', { metadata }), 200);
    },
  );

  app.delete(
    '/v1/conversations/:id',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Delete a conversation and its messages',
        headers: commandHeaders,
        params: idParams,
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      return answer(reply, await gateway.submit('DeleteConversation', { metadata }), 200);
    },
  );
};
