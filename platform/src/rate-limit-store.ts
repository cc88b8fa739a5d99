/**
 * The rate-limit store of every service (@fastify/rate-limit's store contract): counts in memory,
 * shares the counts through Redis in the background. A request never waits for Redis: the
 * instance counts the hit at once against what it knows of every instance's hits, and every
 * FLUSH_MS it adds its new hits to a fixed-window counter in Redis (one pipeline of INCRBY +
 * PEXPIRE for all keys) and learns the total of all instances from the replies.
 *
 * Exact within one instance; across instances a client can get at most the hits the other
 * instances admitted in their last flush interval beyond its budget. With Redis unreachable each
 * instance goes on counting on its own (the old store let everything through). Routes sharing a
 * `groupId` share one budget (the plugin appends the group to the key); other routes count apart.
 */
import type { Redis } from 'ioredis';

/** How often an instance adds its hits to Redis and learns everyone's. */
const FLUSH_MS = 100;
/** Keys counted at once before old windows are dropped early (memory bound). */
const MAX_KEYS = 200_000;

interface Counter {
  /** Which fixed window (time / window length) the counts are for. */
  window: number;
  /** Hits of all instances as Redis last answered, this instance's flushed hits included. */
  shared: number;
  /** This instance's hits not yet added to Redis. */
  pending: number;
  /** Hits being added right now (moved to `shared` by the reply, or kept on failure). */
  flushing: number;
  readonly windowMs: number;
}

type Result = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Result) => void;

interface RouteParams {
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

/** The counters of one service process, shared by all its routes' stores. */
class Counters {
  private readonly counters = new Map<string, Counter>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  hit(key: string, windowMs: number, now = Date.now()): Result {
    const counter = this.current(key, windowMs, now);
    counter.pending += 1;
    this.schedule();
    return this.resultOf(counter, now);
  }

  peek(key: string, windowMs: number, now = Date.now()): Result {
    const counter = this.counters.get(key);
    if (!counter || counter.window !== Math.floor(now / windowMs)) return { current: 0, ttl: 0 };
    return this.resultOf(counter, now);
  }

  /** Adds the pending hits to Redis and takes the totals back. */
  async flush(now = Date.now()): Promise<void> {
    this.timer = undefined;
    const batch: Array<[string, Counter]> = [];
    const pipeline = this.redis.pipeline();
    for (const [key, counter] of this.counters) {
      if (counter.window !== Math.floor(now / counter.windowMs)) {
        if (counter.flushing === 0) this.counters.delete(key);
        continue;
      }
      if (counter.pending === 0) continue;
      counter.flushing = counter.pending;
      counter.pending = 0;
      const redisKey = `${this.prefix}${key}:${counter.window}`;
      const endsIn = (counter.window + 1) * counter.windowMs - now;
      pipeline.incrby(redisKey, counter.flushing).pexpire(redisKey, endsIn + counter.windowMs);
      batch.push([key, counter]);
    }
    if (batch.length === 0) return;
    let replies: Array<[Error | null, unknown]> = [];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch {
      // Unreachable: counted locally below, like an instance on its own.
    }
    batch.forEach(([, counter], i) => {
      const [error, total] = replies[i * 2] ?? [new Error('no reply'), null];
      // A total from Redis includes this flush; without one the instance counts on its own.
      counter.shared = error ? counter.shared + counter.flushing : Number(total);
      counter.flushing = 0;
    });
  }

  private current(key: string, windowMs: number, now: number): Counter {
    const window = Math.floor(now / windowMs);
    let counter = this.counters.get(key);
    if (!counter || counter.window !== window) {
      if (this.counters.size >= MAX_KEYS) this.dropOldWindows(now);
      counter = { window, shared: 0, pending: 0, flushing: 0, windowMs };
      this.counters.set(key, counter);
    }
    return counter;
  }

  private resultOf(counter: Counter, now: number): Result {
    return {
      current: counter.shared + counter.flushing + counter.pending,
      ttl: (counter.window + 1) * counter.windowMs - now,
    };
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  private dropOldWindows(now: number) {
    for (const [key, counter] of this.counters) {
      if (counter.window !== Math.floor(now / counter.windowMs)) this.counters.delete(key);
    }
  }
}

/**
 * The store class for `@fastify/rate-limit`'s `store` option. The plugin makes one per process
 * and a child per rate-limited route.
 */
export function sharedCountRateLimitStore(redis: Redis, prefix: string) {
  const counters = new Counters(redis, prefix);
  class SharedCountStore {
    constructor(
      _params?: unknown,
      readonly scope = '',
    ) {}

    incr(key: string, callback: Callback, timeWindow: number) {
      callback(null, counters.hit(this.scope + key, timeWindow));
    }

    read(key: string, callback: Callback, timeWindow: number) {
      callback(null, counters.peek(this.scope + key, timeWindow));
    }

    /** Called with the route's merged rate-limit settings (its `groupId`, `routeInfo`). */
    child(settings: unknown) {
      const { groupId, routeInfo: route } = settings as RouteParams;
      const scope = groupId ? 'group:' : `${String(route?.method ?? '')}${route?.url ?? ''}-`;
      return new SharedCountStore(undefined, scope);
    }
  }
  return { Store: SharedCountStore, counters };
}
