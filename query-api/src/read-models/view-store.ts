/**
 * Reading and filling the Redis views (their layout: platform/src/view-hashes.ts). Reads are plain
 * HGETALL / HMGET / ZREVRANGEBYSCORE. Fills (after a
 * database read) go through Lua scripts that write only over an older version, like the views
 * projection's own writes, and give what they write a TTL: a view filled by a reader is a cache
 * entry, and the projection goes on from it. A conversation list carries a marker member, added
 * only by a fill from the database: a list without it may have been evicted and restarted by the
 * projection with only its newest conversations, so it is read as a miss.
 */

import type { ConversationHead, Versioned } from '@parley/platform/read-models';
import type { Redis } from '@parley/platform/redis';
import { conversationHeadOf, type ViewLayout } from '@parley/platform/view-hashes';

/** The member that says a list holds every conversation (score -inf: never in a page). */
export const LIST_COMPLETE = '~complete';

/** ARGV: version, data ('' = tombstone), ttl, then the view's further fields (name, value). */
const FILL_HASH = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] == '' then redis.call('HSET', KEYS[1], 'version', ARGV[1])
else redis.call('HSET', KEYS[1], 'version', ARGV[1], 'data', ARGV[2], unpack(ARGV, 4)) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

/** ARGV: ttl, then score, member pairs. GT: a newer score the projection wrote is kept. */
const FILL_LIST = `
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', KEYS[1], '-inf', '${LIST_COMPLETE}')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

type ViewRedis = Redis & {
  fillHash(
    key: string,
    version: number,
    data: string,
    ttl: number,
    ...fields: string[]
  ): Promise<number>;
  fillList(key: string, ttl: number, ...scoresAndMembers: Array<string | number>): Promise<number>;
};

export function defineViewScripts(redis: Redis): ViewRedis {
  if (!('fillHash' in redis)) {
    redis.defineCommand('fillHash', { numberOfKeys: 1, lua: FILL_HASH });
    redis.defineCommand('fillList', { numberOfKeys: 1, lua: FILL_LIST });
  }
  return redis as ViewRedis;
}

export interface ListEntry {
  readonly id: string;
  readonly score: number;
}

export class ViewStore {
  private readonly redis: ViewRedis;

  constructor(redis: Redis) {
    this.redis = defineViewScripts(redis);
  }

  /** Conversations without their messages (a list's items): HMGET of version and head. */
  async readConversationHeads(
    keys: readonly string[],
  ): Promise<Array<Versioned<ConversationHead> | undefined>> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hmget(key, 'version', 'data');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      const [version, data] = value as [string | null, string | null];
      if (version === null) return undefined;
      return { version: Number(version), data: data ? conversationHeadOf(data).head : null };
    });
  }

  /** One view, all of its fields at once: a plain HGETALL, no pipeline (every single-view read). */
  async readHash<T>(key: string, layout: ViewLayout<T>): Promise<Versioned<T> | undefined> {
    return layout.fromHash(await this.redis.hgetall(key));
  }

  /** Writes the view unless Redis already has this version or a newer one. */
  async fillHash<T>(
    key: string,
    view: Versioned<T>,
    ttlSeconds: number,
    layout: ViewLayout<T>,
  ): Promise<boolean> {
    const stored = view.data === null ? { data: '', fields: [] } : layout.toHash(view.data);
    const { data, fields } = stored;
    return (await this.redis.fillHash(key, view.version, data, ttlSeconds, ...fields)) === 1;
  }

  /**
   * Up to `count` entries from the top of the list at or below `maxScore`, highest score first
   * (ties by id, descending), and whether the list is complete (else: a miss).
   */
  async readList(
    key: string,
    maxScore: number | undefined,
    offset: number,
    count: number,
  ): Promise<{ complete: boolean; entries: ListEntry[] }> {
    const [[markerError, marker], [rangeError, range]] = ((await this.redis
      .pipeline()
      .zscore(key, LIST_COMPLETE)
      .zrevrangebyscore(
        key,
        maxScore === undefined ? '+inf' : maxScore,
        '(-inf',
        'WITHSCORES',
        'LIMIT',
        offset,
        count,
      )
      .exec()) ?? []) as Array<[Error | null, unknown]> as [
      [Error | null, string | null],
      [Error | null, string[]],
    ];
    if (markerError) throw markerError;
    if (rangeError) throw rangeError;
    const entries: ListEntry[] = [];
    for (let i = 0; i + 1 < range.length; i += 2) {
      entries.push({ id: String(range[i]), score: Number(range[i + 1]) });
    }
    return { complete: marker !== null, entries };
  }

  async fillList(key: string, entries: readonly ListEntry[], ttlSeconds: number): Promise<void> {
    await this.redis.fillList(key, ttlSeconds, ...entries.flatMap((e) => [e.score, e.id]));
  }

  /** A cached query result (JSON) under a key of query-api's own. */
  async readCached<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async writeCached(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, JSON.stringify(value), 'EX', ttlSeconds);
  }
}
