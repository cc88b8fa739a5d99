/**
 * Usage reads: `GET /v1/usage` (my messages, replies and tokens per day over a range) and, for
 * analysts, `GET /v1/analytics/usage` (every user's days added up: counts and sums, no ids, no
 * personal data). From PostgreSQL through a short-lived Redis cache.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { queryCacheKey } from '@parley/platform/read-model-names';
import { Type } from 'typebox';
import type { ReadModels } from '../dependencies.ts';
import { readRateLimit, requireRole } from '../http/access.ts';
import { contentEtag } from '../http/etag.ts';
import { PRIVATE_REVALIDATE, PRIVATE_SHORT, sendRead } from '../http/read-reply.ts';
import { readResponses } from '../http/schemas.ts';
import { cachedQuery } from '../read-models/cached-query.ts';
import { dateRange, MAX_RANGE_DAYS } from './date-range.ts';
import { allUsage, totals, userUsage } from './usage-source.ts';

const rangeQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date', description: 'First day (UTC), inclusive' })),
  to: Type.Optional(
    Type.String({ format: 'date', description: 'Last day (UTC), inclusive; today by default' }),
  ),
});

const counts = {
  messages: Type.Integer(),
  replies: Type.Integer(),
  promptTokens: Type.Integer(),
  completionTokens: Type.Integer(),
};

const usage = Type.Object({
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  days: Type.Array(Type.Object({ day: Type.String({ format: 'date' }), ...counts }), {
    description: 'Days with any use, in order',
  }),
  totals: Type.Object(counts),
});

const aggregate = Type.Object({
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  days: Type.Array(
    Type.Object({
      day: Type.String({ format: 'date' }),
      activeUsers: Type.Integer({ description: 'Users with any use that day' }),
      ...counts,
    }),
  ),
  totals: Type.Object(counts),
});

export const usageRoutes: FastifyPluginAsyncTypebox<{
  reads: ReadModels;
  rateLimitPerMinute: number;
}> = async (app, { reads, rateLimitPerMinute }) => {
  app.addHook('onRequest', app.authenticate);
  const config = readRateLimit(rateLimitPerMinute);
  const describe = `At most ${MAX_RANGE_DAYS} days; the last 30 by default`;

  app.get(
    '/v1/usage',
    {
      config,
      schema: {
        tags: ['usage'],
        summary: 'My usage per day',
        description: describe,
        querystring: rangeQuery,
        response: { 200: usage, ...readResponses() },
      },
    },
    async (request, reply) => {
      const range = dateRange(request.query);
      const userId = request.user.userId;
      const generation = await reads.generations.of('usage-daily');
      const read = await cachedQuery(reads, {
        key: queryCacheKey(
          reads.namespace,
          'usage-daily',
          generation,
          'user',
          userId,
          range.from,
          range.to,
        ),
        model: 'usage',
        store: 'postgres',
        load: () => userUsage(reads, generation, userId, range),
      });
      const body = { ...range, days: read.value, totals: totals(read.value) };
      return sendRead(
        request,
        reply,
        { etag: contentEtag(body), cacheControl: PRIVATE_REVALIDATE, ...read },
        body,
      );
    },
  );

  app.get(
    '/v1/analytics/usage',
    {
      config,
      preHandler: requireRole('analyst'),
      schema: {
        tags: ['analytics'],
        summary: 'Usage per day over all users (analysts; aggregates only)',
        description: describe,
        querystring: rangeQuery,
        response: { 200: aggregate, ...readResponses(403) },
      },
    },
    async (request, reply) => {
      const range = dateRange(request.query);
      const generation = await reads.generations.of('usage-daily');
      const read = await cachedQuery(reads, {
        key: queryCacheKey(reads.namespace, 'usage-daily', generation, 'all', range.from, range.to),
        model: 'usage-all',
        store: 'postgres',
        load: () => allUsage(reads, generation, range),
      });
      const body = { ...range, days: read.value, totals: totals(read.value) };
      return sendRead(
        request,
        reply,
        { etag: contentEtag(body), cacheControl: PRIVATE_SHORT, ...read },
        body,
      );
    },
  );
};
