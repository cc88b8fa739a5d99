/**
 * views -> Redis, what the apps read most, under `parley:v<n>:`:
 * - `me:<userId>`: the user's profile (decrypted), role and status; an erased user keeps only id
 *   and status;
 * - `conversations:<userId>`: sorted set of the user's conversations by last activity;
 * - `conversation:<id>`: the conversation's head, and each of its latest messages in a field of its
 *   own (platform/src/view-hashes.ts): a batch loads the heads only, and writes its new messages.
 * Each value is a hash {version, data, ...}; a Lua script writes it only over an older version, so
 * a replayed batch changes nothing. A deleted conversation leaves a tombstone (version only).
 * Titles and messages are decrypted for the owner's views (runtime/content.ts); an erased owner's
 * conversations become tombstones and their list goes (on their UserErased, or when a batch finds
 * them erased, as a rebuild does).
 */
import { createHash } from 'node:crypto';
import { viewKeys } from '@parley/platform/read-model-names';
import {
  type ConversationView,
  LATEST_MESSAGES,
  type MeView,
  type Versioned,
} from '@parley/platform/read-models';
import { traceHeaders } from '@parley/platform/tracing';
import { conversationHeadOf, conversationLayout, meLayout } from '@parley/platform/view-hashes';
import {
  encodeViewProgress,
  type ViewProgress,
  viewProgressChannel,
} from '@parley/platform/view-progress';
import type { EncryptedText } from '@parley/schemas/generated/records';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import {
  batchContent,
  contentSealedIn,
  openSealed,
  personalDataIn,
} from '../../runtime/content.ts';
import {
  type Generation,
  type GuardedProjection,
  isIdentityEvent,
  type ProjectedEvent,
  type Stores,
} from '../../runtime/projection.ts';
import { foldViews, ownersOf, type ViewWrite } from './fold.ts';

const chat = CONTEXTS.find((c) => c.name === 'chat');
const identity = CONTEXTS.find((c) => c.name === 'identity');

/**
 * KEYS[1] value hash, KEYS[2] owner's list (or ''); ARGV: version, data ('' = tombstone),
 * list member, list score ('' = remove from the list), the first and last message number whose
 * field goes (none when the last is below the first), then the fields to set (name, value).
 * Writes only over an older version.
 */
const GUARDED_SET = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current >= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'version', ARGV[1])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'data', ARGV[2], unpack(ARGV, 7))
  for n = tonumber(ARGV[5]), tonumber(ARGV[6]) do redis.call('HDEL', KEYS[1], 'm' .. n) end
end
if KEYS[2] ~= '' then
  if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[3])
  else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3]) end
end
return 1`;
const GUARDED_SHA = createHash('sha1').update(GUARDED_SET).digest('hex');

/**
 * The views stored under these ids (`keyOf` names each), by id: their version and `data` only
 * (`parse` reads it), so a conversation comes without the messages stored beside it.
 */
async function load<T>(
  stores: Stores,
  ids: readonly string[],
  keyOf: (id: string) => string,
  parse: (data: string) => T,
): Promise<Map<string, Versioned<T>>> {
  const found = new Map<string, Versioned<T>>();
  if (ids.length === 0) return found;
  const pipeline = stores.redis.pipeline();
  for (const id of ids) pipeline.hmget(keyOf(id), 'version', 'data');
  const results = (await pipeline.exec()) ?? [];
  results.forEach(([error, value], i) => {
    if (error) throw error;
    const [version, data] = value as [string | null, string | null];
    const id = ids[i];
    if (id && version !== null)
      found.set(id, { version: Number(version), data: data ? parse(data) : null });
  });
  return found;
}

/**
 * A stored conversation as the fold goes on from it: its head, with no messages (they stay in
 * their fields), or those a view of the earlier layout held in its `data`.
 */
const conversationFromData = (data: string): ConversationView => {
  const { head, messages } = conversationHeadOf(data);
  return { ...head, messages };
};

type Keys = ReturnType<typeof viewKeys>;

/** The views a batch touches, from Redis. */
async function loadViews(stores: Stores, keys: Keys, events: readonly ProjectedEvent[]) {
  const users = new Set<string>();
  const conversations = new Set<string>();
  for (const e of events) {
    const id = e.value.metadata.aggregateId;
    (isIdentityEvent(e) ? users : conversations).add(id);
  }
  const [me, convs] = await Promise.all([
    load(stores, [...users], keys.me, (data) => JSON.parse(data) as MeView),
    load(stores, [...conversations], keys.conversation, conversationFromData),
  ]);
  return { me, conversations: convs };
}

/** What a batch's events carry encrypted: personal data and what people wrote. */
const sealedIn = (events: readonly ProjectedEvent[]) =>
  events.flatMap((e) => [...personalDataIn(e), contentSealedIn(e)]);

/**
 * One guarded write per view the batch moved. A conversation's messages are those of the batch
 * (the fold went on from the head): each is a new field, and the fields of the messages that
 * fall out of the latest go.
 */
function queueWrites(
  pipeline: ReturnType<Stores['redis']['pipeline']>,
  keys: Keys,
  writes: readonly ViewWrite[],
) {
  for (const write of writes) {
    if (write.kind === 'me') {
      const data = write.data ? meLayout.toHash(write.data).data : '';
      pipeline.evalsha(GUARDED_SHA, 2, keys.me(write.id), '', write.version, data, '', '', 0, -1);
      continue;
    }
    const stored = write.data ? conversationLayout.toHash(write.data) : { data: '', fields: [] };
    const count = write.data?.messageCount ?? 0;
    pipeline.evalsha(
      GUARDED_SHA,
      2,
      keys.conversation(write.id),
      write.ownerId ? keys.list(write.ownerId) : '',
      write.version,
      stored.data,
      write.id,
      write.data ? write.data.lastActivityAt : '',
      Math.max(0, write.countBefore - LATEST_MESSAGES),
      count - LATEST_MESSAGES - 1,
      ...stored.fields,
    );
  }
}

export const viewsProjection: GuardedProjection = {
  name: 'views',
  store: 'redis',
  topics: (names) => [identity, chat].flatMap((c) => (c ? [names.events(c)] : [])),

  async prepare(stores) {
    await stores.redis.script('LOAD', GUARDED_SET);
  },

  async drop(stores, g) {
    const { prefix } = viewKeys(g);
    let cursor = '0';
    do {
      const [next, keys] = await stores.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await stores.redis.unlink(...keys);
    } while (cursor !== '0');
  },

  async checksum(stores, g) {
    const { prefix } = viewKeys(g);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await stores.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    keys.sort();
    const hash = createHash('md5');
    for (const key of keys) {
      const type = await stores.redis.type(key);
      // A hash's fields in name order: HGETALL gives them in the order of Redis's table, which
      // depends on the hash's history (a conversation's message fields come and go).
      const value =
        type === 'zset'
          ? await stores.redis.zrange(key, 0, -1, 'WITHSCORES')
          : Object.entries(await stores.redis.hgetall(key)).sort(([a], [b]) =>
              a < b ? -1 : a > b ? 1 : 0,
            );
      hash.update(`${key.slice(prefix.length)}=${JSON.stringify(value)}\n`);
    }
    return hash.digest('hex');
  },

  async apply(stores, g, events) {
    const keys = viewKeys(g);
    // The views and the decrypted content at the same time: two stores, one wait.
    const [views, opened] = await Promise.all([
      loadViews(stores, keys, events),
      openSealed(stores, sealedIn(events)),
    ]);
    const erased = await stores.cipher.erasedAmong(ownersOf(views.conversations, events));
    const open = (value: EncryptedText | null) => (value ? (opened.get(value) ?? null) : null);
    const writes = foldViews(views, events, open, batchContent(opened, erased));
    if (writes.length > 0) {
      const pipeline = stores.redis.pipeline();
      queueWrites(pipeline, keys, writes);
      // Progress in the same round trip, after the writes: Redis runs a pipeline in order, so a
      // reader woken by it finds them. A hint only (a reader that finds less waits for the next).
      pipeline.publish(viewProgressChannel(g.namespace), progressOf(g, writes, events));
      const results = (await pipeline.exec()) ?? [];
      const written = results.slice(0, writes.length);
      if (written.some(([error]) => error && /NOSCRIPT/.test(String(error)))) {
        // Redis restarted and lost its script cache: load it and apply the batch again (guarded).
        await stores.redis.script('LOAD', GUARDED_SET);
        return viewsProjection.apply(stores, g, events);
      }
      const failed = written.find(([error]) => error);
      if (failed?.[0]) throw failed[0];
    }
    // Also when the erased user had no view of their own (nothing else to write).
    const erasedNow = events.flatMap((e) =>
      e.type === 'UserErased' ? [e.value.metadata.aggregateId] : [],
    );
    if (erasedNow.length > 0) await eraseConversations(stores, keys, erasedNow);
  },
};

/** KEYS[1] a view: everything but its version goes. */
const KEEP_VERSION_ONLY = `
local version = redis.call('HGET', KEYS[1], 'version')
redis.call('DEL', KEYS[1])
if version then redis.call('HSET', KEYS[1], 'version', version) end
return 1`;

/**
 * An erased owner's conversation views become tombstones (their version stays, so no older event
 * can write them again) and their list goes. Applied again it changes nothing.
 */
async function eraseConversations(stores: Stores, keys: Keys, owners: readonly string[]) {
  await stores.cipher.noteErased(owners);
  for (const ownerId of owners) {
    const ids = await stores.redis.zrange(keys.list(ownerId), 0, -1);
    const pipeline = stores.redis.pipeline();
    for (const id of ids) pipeline.eval(KEEP_VERSION_ONLY, 1, keys.conversation(id));
    pipeline.del(keys.list(ownerId));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }
}

/**
 * Progress (read-your-writes): one message naming each view the batch moved and the version it
 * has now (contract in platform/src/view-progress.ts), with the trace of the last event that moved
 * it (tracing on).
 */
function progressOf(
  g: Generation,
  writes: readonly ViewWrite[],
  events: readonly ProjectedEvent[],
) {
  const traces = new Map<string, string>();
  for (const event of events) {
    const traceparent = event.trace && traceHeaders(event.trace).traceparent;
    if (traceparent) traces.set(event.value.metadata.aggregateId, traceparent);
  }
  const views = writes.map(({ kind, id, version }): ViewProgress['views'][number] => {
    const traceparent = traces.get(id);
    return traceparent ? [kind, id, version, traceparent] : [kind, id, version];
  });
  return encodeViewProgress({ generation: g.number, views });
}
