/**
 * Where each generation of a read model lives, for the side that writes it (projectors) and the
 * side that reads it (query-api): tables in the PostgreSQL `read` schema, MongoDB collections and
 * Redis key prefixes carry the namespace (from TOPIC_PREFIX, empty in production) and `_g<n>`;
 * `read.generations` says which generation is live under `<namespace><projection>`.
 */

/** The projections whose generations the query API reads. */
export const PROJECTIONS = ['users', 'usage-daily', 'conversations', 'views'] as const;
export type ProjectionName = (typeof PROJECTIONS)[number];

/**
 * A TOPIC_PREFIX as a name part safe for tables, collections and keys: what keeps environments (or
 * tests) that share stores apart. Empty in production.
 */
export const namespaceOf = (topicPrefix: string) =>
  topicPrefix.toLowerCase().replace(/[^a-z0-9]+/g, '_');

/** One generation of a read model in one namespace: `read.users_g2`, `parley:views_g2:`... */
export interface Place {
  readonly namespace: string;
  readonly number: number;
}

/** The physical name of a generation's table, collection or key prefix. */
export const physical = (place: Place, base: string) =>
  `${place.namespace}${base}_g${place.number}`;

/** The key of a projection in `read.generations` and `read.checkpoints`. */
export const pointerKey = (namespace: string, projection: string) => `${namespace}${projection}`;

export const usersTable = (place: Place) => `read.${physical(place, 'users')}`;

export const usageTable = (place: Place) => `read.${physical(place, 'usage_daily')}`;

/** Who owns each conversation, as the usage projection learns it (never read by the query API). */
export const usageOwnersTable = (place: Place) => `read.${physical(place, 'usage_owners')}`;

export const mongoCollections = (place: Place) => ({
  conversations: physical(place, 'conversations'),
  messages: physical(place, 'messages'),
});

/** The views projection's Redis keys. */
export const viewKeys = (place: Place) => {
  const prefix = `parley:${physical(place, 'views')}:`;
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
