/**
 * Entity tags: a view's version (`"7"`), or a weak hash of what a page shows (`W/"…"`) where there
 * is no single version. If-None-Match matches with the weak comparison (RFC 9110 13.1.2).
 */
import { createHash } from 'node:crypto';

export const versionEtag = (version: number) => `"${version}"`;

export const contentEtag = (...parts: unknown[]) =>
  `W/"${createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 22)}"`;

const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
