/**
 * `GET /v1/conversations/{id}/events`: Server-Sent Events for the conversation's owner.
 * - Each new message is a `message` event. Changes of title or status are `conversation` events;
 *   deletion is a `deleted` event that ends the stream. Pushed by the views' progress channel.
 * - The assistant's reply as it is written: `reply-started`, `reply-delta` (a piece of text),
 *   then one of `reply-finished`, `reply-stopped` or `reply-failed`. Pushed from the reply stream
 *   (platform/src/reply-stream.ts); a client that connects mid-reply gets the reply so far.
 * - Every event's id is a cursor over both, `<last message id>~<last reply entry id>`: a client
 *   that reconnects with `Last-Event-ID` gets every message and every piece of reply after it
 *   (messages from the view, or MongoDB when older), then the live ones, nothing twice. A bare
 *   message id is taken too.
 * Never polled; with Redis down there is nothing to push from, so the stream is refused with 503
 * and Retry-After.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '@parley/platform/errors';
import { problems } from '@parley/platform/problem-responses';
import { mongoCollections } from '@parley/platform/read-model-names';
import type { ConversationView, MessageDoc } from '@parley/platform/read-models';
import { STREAM_ENTRY_ID, TERMINAL_REPLY_EVENTS } from '@parley/platform/reply-stream';
import { contextFrom, ROOT_CONTEXT, type Span, SpanKind, tracer } from '@parley/platform/tracing';
import { Type } from 'typebox';
import type { ReadModels } from '../dependencies.ts';
import { readRateLimit } from '../http/access.ts';
import { TooManyStreams } from '../http/errors.ts';
import { entryAfter, type ReplyEntry } from '../read-models/reply-hub.ts';
import { readOwnedConversation } from './conversation-read.ts';
import { messagePage } from './conversations-source.ts';
import { type ApiMessage, apiMessageOfView, fromDoc, viewMessagesAfter } from './pages.ts';
import { sseComment, sseEvent, sseRetry } from './sse.ts';
import type { StreamSlots } from './stream-slots.ts';

/** Most messages a resume sends from MongoDB; the client pages the rest. */
const RESUME_LIMIT = 200;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `<message id>~<reply entry id>` (either may be empty), or a bare message id. */
export function parseCursor(raw: string | undefined): { message?: string; reply?: string } {
  if (!raw) return {};
  const [message = '', reply = ''] = raw.includes('~') ? raw.split('~') : [raw, ''];
  return {
    ...(UUID.test(message) ? { message } : {}),
    ...(STREAM_ENTRY_ID.test(reply) ? { reply } : {}),
  };
}

export const EventsUnavailable = class extends AppError {
  constructor() {
    super('EVENTS_UNAVAILABLE', 503, 'Live updates are not available right now; retry shortly', {
      extensions: { retryAfterSeconds: 5 },
    });
  }
};

export const eventRoutes: FastifyPluginAsyncTypebox<{
  reads: ReadModels;
  rateLimitPerMinute: number;
  heartbeatMs: number;
  /** A few streams per user on this instance; one more is refused with 429. */
  streams: StreamSlots;
}> = async (app, { reads, rateLimitPerMinute, heartbeatMs, streams }) => {
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/v1/conversations/:id/events',
    {
      config: readRateLimit(rateLimitPerMinute),
      schema: {
        tags: ['conversations'],
        summary: 'New messages of one of my conversations, as Server-Sent Events',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ maxLength: 100 })),
        }),
        querystring: Type.Object({
          lastEventId: Type.Optional(
            Type.String({ maxLength: 100, description: 'For clients that cannot set headers' }),
          ),
        }),
        response: {
          200: {
            description: 'Server-Sent Events: progress of the conversation, resumable',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...problems(401, 404),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const userId = request.user.userId;
      if (!reads.hub.live) throw new EventsUnavailable();
      const first = await readOwnedConversation(reads, userId, id, undefined);
      const generations = await reads.generations.current();
      const slot = streams.take(userId);
      if (!slot) {
        throw new TooManyStreams('Close one of your open event streams first', {
          extensions: { retryAfterSeconds: 5 },
        });
      }
      // Given back however the response ends: refused, finished or dropped by the client, even
      // before now (a listener added after 'close' never hears it).
      reply.raw.once('close', slot.release);
      if (reply.raw.destroyed) {
        slot.release();
        return reply.hijack();
      }
      const resumeFrom = request.headers['last-event-id'] ?? request.query.lastEventId;

      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(sseRetry(3_000));

      let closed = false;
      const cursor = parseCursor(resumeFrom);
      let lastId: string | undefined;
      let replyCursor = cursor.reply;
      const eventId = () => `${lastId ?? ''}~${replyCursor ?? ''}`;
      let seen = first.view;
      const send = (messages: readonly ApiMessage[]) => {
        for (const m of messages) {
          lastId = m.id;
          raw.write(sseEvent({ id: eventId(), event: 'message', data: m }));
        }
      };
      const sendReply = (entry: ReplyEntry) => {
        if (closed || !entryAfter(entry.id, replyCursor)) return;
        replyCursor = entry.id;
        raw.write(sseEvent({ id: eventId(), event: entry.event.type, data: entry.event }));
      };
      /** Announced entries wait while the stream is read (a resume), so none goes out of order. */
      let held: ReplyEntry[] | undefined = [];
      const catchUpReplies = async (resuming: boolean) => {
        held ??= [];
        try {
          const entries = await reads.replies.since(id, replyCursor);
          if (resuming || replyCursor) for (const entry of entries) sendReply(entry);
          else sendUnfinished(entries);
        } finally {
          const waiting = held;
          held = undefined;
          for (const entry of waiting) sendReply(entry);
        }
      };
      /** A client without a cursor gets the replies still being written, from their start. */
      const sendUnfinished = (entries: readonly ReplyEntry[]) => {
        const ended = new Set(
          entries
            .filter((e) => TERMINAL_REPLY_EVENTS.includes(e.event.type))
            .map((e) => e.event.replyId),
        );
        for (const entry of entries) {
          if (!ended.has(entry.event.replyId)) sendReply(entry);
        }
        const last = entries.at(-1);
        if (last && entryAfter(last.id, replyCursor)) replyCursor = last.id;
      };

      /** Messages after `after` from MongoDB then the view (a resume older than the view). */
      const catchUp = async (after: string, view: ConversationView) => {
        const names = mongoCollections({
          namespace: reads.namespace,
          number: generations.conversations,
        });
        const from = await reads.guards.mongo(() =>
          reads.db
            .collection<MessageDoc>(names.messages)
            .findOne({ _id: after, conversationId: id }),
        );
        if (!from) return false;
        const docs = await messagePage(reads, generations.conversations, id, {
          after: from.seq,
          limit: RESUME_LIMIT,
        });
        send(docs.slice(0, RESUME_LIMIT).map(fromDoc));
        const rest = viewMessagesAfter(view.messages, lastId);
        if (rest) send(rest.map(apiMessageOfView));
        return true;
      };

      const start = async () => {
        const view = first.view.data;
        if (cursor.message) {
          const rest = viewMessagesAfter(view.messages, cursor.message);
          lastId = cursor.message;
          if (rest) send(rest.map(apiMessageOfView));
          else if (await catchUp(cursor.message, view)) return;
          else lastId = view.messages.at(-1)?.id;
        } else {
          lastId = view.messages.at(-1)?.id;
        }
      };

      // One sync at a time; a progress message during one makes it run once more after.
      let syncing: Promise<void> | undefined;
      let again = false;
      const sync = async (): Promise<void> => {
        if (closed) return;
        let current: Awaited<ReturnType<typeof readOwnedConversation>>;
        try {
          current = await readOwnedConversation(reads, userId, id, undefined);
        } catch (error) {
          if (error instanceof AppError && error.status === 404) {
            raw.write(sseEvent({ event: 'deleted', data: { id } }));
            return close();
          }
          throw error;
        }
        if (current.view.version <= seen.version) return;
        await sendChanges(current.view.data, current.view.version);
        seen = current.view;
      };
      const sendChanges = async (data: ConversationView, version: number) => {
        if (data.title !== seen.data.title || data.status !== seen.data.status) {
          const change = { id, version, title: data.title, status: data.status };
          raw.write(sseEvent({ event: 'conversation', data: change }));
        }
        const rest = viewMessagesAfter(data.messages, lastId);
        if (rest) send(rest.map(apiMessageOfView));
        else if (lastId) await catchUp(lastId, data);
      };
      // Pushes that follow a traced event (tracing on): each span ends once a sync has sent it.
      let pushes: Span[] = [];
      const schedule = () => {
        if (syncing) {
          again = true;
          return;
        }
        const sending = pushes;
        pushes = [];
        syncing = sync()
          .catch((error: unknown) => request.log.warn({ err: error }, 'event stream sync failed'))
          .finally(() => {
            for (const span of sending) span.end();
            syncing = undefined;
            if (again && !closed) {
              again = false;
              schedule();
            }
          });
      };

      const unlisten = reads.hub.listen(
        generations.views,
        'conversation',
        id,
        (version, traceparent) => {
          if (traceparent) {
            pushes.push(
              tracer().startSpan(
                'push conversation events',
                {
                  kind: SpanKind.PRODUCER,
                  attributes: { 'parley.conversation_id': id, 'parley.version': version ?? -1 },
                },
                contextFrom({ traceparent }, ROOT_CONTEXT),
              ),
            );
          }
          schedule();
        },
      );
      let unlistenReplies: () => void;
      try {
        unlistenReplies = await reads.replies.listen(id, (entry) => {
          if (!entry) {
            void catchUpReplies(true).catch(() => undefined);
          } else if (held) held.push(entry);
          else sendReply(entry);
        });
      } catch (error) {
        // The answer has begun (200): end it, and the client reconnects after `retry`.
        request.log.warn({ err: error }, 'reply stream listen failed');
        closed = true;
        unlisten();
        raw.end();
        return;
      }
      const heartbeat = setInterval(() => raw.write(sseComment('keep-alive')), heartbeatMs);
      const close = () => {
        if (closed) return;
        closed = true;
        for (const span of pushes) span.end();
        pushes = [];
        clearInterval(heartbeat);
        unlisten();
        unlistenReplies();
        raw.end();
      };
      raw.on('close', close);
      if (raw.destroyed) return close();
      try {
        await start();
      } catch (error) {
        request.log.warn({ err: error }, 'event stream resume failed');
      }
      try {
        await catchUpReplies(Boolean(resumeFrom));
      } catch (error) {
        request.log.warn({ err: error }, 'reply stream resume failed');
      }
      // Anything that arrived while resuming.
      schedule();
    },
  );
};
