/**
 * User commands over HTTP that need no credentials or personal data: role changes and
 * deactivation. Registration, login, profile and erasure come with the identity work (they need
 * the credential store and encryption of personal fields).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { CommandGateway } from '../commands/command-gateway.ts';
import { answer, commandHeaders, commandMetadata, commandResponses } from '../commands/http.ts';

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const identityRoutes: FastifyPluginAsyncTypebox<{ gateway: CommandGateway }> = async (
  app,
  { gateway },
) => {
  app.addHook('onRequest', app.authenticate);

  app.put(
    '/v1/users/:id/role',
    {
      schema: {
        tags: ['users'],
        summary: 'Change a user’s role (admins only)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object(
          {
            role: Type.Union([
              Type.Literal('user'),
              Type.Literal('admin'),
              Type.Literal('analyst'),
            ]),
          },
          { additionalProperties: false },
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      return answer(
        reply,
        await gateway.submit('ChangeUserRole', { metadata, role: request.body.role }),
        200,
      );
    },
  );

  app.post(
    '/v1/users/:id/deactivate',
    {
      schema: {
        tags: ['users'],
        summary: 'Deactivate an account (the user or an admin)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Optional(
          Type.Object(
            { reason: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const reason = request.body?.reason ?? null;
      return answer(reply, await gateway.submit('DeactivateUser', { metadata, reason }), 200);
    },
  );
};
