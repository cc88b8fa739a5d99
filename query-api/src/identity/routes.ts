/**
 * Identity reads: `GET /v1/me` (the caller's own profile), and for admins `GET /v1/users/{id}`
 * and `POST /v1/users/search` (by email and/or status, paged; the email travels in the body,
 * never in a URL that access logs keep). Profiles come from the `me` view, filled from PostgreSQL.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { OpenApiLink } from '@parley/platform/openapi';
import { viewKeys } from '@parley/platform/read-model-names';
import type { MeView, UserRow } from '@parley/platform/read-models';
import { meLayout } from '@parley/platform/view-hashes';
import { Type } from 'typebox';
import type { ReadModels } from '../dependencies.ts';
import { readRateLimit, requireRole } from '../http/access.ts';
import { decodeCursor, encodeCursor } from '../http/cursor.ts';
import { NotFound } from '../http/errors.ts';
import { contentEtag, versionEtag } from '../http/etag.ts';
import { minVersionHeaders, minVersionOf, minVersionQuery } from '../http/min-version.ts';
import { NO_STORE, PRIVATE_REVALIDATE, sendRead } from '../http/read-reply.ts';
import { readResponses } from '../http/schemas.ts';
import { readView } from '../read-models/read-view.ts';
import { searchUsers, userById } from './users-source.ts';

const profile = Type.Object({
  userId: Type.String({ format: 'uuid' }),
  email: Type.Union([Type.String(), Type.Null()]),
  displayName: Type.Union([Type.String(), Type.Null()]),
  role: Type.String(),
  status: Type.String({ description: 'active, deactivated or erased' }),
  locale: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer({ description: 'The user’s version; also the ETag' }),
});

const searchResult = Type.Object({
  items: Type.Array(
    Type.Object({
      ...profile.properties,
      createdAt: Type.String({ format: 'date-time' }),
      updatedAt: Type.String({ format: 'date-time' }),
    }),
  ),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Cursor of the next page' }),
});

const STATUSES = ['active', 'deactivated', 'erased'] as const;

/** What the document links: the caller's own id to their user record. */
export const identityLinks: OpenApiLink[] = [
  {
    from: 'GET /v1/me',
    status: '200',
    to: ['GET /v1/users/{id}'],
    parameters: { id: '$response.body#/userId' },
  },
];

export const identityRoutes: FastifyPluginAsyncTypebox<{
  reads: ReadModels;
  rateLimitPerMinute: number;
}> = async (app, { reads, rateLimitPerMinute }) => {
  app.addHook('onRequest', app.authenticate);
  const config = readRateLimit(rateLimitPerMinute);

  const readProfile = async (userId: string, minVersion: number | undefined) => {
    const generations = await reads.generations.current();
    return readView<MeView>(reads, {
      model: 'me',
      id: userId,
      key: viewKeys({ namespace: reads.namespace, number: generations.views }).me(userId),
      layout: meLayout,
      generation: generations.views,
      minVersion,
      database: userById(reads, generations.users, userId),
    });
  };

  app.get(
    '/v1/me',
    {
      config,
      schema: {
        tags: ['identity'],
        summary: 'My profile',
        headers: minVersionHeaders,
        querystring: Type.Object({ minVersion: minVersionQuery }),
        response: { 200: profile, ...readResponses(404) },
      },
    },
    async (request, reply) => {
      const minVersion = minVersionOf(request.headers['x-min-version'], request.query.minVersion);
      const read = await readProfile(request.user.userId, minVersion);
      if (!read.view?.data) throw new NotFound('no profile yet');
      return sendRead(
        request,
        reply,
        { etag: versionEtag(read.view.version), cacheControl: PRIVATE_REVALIDATE, ...read },
        { ...read.view.data, version: read.view.version },
      );
    },
  );

  app.get(
    '/v1/users/:id',
    {
      config,
      preHandler: requireRole('admin'),
      schema: {
        tags: ['admin'],
        summary: 'A user (admins)',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        headers: minVersionHeaders,
        querystring: Type.Object({ minVersion: minVersionQuery }),
        response: { 200: profile, ...readResponses(403, 404) },
      },
    },
    async (request, reply) => {
      const minVersion = minVersionOf(request.headers['x-min-version'], request.query.minVersion);
      const read = await readProfile(request.params.id.toLowerCase(), minVersion);
      if (!read.view?.data) throw new NotFound('no such user');
      return sendRead(
        request,
        reply,
        { etag: versionEtag(read.view.version), cacheControl: NO_STORE, ...read },
        { ...read.view.data, version: read.view.version },
      );
    },
  );

  app.post(
    '/v1/users/search',
    {
      config,
      preHandler: requireRole('admin'),
      schema: {
        tags: ['admin'],
        summary: 'Users by email and/or status, in order of registration (admins)',
        body: Type.Object(
          {
            email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
            status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            cursor: Type.Optional(Type.String({ maxLength: 300 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: searchResult, ...readResponses(403) },
      },
    },
    async (request, reply) => {
      const { email, status, cursor } = request.body;
      const limit = request.body.limit ?? 20;
      const filter = { email: email?.normalize('NFC').trim().toLowerCase(), status };
      const after = cursor
        ? decodeCursor(
            'users',
            cursor,
            (p): p is { createdAt: string; userId: string; f: string } =>
              typeof p.createdAt === 'string' &&
              !Number.isNaN(Date.parse(p.createdAt)) &&
              typeof p.userId === 'string' &&
              /^[0-9a-f-]{36}$/.test(p.userId) &&
              p.f === JSON.stringify(filter),
          )
        : undefined;
      const generation = await reads.generations.of('users');
      const rows = await searchUsers(reads, generation, {
        ...(filter.email === undefined ? {} : { email: filter.email }),
        ...(status === undefined ? {} : { status }),
        limit,
        ...(after ? { after } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const next =
        rows.length > limit && last
          ? encodeCursor('users', {
              createdAt: last.created_at.toISOString(),
              userId: last.user_id,
              f: JSON.stringify(filter),
            })
          : null;
      const items = page.map(searchItem);
      return sendRead(
        request,
        reply,
        {
          etag: contentEtag(
            items.map((i) => [i.userId, i.version]),
            next,
          ),
          cacheControl: NO_STORE,
          source: 'postgres',
        },
        { items, next },
      );
    },
  );
};

const searchItem = (row: UserRow) => ({
  userId: row.user_id,
  email: row.email,
  displayName: row.display_name,
  role: row.role,
  status: row.status,
  locale: row.locale,
  version: row.version,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});
