/**
 * Conversation commands over HTTP: /v1/conversations. Owners only (checked by the decider). What
 * people write is trimmed, checked and encrypted under their data key here, so it is never in a
 * Kafka record in plain text (ADR 0023).
 */

import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PersonalDataCipher } from '@parley/platform/personal-data';
import { Type } from 'typebox';
import type { CommandGateway } from '../commands/command-gateway.ts';
import { answer, commandHeaders, commandMetadata, commandResponses } from '../commands/http.ts';
import { uuidFrom } from '../shared/ids.ts';
import { validMessage, validTitle } from './content.ts';
import { MESSAGE_MAX_LENGTH, TITLE_MAX_LENGTH } from './conversation.ts';

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const title = Type.String({ minLength: 1, maxLength: TITLE_MAX_LENGTH });

export const chatRoutes: FastifyPluginAsyncTypebox<{
  gateway: CommandGateway;
  /** Titles and messages are encrypted under the owner's data key before they become commands. */
  cipher: PersonalDataCipher;
}> = async (app, { gateway, cipher }) => {
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/conversations',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Start a conversation',
        headers: commandHeaders,
        body: Type.Object({ title }, { additionalProperties: false }),
        response: commandResponses(201),
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      // With an Idempotency-Key, a retried create targets the same conversation.
      const id = key ? uuidFrom(`conversation|${request.user.userId}|${key}`) : randomUUID();
      const metadata = commandMetadata(request, id);
      const title = validTitle(request.body.title);
      const submitted = await gateway.submit(
        'StartConversation',
        { metadata, title: '', encryptedTitle: await cipher.encrypt(request.user.userId, title) },
        { title },
      );
      return answer(reply, submitted, 201, `/v1/conversations/${id}`);
    },
  );

  app.patch(
    '/v1/conversations/:id',
    {
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
      schema: {
        tags: ['conversations'],
        summary: 'Post a message to the assistant',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object(
          {
            // Tab and line breaks allowed; other control characters refused (platform text-input).
            text: Type.String({
              minLength: 1,
              maxLength: MESSAGE_MAX_LENGTH,
              'x-text': 'multiline',
            }),
            messageId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: commandResponses(201),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const messageId = request.body.messageId ?? uuidFrom(`message|${metadata.commandId}`);
      const text = validMessage(request.body.text);
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
      return answer(
        reply,
        submitted,
        201,
        `/v1/conversations/${request.params.id}/messages/${messageId}`,
      );
    },
  );

  app.post(
    '/v1/conversations/:id/archive',
    {
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
