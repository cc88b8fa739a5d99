/**
 * How every read answers: the ETag, Cache-Control fitting the data, where the answer came from,
 * whether it is degraded (Redis down: read from the databases) or stale (the version asked for
 * was not reached in time), and 304 with no body when If-None-Match has the current ETag.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { matchesIfNoneMatch } from './etag.ts';

export type ReadSource = 'redis' | 'postgres' | 'mongodb';

/** Per-user data: revalidate every time, never in a shared cache (ADR 0017). */
export const PRIVATE_REVALIDATE = 'private, no-cache';
/** Another person's data, read by an admin: not kept anywhere. */
export const NO_STORE = 'no-store';
/** Aggregates over days that are over: a few minutes in the analyst's own cache. */
export const PRIVATE_SHORT = 'private, max-age=300';

export interface ReadMeta {
  readonly etag: string;
  readonly cacheControl: string;
  readonly source: ReadSource;
  readonly degraded?: boolean;
  readonly stale?: boolean;
}

export const HEADERS = {
  source: 'x-read-source',
  degraded: 'x-degraded',
  stale: 'x-view-stale',
} as const;

export function sendRead<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  meta: ReadMeta,
  body: T,
): FastifyReply {
  reply.header('etag', meta.etag);
  reply.header('cache-control', meta.cacheControl);
  reply.header('vary', 'authorization, accept-encoding');
  reply.header(HEADERS.source, meta.source);
  if (meta.degraded) reply.header(HEADERS.degraded, 'redis-unavailable');
  if (meta.stale) reply.header(HEADERS.stale, 'true');
  const ifNoneMatch = request.headers['if-none-match'];
  if (matchesIfNoneMatch(typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined, meta.etag)) {
    return reply.status(304).send();
  }
  return reply.send(body);
}
