/**
 * Conversation reads, for their owner only (another user's conversation is a 404):
 * `GET /v1/conversations` (mine, by last activity, cursor-paged, by status),
 * `GET /v1/conversations/{id}` (with its latest messages) and
 * `GET /v1/conversations/{id}/messages` (newest first, or oldest first from a point).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { OpenApiLink } from '@parley/platform/openapi';
import type { ConversationView } from '@parley/platform/read-models';
import { Type } from 'typebox';
import type { ReadModels } from '../dependencies.ts';
import { readRateLimit } from '../http/access.ts';
import { decodeCursor, encodeCursor } from '../http/cursor.ts';
import { contentEtag, versionEtag } from '../http/etag.ts';
import {
  listMinVersionHeaders,
  listMinVersionOf,
  listMinVersionQuery,
  minVersionHeaders,
  minVersionOf,
  minVersionQuery,
} from '../http/min-version.ts';
import { PRIVATE_REVALIDATE, sendRead } from '../http/read-reply.ts';
import { readResponses } from '../http/schemas.ts';
import { listConversations } from './conversation-list.ts';
import { readOwnedConversation } from './conversation-read.ts';
import { messagePage } from './conversations-source.ts';
import { type ApiMessage, conversationFromView, fromDoc, newestMessages } from './pages.ts';

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);
const at = Type.String({ format: 'date-time' });

const message = Type.Object({
  id: Type.String(),
  seq: nullable(
    Type.Integer({
      description:
        'Order within the conversation (its version after the message); null for a message so new it is not yet indexed for paging',
    }),
  ),
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  text: nullable(Type.String({ description: 'null for a failed assistant reply' })),
  at,
  replyTo: Type.Optional(
    Type.String({ format: 'uuid', description: 'An assistant reply: the user message it answers' }),
  ),
  outcome: Type.Optional(
    Type.Union([Type.Literal('finished'), Type.Literal('stopped'), Type.Literal('failed')], {
      description: 'An assistant reply: written to the end, stopped by the user, or failed',
    }),
  ),
});

const listItem = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: nullable(Type.String()),
  status: Type.String(),
  messageCount: Type.Integer(),
  createdAt: at,
  lastActivityAt: at,
  lastMessage: nullable(
    Type.Object({
      role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
      preview: Type.String(),
      at,
    }),
  ),
  version: Type.Integer(),
});

const conversation = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: nullable(Type.String()),
  status: Type.String(),
  messageCount: Type.Integer(),
  createdAt: at,
  lastActivityAt: at,
  version: Type.Integer({ description: 'The conversation’s version; also the ETag' }),
  messages: Type.Array(Type.Omit(message, ['seq']), { description: 'The latest messages' }),
});

const page = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    next: nullable(Type.String({ description: 'Cursor of the next page; null at the end' })),
  });

const limit = (max: number, fallback: number) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback }));
const cursor = Type.Optional(Type.String({ maxLength: 300, description: 'From the last page' }));

/** A page of messages: from a point (oldest first), before a point, or the newest page. */
async function messagesOf(
  reads: ReadModels,
  view: ConversationView,
  position: { before?: number; after?: number } | undefined,
  limit: number,
): Promise<{ items: ApiMessage[]; next: string | null }> {
  const generation = await reads.generations.of('conversations');
  const id = view.id;
  if (position?.after !== undefined || position?.before !== undefined) {
    const docs = await messagePage(reads, generation, id, { ...position, limit });
    const items = docs.slice(0, limit).map(fromDoc);
    const last = items.at(-1)?.seq;
    const direction = position.after !== undefined ? 'after' : 'before';
    return {
      items,
      next:
        docs.length > limit && last != null
          ? encodeCursor('messages', { c: id, [direction]: last })
          : null,
    };
  }
  const docs = await messagePage(reads, generation, id, { limit });
  const newest = newestMessages(docs, view.messages, limit);
  return {
    items: newest.items,
    next:
      newest.more && newest.olderThan !== undefined
        ? encodeCursor('messages', { c: id, before: newest.olderThan })
        : null,
  };
}

/** What the document links: a listed conversation's id to its detail and its messages. */
export const chatLinks: OpenApiLink[] = [
  {
    from: 'GET /v1/conversations',
    status: '200',
    to: ['GET /v1/conversations/{id}', 'GET /v1/conversations/{id}/messages'],
    parameters: { id: '$response.body#/items/0/id' },
  },
];

export const chatRoutes: FastifyPluginAsyncTypebox<{
  reads: ReadModels;
  rateLimitPerMinute: number;
}> = async (app, { reads, rateLimitPerMinute }) => {
  app.addHook('onRequest', app.authenticate);
  const config = readRateLimit(rateLimitPerMinute);

  app.get(
    '/v1/conversations',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'My conversations, most recent activity first',
        headers: listMinVersionHeaders,
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('archived')])),
          limit: limit(100, 20),
          cursor,
          minVersion: listMinVersionQuery,
        }),
        response: { 200: page(listItem), ...readResponses() },
      },
    },
    async (request, reply) => {
      const { status, limit = 20 } = request.query;
      const userId = request.user.userId;
      const filter = status ?? 'any';
      const after = request.query.cursor
        ? decodeCursor(
            'conversations',
            request.query.cursor,
            (p): p is { id: string; score: number; f: string } =>
              typeof p.id === 'string' && Number.isFinite(p.score) && p.f === filter,
          )
        : undefined;
      // Read-your-writes on a list: wait for the conversation the command changed.
      const wanted = listMinVersionOf(request.headers['x-min-version'], request.query.minVersion);
      const waited = wanted
        ? await readOwnedConversation(reads, userId, wanted.conversationId, wanted.version).catch(
            () => undefined,
          )
        : undefined;
      const listed = await listConversations(reads, {
        ownerId: userId,
        status,
        after: after && { id: after.id, score: after.score },
        limit,
      });
      const next = listed.next
        ? encodeCursor('conversations', { ...listed.next, f: filter })
        : null;
      return sendRead(
        request,
        reply,
        {
          etag: contentEtag(
            listed.items.map((i) => [i.id, i.version]),
            next,
          ),
          cacheControl: PRIVATE_REVALIDATE,
          source: listed.source,
          degraded: listed.degraded,
          stale: wanted !== undefined && (waited === undefined || waited.stale),
        },
        { items: listed.items, next },
      );
    },
  );

  app.get(
    '/v1/conversations/:id',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'One of my conversations, with its latest messages',
        params: idParams,
        headers: minVersionHeaders,
        querystring: Type.Object({ minVersion: minVersionQuery }),
        response: { 200: conversation, ...readResponses(404) },
      },
    },
    async (request, reply) => {
      const minVersion = minVersionOf(request.headers['x-min-version'], request.query.minVersion);
      const id = request.params.id.toLowerCase();
      const read = await readOwnedConversation(reads, request.user.userId, id, minVersion);
      const { data, version } = read.view;
      return sendRead(
        request,
        reply,
        { etag: versionEtag(version), cacheControl: PRIVATE_REVALIDATE, ...read },
        conversationFromView(data, version),
      );
    },
  );

  app.get(
    '/v1/conversations/:id/messages',
    {
      config,
      schema: {
        tags: ['conversations'],
        summary: 'Messages of one of my conversations: newest first, or oldest first after a seq',
        params: idParams,
        headers: minVersionHeaders,
        querystring: Type.Object({
          limit: limit(100, 50),
          cursor,
          after: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Start after this seq, oldest first (e.g. to catch up from a point)',
            }),
          ),
          minVersion: minVersionQuery,
        }),
        response: { 200: page(message), ...readResponses(404) },
      },
    },
    async (request, reply) => {
      const { limit = 50 } = request.query;
      const minVersion = minVersionOf(request.headers['x-min-version'], request.query.minVersion);
      const id = request.params.id.toLowerCase();
      const position = request.query.cursor
        ? decodeCursor(
            'messages',
            request.query.cursor,
            (p): p is { c: string; before?: number; after?: number } =>
              p.c === id &&
              (Number.isInteger(p.before) || Number.isInteger(p.after)) &&
              !(p.before !== undefined && p.after !== undefined),
          )
        : request.query.after !== undefined
          ? { c: id, after: request.query.after }
          : undefined;
      const read = await readOwnedConversation(reads, request.user.userId, id, minVersion);
      const { items, next } = await messagesOf(reads, read.view.data, position, limit);
      return sendRead(
        request,
        reply,
        {
          etag: contentEtag(
            read.view.version,
            items.map((m) => m.id),
            next,
          ),
          cacheControl: PRIVATE_REVALIDATE,
          source: position ? 'mongodb' : read.source,
          degraded: read.degraded,
          stale: read.stale,
        },
        { items, next },
      );
    },
  );
};
