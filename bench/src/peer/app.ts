/**
 * The peer command API as a Fastify app: the command API's HTTP base and token checks, and the
 * two routes the commands benchmark sends with the command API's schemas, validation, encryption
 * under the owner's data key, quota check and message count. Where the command API hands the
 * command to Kafka and waits for the processor's outcome, this one decides and appends it in
 * Emmett's store (conversation-store.ts) within the request.
 */
import { randomUUID } from 'node:crypto';
import type {
  FastifyPluginAsyncTypebox,
  TypeBoxTypeProvider,
} from '@fastify/type-provider-typebox';
import { authOptions, registerAuth } from '@parley/platform/auth';
import { createHttpServer } from '@parley/platform/http';
import { uuidFrom } from '@parley/platform/ids';
import type { Logger } from '@parley/platform/logger';
import type { Registry } from '@parley/platform/metrics';
import type { PersonalDataCipher } from '@parley/platform/personal-data';
import type { FastifyInstance } from 'fastify';
import type { AssistantControl } from '../../../command-api/src/chat/assistant-control.ts';
import { validMessage, validTitle } from '../../../command-api/src/chat/content.ts';
import type { Quotas } from '../../../command-api/src/chat/quotas.ts';
import {
  idParams,
  postMessageBody,
  startConversationBody,
} from '../../../command-api/src/chat/routes.ts';
import {
  answer,
  commandHeaders,
  commandMetadata,
  commandResponses,
} from '../../../command-api/src/commands/http.ts';
import type { Config } from './config.ts';
import type { ConversationStore } from './conversation-store.ts';
import type { PeerDependencies } from './dependencies.ts';

export const SERVICE = 'emmett-command-api';

export async function buildApp({
  config,
  log,
  metrics,
  deps,
}: {
  config: Config;
  log: Logger;
  metrics: Registry;
  deps: PeerDependencies;
}): Promise<FastifyInstance> {
  const app = createHttpServer({
    service: SERVICE,
    log,
    metrics,
    checks: deps.checks,
    bodyLimit: config.HTTP_BODY_LIMIT,
    rateLimitRedis: deps.redis,
  }).withTypeProvider<TypeBoxTypeProvider>();
  await registerAuth(app, authOptions(config, deps.revoked));
  await app.register(conversationRoutes, {
    conversations: deps.conversations,
    cipher: deps.cipher,
    quotas: deps.quotas,
    control: deps.control,
  });
  return app;
}

/** The command API's StartConversation and PostUserMessage routes (chat/routes.ts), on Emmett. */
const conversationRoutes: FastifyPluginAsyncTypebox<{
  conversations: ConversationStore;
  cipher: PersonalDataCipher;
  quotas: Quotas;
  control: AssistantControl;
}> = async (app, { conversations, cipher, quotas, control }) => {
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/v1/conversations',
    {
      schema: {
        headers: commandHeaders,
        body: startConversationBody,
        response: commandResponses(201),
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const id = key ? uuidFrom(`conversation|${request.user.userId}|${key}`) : randomUUID();
      const metadata = commandMetadata(request, id);
      const given = request.body?.title;
      const title = given === undefined ? undefined : validTitle(given);
      const encryptedTitle =
        title === undefined ? null : await cipher.encrypt(request.user.userId, title);
      const outcome = await conversations.handle({
        type: 'StartConversation',
        value: { metadata, title: '', encryptedTitle },
      });
      return answer(reply, { kind: 'outcome', outcome }, 201, `/v1/conversations/${id}`);
    },
  );

  app.post(
    '/v1/conversations/:id/messages',
    {
      schema: {
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
      const outcome = await conversations.handle({
        type: 'PostUserMessage',
        value: {
          metadata,
          messageId,
          text: '',
          encryptedText: await cipher.encrypt(request.user.userId, text),
        },
      });
      await control.countMessage(request.user.userId, metadata.commandId);
      return answer(
        reply,
        { kind: 'outcome', outcome },
        201,
        `/v1/conversations/${request.params.id}/messages/${messageId}`,
      );
    },
  );
};
