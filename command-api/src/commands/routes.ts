/**
 * GET /v1/commands/:id: the outcome of a command answered 202, for its sender only. A command id
 * nobody sent, another user's, and one whose outcome can no longer come (a day after it was sent)
 * all answer the same 404.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { OpenApiLink } from '@parley/platform/openapi';
import { problems } from '@parley/platform/problem-responses';
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';
import { Type } from 'typebox';
import { commandStatus } from '../outcomes/outcome-store.ts';
import { NotFound } from '../shared/errors.ts';
import { accepted, answer, pending, writeRateLimit } from './http.ts';

/** What the document links: a command answered 202 to its outcome. */
export const commandLinks: OpenApiLink[] = [
  {
    from: 'POST /v1/conversations',
    status: '202',
    to: ['GET /v1/commands/{id}'],
    parameters: { id: '$response.body#/commandId' },
  },
];

export const commandStatusRoutes: FastifyPluginAsyncTypebox<{
  redis: Redis;
  /** Redis down: 503 with Retry-After. */
  guard: Guard;
  /** The per-user write budget a minute (WRITE_RATE_LIMIT_PER_MINUTE), shared with commands. */
  rateLimitPerMinute: number;
}> = async (app, { redis, guard, rateLimitPerMinute }) => {
  const config = writeRateLimit(rateLimitPerMinute);
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/v1/commands/:id',
    {
      config,
      schema: {
        tags: ['commands'],
        summary: 'The outcome of a command (after a 202)',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        // The command's own refusal (403, 404, 409, 422) once it was decided; 404 too for a
        // command id nobody sent, or another user's.
        response: { 200: accepted, 202: pending, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const actor = `user:${request.user.userId}`;
      const { outcome, pendingFor } = await guard(() => commandStatus(redis, request.params.id));
      if (outcome?.actor === actor) return answer(reply, { kind: 'outcome', outcome }, 200);
      if (!outcome && pendingFor === actor) {
        return reply.status(202).send({ commandId: request.params.id, status: 'pending' });
      }
      throw new NotFound('no such command');
    },
  );
};
