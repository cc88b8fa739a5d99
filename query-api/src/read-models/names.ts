/**
 * Where the projectors keep each generation of a read model, as they name it: tables in the
 * PostgreSQL `read` schema, MongoDB collections and Redis key prefixes carry the namespace (from
 * TOPIC_PREFIX, empty in production) and `_g<n>`; `read.generations` says which generation is
 * live under `<namespace><projection>`. A unit test holds these to the projectors' own names.
 */

export const PROJECTIONS = ['users', 'usage-daily', 'conversations', 'views'] as const;
export type ProjectionName = (typeof PROJECTIONS)[number];

export { namespaceOf } from '@parley/platform/read-models';

export const pointerKey = (namespace: string, projection: ProjectionName) =>
  `${namespace}${projection}`;

export const physical = (namespace: string, base: string, generation: number) =>
  `${namespace}${base}_g${generation}`;

export const usersTable = (namespace: string, generation: number) =>
  `read.${physical(namespace, 'users', generation)}`;

export const usageTable = (namespace: string, generation: number) =>
  `read.${physical(namespace, 'usage_daily', generation)}`;

export const mongoCollections = (namespace: string, generation: number) => ({
  conversations: physical(namespace, 'conversations', generation),
  messages: physical(namespace, 'messages', generation),
});

/** The views projection's keys, plus the ones only query-api writes (cached query results). */
export const viewKeys = (namespace: string, generation: number) => {
  const prefix = `parley:${physical(namespace, 'views', generation)}:`;
  return {
    prefix,
    me: (userId: string) => `${prefix}me:${userId}`,
    list: (userId: string) => `${prefix}conversations:${userId}`,
    conversation: (id: string) => `${prefix}conversation:${id}`,
  };
};

/** Results of database queries query-api caches (usage ranges), by the source's generation. */
export const queryCacheKey = (
  namespace: string,
  source: ProjectionName,
  generation: number,
  ...parts: string[]
) => `parley:${namespace}query:${source}_g${generation}:${parts.join(':')}`;
