/**
 * `GET /v1/status`: public (no token), cached for a few seconds by clients and CDNs, and made of
 * the poller's latest answer: each part of the product up, degraded or down, nothing internal.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ProductStatus } from './product-status.ts';
import type { StatusPoller } from './status-poller.ts';

export const statusRoutes: FastifyPluginAsyncTypebox<{ status: StatusPoller }> = async (
  app,
  { status },
) => {
  app.get(
    '/v1/status',
    {
      schema: {
        tags: ['status'],
        summary: 'Whether each part of the product works, for the apps to tell their users',
        description:
          'sending (messages and changes), reading, updates (what was sent showing in what is ' +
          'read), assistant: each up, degraded or down. No token needed; cached for 5 seconds.',
        security: [],
        response: { 200: ProductStatus },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=5');
      return status.latest();
    },
  );
};
