/**
 * Read-your-writes: the version a command returned, from the `X-Min-Version` header or the
 * `minVersion` query parameter (for clients that cannot set headers, e.g. EventSource). On a
 * route of one aggregate it is a number; on a list it names the conversation too: `<id>:<version>`.
 */
import { Type } from 'typebox';

const VERSION = '[1-9][0-9]{0,14}';
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

const describe =
  'Answer once the view has reached this version (what a command returned); waits a bounded time, then answers with X-View-Stale: true';

export const minVersionHeaders = Type.Object({
  'x-min-version': Type.Optional(Type.String({ pattern: `^${VERSION}$`, description: describe })),
  'if-none-match': Type.Optional(Type.String({ maxLength: 200 })),
});
export const minVersionQuery = Type.Optional(
  Type.String({ pattern: `^${VERSION}$`, description: describe }),
);

export const listMinVersionHeaders = Type.Object({
  'x-min-version': Type.Optional(
    Type.String({
      pattern: `^${UUID}:${VERSION}$`,
      description: `<conversation id>:<version>. ${describe}`,
    }),
  ),
  'if-none-match': Type.Optional(Type.String({ maxLength: 200 })),
});
export const listMinVersionQuery = Type.Optional(
  Type.String({ pattern: `^${UUID}:${VERSION}$`, description: '<conversation id>:<version>' }),
);

/** The header wins over the query parameter. */
export function minVersionOf(header?: string, query?: string): number | undefined {
  const raw = header ?? query;
  return raw === undefined ? undefined : Number(raw);
}

export function listMinVersionOf(
  header?: string,
  query?: string,
): { conversationId: string; version: number } | undefined {
  const raw = header ?? query;
  if (raw === undefined) return undefined;
  const at = raw.lastIndexOf(':');
  return { conversationId: raw.slice(0, at).toLowerCase(), version: Number(raw.slice(at + 1)) };
}
