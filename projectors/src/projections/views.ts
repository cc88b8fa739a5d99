/**
 * views -> Redis, what the apps read most, under `parley:v<n>:`:
 * - `me:<userId>`: the user's profile (decrypted), role and status; an erased user keeps only id
 *   and status;
 * - `conversations:<userId>`: sorted set of the user's conversations by last activity;
 * - `conversation:<id>`: the conversation with its latest messages.
 * Each value is a hash {version, data}; a Lua script writes it only over an older version, so a
 * replayed batch changes nothing. A deleted conversation leaves a tombstone (version only).
 * Titles and messages are decrypted for the owner's views (runtime/content.ts); an erased owner's
 * conversations become tombstones and their list goes (on their UserErased, or when a batch finds
 * them erased, as a rebuild does).
 */
import { createHash } from 'node:crypto';
import type { EncryptedText } from '@parley/platform/personal-data';
import { viewKeys } from '@parley/platform/read-model-names';
import {
  type ConversationView,
  LATEST_MESSAGES,
  type MeView,
  type ReplyOf,
  type Versioned,
} from '@parley/platform/read-models';
import { traceHeaders } from '@parley/platform/tracing';
import {
  encodeViewProgress,
  type ViewKind,
  type ViewProgress,
  viewProgressChannel,
} from '@parley/platform/view-progress';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import { type BatchContent, openContent } from '../runtime/content.ts';
import type {
  Generation,
  GuardedProjection,
  ProjectedEvent,
  Stores,
} from '../runtime/projection.ts';

const chat = CONTEXTS.find((c) => c.name === 'chat');
const identity = CONTEXTS.find((c) => c.name === 'identity');

/**
 * KEYS[1] value hash, KEYS[2] owner's list (or ''); ARGV: version, data ('' = tombstone),
 * list member, list score ('' = remove from the list). Writes only over an older version.
 */
const GUARDED_SET = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current >= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'version', ARGV[1])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'data', ARGV[2])
end
if KEYS[2] ~= '' then
  if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[3])
  else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3]) end
end
return 1`;
const GUARDED_SHA = createHash('sha1').update(GUARDED_SET).digest('hex');

async function evolveMe(
  view: Versioned<MeView | null> | undefined,
  event: ProjectedEvent,
  stores: Stores,
): Promise<Versioned<MeView | null> | undefined> {
  const { metadata } = event.value;
  const decrypt = async (value: unknown) =>
    value ? ((await stores.cipher.decrypt(value as EncryptedText)) ?? null) : null;
  const version = metadata.aggregateVersion;
  if (event.type === 'UserRegistered') {
    return {
      version,
      data: {
        userId: metadata.aggregateId,
        email: await decrypt(event.value.email),
        displayName: await decrypt(event.value.displayName),
        role: String(event.value.role),
        status: 'active',
        locale: (event.value.locale as string | null) ?? null,
      },
    };
  }
  if (!view?.data) return view && { ...view, version };
  const data = view.data;
  switch (event.type) {
    case 'UserProfileUpdated':
      return {
        version,
        data: {
          ...data,
          displayName: event.value.displayName
            ? await decrypt(event.value.displayName)
            : data.displayName,
          locale: (event.value.locale as string | null) ?? data.locale,
        },
      };
    case 'UserRoleChanged':
      return { version, data: { ...data, role: String(event.value.role) } };
    case 'UserDeactivated':
      return { version, data: { ...data, status: 'deactivated' } };
    case 'UserErased':
      return {
        version,
        data: {
          userId: data.userId,
          email: null,
          displayName: null,
          role: data.role,
          status: 'erased',
          locale: null,
        },
      };
    default:
      return { version, data };
  }
}

function evolveConversation(
  view: Versioned<ConversationView | null> | undefined,
  event: ProjectedEvent,
  content: BatchContent,
): Versioned<ConversationView | null> | undefined {
  const { metadata } = event.value;
  const at = Number(metadata.occurredAt);
  const version = metadata.aggregateVersion;
  if (event.type === 'ConversationStarted') {
    const ownerId = String(event.value.ownerId);
    // An erased owner's conversation is a tombstone from the start (a rebuild after the erasure).
    if (content.erased(ownerId)) return { version, data: null };
    return {
      version,
      data: {
        id: metadata.aggregateId,
        ownerId,
        title: content.of(event, ownerId, 'title'),
        status: 'active',
        messageCount: 0,
        createdAt: at,
        lastActivityAt: at,
        messages: [],
      },
    };
  }
  if (!view?.data) return view && { ...view, version };
  const data = view.data;
  if (content.erased(data.ownerId)) return { version, data: null };
  const withMessage = (role: 'user' | 'assistant', text: string | null, reply: ReplyOf = {}) => ({
    version,
    data: {
      ...data,
      messageCount: data.messageCount + 1,
      lastActivityAt: at,
      messages: [
        ...data.messages,
        { id: String(event.value.messageId ?? metadata.eventId), role, text, at, ...reply },
      ].slice(-LATEST_MESSAGES),
    },
  });
  switch (event.type) {
    case 'ConversationRenamed':
      return {
        version,
        data: { ...data, title: content.of(event, data.ownerId, 'title') ?? data.title },
      };
    case 'UserMessagePosted':
      return withMessage('user', content.of(event, data.ownerId, 'text'));
    case 'AssistantReplyRecorded':
      return withMessage('assistant', content.of(event, data.ownerId, 'text'), {
        replyTo: String(event.value.replyTo),
        outcome: event.value.finishReason === 'stopped' ? 'stopped' : 'finished',
      });
    case 'AssistantReplyFailed':
      return withMessage('assistant', null, {
        replyTo: String(event.value.replyTo),
        outcome: 'failed',
      });
    case 'ConversationArchived':
      return { version, data: { ...data, status: 'archived' } };
    case 'ConversationDeleted':
      return { version, data: null };
    default:
      return { version, data };
  }
}

async function load<T>(stores: Stores, keys: string[]): Promise<Map<string, Versioned<T | null>>> {
  const found = new Map<string, Versioned<T | null>>();
  if (keys.length === 0) return found;
  const pipeline = stores.redis.pipeline();
  for (const key of keys) pipeline.hmget(key, 'version', 'data');
  const results = (await pipeline.exec()) ?? [];
  results.forEach(([error, value], i) => {
    if (error) throw error;
    const [version, data] = value as [string | null, string | null];
    const key = keys[i];
    if (key && version !== null) {
      found.set(key, { version: Number(version), data: data ? (JSON.parse(data) as T) : null });
    }
  });
  return found;
}

const userEventsTopic = identity ? `${identity.name}.${identity.aggregate}-events` : undefined;
const isUserEvent = (event: ProjectedEvent) =>
  userEventsTopic !== undefined && event.topic.endsWith(userEventsTopic);

type Keys = ReturnType<typeof viewKeys>;

/** The batch's identity events over the loaded `me` views; those a view reflects are skipped. */
async function foldMe(
  mes: Map<string, Versioned<MeView | null>>,
  events: readonly ProjectedEvent[],
  keys: Keys,
  stores: Stores,
) {
  for (const event of events) {
    const key = keys.me(event.value.metadata.aggregateId);
    const view = mes.get(key);
    if (view && event.value.metadata.aggregateVersion <= view.version) continue;
    const next = await evolveMe(view, event, stores);
    if (next) mes.set(key, next);
  }
}

/** The owners a batch's conversation views belong to (loaded, or started in the batch). */
function ownersOf(
  convs: ReadonlyMap<string, Versioned<ConversationView | null>>,
  events: readonly ProjectedEvent[],
) {
  const owners = new Set<string>();
  for (const view of convs.values()) if (view.data) owners.add(view.data.ownerId);
  for (const e of events) if (e.type === 'ConversationStarted') owners.add(String(e.value.ownerId));
  return [...owners];
}

/** The batch's chat events over the loaded conversation views; returns each view's owner. */
function foldConversations(
  convs: Map<string, Versioned<ConversationView | null>>,
  events: readonly ProjectedEvent[],
  keys: Keys,
  content: BatchContent,
) {
  const owners = new Map<string, string>();
  for (const event of events) {
    const key = keys.conversation(event.value.metadata.aggregateId);
    const view = convs.get(key);
    if (view?.data) owners.set(key, view.data.ownerId);
    if (event.type === 'ConversationStarted') owners.set(key, String(event.value.ownerId));
    if (view && event.value.metadata.aggregateVersion <= view.version) continue;
    const next = evolveConversation(view, event, content);
    if (!next) continue;
    if (next.data) owners.set(key, next.data.ownerId);
    convs.set(key, next);
  }
  return owners;
}

/** One guarded write per view the batch moved; returns how many. */
function queueWrites(
  pipeline: ReturnType<Stores['redis']['pipeline']>,
  batch: {
    mes: ReadonlyMap<string, Versioned<MeView | null>>;
    convs: ReadonlyMap<string, Versioned<ConversationView | null>>;
    before: ReadonlyMap<string, number>;
    owners: ReadonlyMap<string, string>;
    keys: Keys;
  },
) {
  const { mes, convs, before, owners, keys } = batch;
  let writes = 0;
  for (const [key, view] of mes) {
    if (before.get(key) === view.version) continue;
    writes += 1;
    pipeline.evalsha(
      GUARDED_SHA,
      2,
      key,
      '',
      view.version,
      view.data ? JSON.stringify(view.data) : '',
      '',
      '',
    );
  }
  for (const [key, view] of convs) {
    if (before.get(key) === view.version) continue;
    const owner = owners.get(key);
    const id = key.slice(keys.conversation('').length);
    writes += 1;
    pipeline.evalsha(
      GUARDED_SHA,
      2,
      key,
      owner ? keys.list(owner) : '',
      view.version,
      view.data ? JSON.stringify(view.data) : '',
      id,
      view.data ? view.data.lastActivityAt : '',
    );
  }
  return writes;
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
      const value =
        type === 'zset'
          ? await stores.redis.zrange(key, 0, -1, 'WITHSCORES')
          : await stores.redis.hgetall(key);
      hash.update(`${key.slice(prefix.length)}=${JSON.stringify(value)}\n`);
    }
    return hash.digest('hex');
  },

  async apply(stores, g, events) {
    const keys = viewKeys(g);
    const userEvents: ProjectedEvent[] = [];
    const chatEvents: ProjectedEvent[] = [];
    for (const event of events) (isUserEvent(event) ? userEvents : chatEvents).push(event);
    await stores.cipher.prepare(userEvents.flatMap((e) => [e.value.email, e.value.displayName]));
    const meKeys = [...new Set(userEvents.map((e) => keys.me(e.value.metadata.aggregateId)))];
    const convKeys = [
      ...new Set(chatEvents.map((e) => keys.conversation(e.value.metadata.aggregateId))),
    ];
    const [mes, convs] = await Promise.all([
      load<MeView>(stores, meKeys),
      load<ConversationView>(stores, convKeys),
    ]);
    const before = new Map([...mes, ...convs].map(([k, v]) => [k, v.version]));
    await foldMe(mes, userEvents, keys, stores);
    const content = await openContent(stores, chatEvents, ownersOf(convs, chatEvents));
    const owners = foldConversations(convs, chatEvents, keys, content);
    const pipeline = stores.redis.pipeline();
    const writes = queueWrites(pipeline, { mes, convs, before, owners, keys });
    if (writes === 0) return;
    const results = (await pipeline.exec()) ?? [];
    const noScript = results.some(([error]) => error && /NOSCRIPT/.test(String(error)));
    if (noScript) {
      // Redis restarted and lost its script cache: load it and apply the batch again (guarded).
      await stores.redis.script('LOAD', GUARDED_SET);
      return viewsProjection.apply(stores, g, events);
    }
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    const erased = userEvents.filter((e) => e.type === 'UserErased');
    if (erased.length > 0) await eraseConversations(stores, keys, erased);
    await publishProgress(stores, g, [...mes, ...convs], before, keys, events);
  },
};

/**
 * An erased owner's conversation views become tombstones (their version stays, so no older event
 * can write them again) and their list goes. Applied again it changes nothing.
 */
async function eraseConversations(stores: Stores, keys: Keys, erased: readonly ProjectedEvent[]) {
  const owners = erased.map((e) => e.value.metadata.aggregateId);
  await stores.cipher.noteErased(owners);
  for (const ownerId of owners) {
    const ids = await stores.redis.zrange(keys.list(ownerId), 0, -1);
    const pipeline = stores.redis.pipeline();
    for (const id of ids) pipeline.hdel(keys.conversation(id), 'data');
    pipeline.del(keys.list(ownerId));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }
}

/**
 * Progress (read-your-writes): after the batch is written, one PUBLISH naming each view it moved
 * and the version the view has now (contract in platform/src/view-progress.ts). A hint only: if
 * it is lost, readers wait out their bound, so a failure here never fails the batch.
 */
async function publishProgress(
  stores: Stores,
  g: Generation,
  written: Array<[string, Versioned<unknown>]>,
  before: ReadonlyMap<string, number>,
  keys: ReturnType<typeof viewKeys>,
  events: readonly ProjectedEvent[],
) {
  // The trace of the last event that moved each view (tracing on), for the push that follows.
  const traces = new Map<string, string>();
  for (const event of events) {
    const traceparent = event.trace && traceHeaders(event.trace).traceparent;
    if (traceparent) traces.set(event.value.metadata.aggregateId, traceparent);
  }
  const entry = (kind: ViewKind, id: string, version: number): ViewProgress['views'][number] => {
    const traceparent = traces.get(id);
    return traceparent ? [kind, id, version, traceparent] : [kind, id, version];
  };
  const views: Array<ViewProgress['views'][number]> = [];
  const me = keys.me('');
  const conversation = keys.conversation('');
  for (const [key, view] of written) {
    if (before.get(key) === view.version) continue;
    if (key.startsWith(me)) views.push(entry('me', key.slice(me.length), view.version));
    else if (key.startsWith(conversation)) {
      views.push(entry('conversation', key.slice(conversation.length), view.version));
    }
  }
  if (views.length === 0) return;
  const message = encodeViewProgress({ generation: g.number, views });
  await stores.redis.publish(viewProgressChannel(g.namespace), message).catch(() => {});
}
