/**
 * The progress of the Redis views, published by the views projection and read by query-api.
 *
 * After each batch it has written, the projection publishes ONE message on
 * `parley:<namespace>views:progress` (namespace from TOPIC_PREFIX, empty in production) naming
 * the generation it wrote and every view the batch moved, with the version the view now has:
 *   {"generation":3,"views":[["conversation","<uuid>",7],["me","<uuid>",2]]}
 * With tracing on, an entry has a fourth element: the `traceparent` of the event that moved the
 * view, so the push to the client continues that event's trace.
 * A reader that waits for a version (read-your-writes) registers first, then reads the view, and
 * reads it again only when a message says the view reached what it waits for: no polling. The
 * message is a hint, never the data: the view in Redis stays the truth, so a lost or repeated
 * message costs a wait, never a wrong answer.
 */

export const VIEW_KINDS = ['me', 'conversation'] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];

export interface ViewProgress {
  readonly generation: number;
  readonly views: ReadonlyArray<
    readonly [kind: ViewKind, id: string, version: number, traceparent?: string]
  >;
}

export const viewProgressChannel = (namespace: string) => `parley:${namespace}views:progress`;

export const encodeViewProgress = (progress: ViewProgress): string => JSON.stringify(progress);

const isEntry = (value: unknown): value is [ViewKind, string, number, string?] =>
  Array.isArray(value) &&
  (value.length === 3 || (value.length === 4 && typeof value[3] === 'string')) &&
  (VIEW_KINDS as readonly unknown[]).includes(value[0]) &&
  typeof value[1] === 'string' &&
  Number.isInteger(value[2]);

/** The message, or undefined for anything that is not one (it is ignored, never thrown). */
export function decodeViewProgress(message: string): ViewProgress | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const { generation, views } = parsed as { generation?: unknown; views?: unknown };
  if (!Number.isInteger(generation) || !Array.isArray(views) || !views.every(isEntry)) {
    return undefined;
  }
  return { generation: generation as number, views };
}
