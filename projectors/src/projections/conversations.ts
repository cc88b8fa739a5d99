/**
 * conversations + messages -> MongoDB (`conversations_g<n>`, `messages_g<n>`): a document per
 * conversation (owner, title, status, counts, last message preview, version) and one per message
 * for paging. Writes are guarded by the conversation's version: a replayed batch changes nothing.
 * A deleted conversation keeps a tombstone (id, owner, status, version) so a replay cannot bring
 * it back, and its messages are deleted. Titles and messages are decrypted for the owner's read
 * model (runtime/content.ts); once the owner is erased (their UserErased, or found erased while
 * applying a batch, as in a rebuild) every conversation of theirs becomes an `erased` tombstone
 * with no text and its messages are deleted.
 */
import type { Collection } from '@parley/platform/mongo';
import { mongoCollections } from '@parley/platform/read-model-names';
import {
  type ConversationDoc,
  type MessageDoc,
  PREVIEW_LENGTH,
} from '@parley/platform/read-models';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import { type BatchContent, openContent } from '../runtime/content.ts';
import type {
  Generation,
  GuardedProjection,
  ProjectedEvent,
  Stores,
} from '../runtime/projection.ts';
import { ConcurrentWriteError, WrittenDocuments } from '../runtime/written-documents.ts';

const chat = CONTEXTS.find((c) => c.name === 'chat');
const identity = CONTEXTS.find((c) => c.name === 'identity');
const userEventsTopic = identity ? `${identity.name}.${identity.aggregate}-events` : undefined;
const isUserEvent = (event: ProjectedEvent) =>
  userEventsTopic !== undefined && event.topic.endsWith(userEventsTopic);
export const collections = (stores: Stores, g: Generation) => {
  const db = stores.mongo.db();
  const names = mongoCollections(g);
  return {
    conversations: db.collection<ConversationDoc>(names.conversations),
    messages: db.collection<MessageDoc>(names.messages),
  };
};

const DUPLICATE_KEY = 11000;

/** Inserts, treating "already there" (a replay) as done. */
/**
 * Replacements per bulkWrite command. FerretDB 1.24 on PostgreSQL keeps a connection per matched
 * replacement until the command ends, and deadlocks once a command needs more than its pool
 * holds; MongoDB itself would take far more per command.
 */
export const REPLACES_PER_COMMAND = 25;
/**
 * Conversation documents kept after writing them (about 0.5 KB each): with FerretDB the read
 * back of a batch's documents (`$in` on `_id`) scans the whole collection, so a warm process
 * reads only conversations it has not written yet.
 */
const WRITTEN_DOCUMENTS = 50_000;
const written = new WrittenDocuments<ConversationDoc>(WRITTEN_DOCUMENTS);

async function insertAll<T extends { _id: string }>(collection: Collection<T>, docs: T[]) {
  if (docs.length === 0) return;
  try {
    await collection.insertMany(docs as never[], { ordered: false });
  } catch (error) {
    const writeErrors = (error as { writeErrors?: Array<{ code: number }> }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((e) => e.code !== DUPLICATE_KEY)) throw error;
  }
}

/** What is left of an erased owner's conversation: no title, no messages, no preview. */
function erasedTombstone(doc: ConversationDoc, version: number): ConversationDoc {
  return {
    _id: doc._id,
    ownerId: doc.ownerId,
    status: 'erased',
    messageCount: 0,
    lastMessage: null,
    lastActivityAt: doc.createdAt,
    createdAt: doc.createdAt,
    version,
  };
}

function evolve(
  doc: ConversationDoc | undefined,
  event: ProjectedEvent,
  newMessages: MessageDoc[],
  content: BatchContent,
): ConversationDoc | undefined {
  const { metadata } = event.value;
  const at = new Date(Number(metadata.occurredAt));
  if (event.type === 'ConversationStarted') {
    const ownerId = String(event.value.ownerId);
    const started: ConversationDoc = {
      _id: metadata.aggregateId,
      ownerId,
      title: content.of(event, ownerId, 'title') ?? undefined,
      status: 'active',
      messageCount: 0,
      lastMessage: null,
      lastActivityAt: at,
      createdAt: at,
      version: metadata.aggregateVersion,
    };
    if (!started.title) delete started.title;
    return content.erased(ownerId) ? erasedTombstone(started, started.version) : started;
  }
  if (!doc) return undefined;
  // Nothing of an erased owner is written again; the tombstone follows the versions.
  if (doc.status === 'erased' || content.erased(doc.ownerId)) {
    return erasedTombstone(doc, metadata.aggregateVersion);
  }
  const next: ConversationDoc = { ...doc, version: metadata.aggregateVersion };
  const message = (role: MessageDoc['role'], text: string | null, extra: Partial<MessageDoc>) => {
    newMessages.push({
      _id: String(event.value.messageId ?? `${metadata.eventId}`),
      conversationId: doc._id,
      ownerId: doc.ownerId,
      role,
      text,
      at,
      seq: metadata.aggregateVersion,
      ...extra,
    });
    next.messageCount += 1;
    next.lastActivityAt = at;
    next.lastMessage =
      text === null ? next.lastMessage : { role, preview: text.slice(0, PREVIEW_LENGTH), at };
  };
  switch (event.type) {
    case 'ConversationRenamed': {
      const title = content.of(event, doc.ownerId, 'title');
      return title === null ? next : { ...next, title };
    }
    case 'UserMessagePosted':
      message('user', content.of(event, doc.ownerId, 'text'), {});
      return next;
    case 'AssistantReplyRecorded':
      message('assistant', content.of(event, doc.ownerId, 'text'), {
        replyTo: String(event.value.replyTo),
        outcome: event.value.finishReason === 'stopped' ? 'stopped' : 'finished',
      });
      return next;
    case 'AssistantReplyFailed':
      message('assistant', null, {
        replyTo: String(event.value.replyTo),
        outcome: 'failed',
        failed: String(event.value.reason),
      });
      return next;
    case 'ConversationArchived':
      return { ...next, status: 'archived' };
    case 'ConversationDeleted':
      // A tombstone: no title, no preview, nothing personal.
      return {
        _id: doc._id,
        ownerId: doc.ownerId,
        status: 'deleted',
        messageCount: 0,
        lastMessage: null,
        lastActivityAt: at,
        createdAt: doc.createdAt,
        version: metadata.aggregateVersion,
      };
    default:
      return next;
  }
}

/** The batch's conversations: those this process wrote last from memory, the others read. */
async function loadConversations(
  conversations: Collection<ConversationDoc>,
  ids: readonly string[],
  cacheKey: (id: string) => string,
): Promise<Map<string, ConversationDoc>> {
  const loaded = new Map<string, ConversationDoc>();
  const unknown: string[] = [];
  for (const id of ids) {
    const doc = written.get(cacheKey(id));
    if (doc) loaded.set(id, doc);
    else unknown.push(id);
  }
  if (unknown.length > 0) {
    for (const doc of await conversations.find({ _id: { $in: unknown } }).toArray()) {
      loaded.set(doc._id, doc);
    }
  }
  return loaded;
}

/**
 * The batch folded over the loaded documents; events a document already reflects are skipped.
 * `deleted` lists the conversations whose messages go: deleted, or their owner erased.
 */
function fold(
  loaded: ReadonlyMap<string, ConversationDoc>,
  events: readonly ProjectedEvent[],
  content: BatchContent,
) {
  const current = new Map(loaded);
  const newMessages: MessageDoc[] = [];
  const deleted = new Set<string>();
  for (const event of events) {
    const id = event.value.metadata.aggregateId;
    const doc = current.get(id);
    if (doc && event.value.metadata.aggregateVersion <= doc.version) continue;
    const next = evolve(doc, event, newMessages, content);
    if (!next) continue;
    current.set(id, next);
    if (next.status === 'deleted' || next.status === 'erased') deleted.add(id);
  }
  return { current, newMessages, deleted };
}

/** The owners a batch's conversations belong to (loaded, or started in the batch). */
function ownersOf(loaded: ReadonlyMap<string, ConversationDoc>, events: readonly ProjectedEvent[]) {
  const owners = new Set([...loaded.values()].map((d) => d.ownerId));
  for (const e of events) if (e.type === 'ConversationStarted') owners.add(String(e.value.ownerId));
  return [...owners];
}

/**
 * An erased owner's conversations become tombstones and their messages go. Applied again (a
 * replay) it changes nothing.
 */
async function eraseOwners(
  { conversations, messages }: ReturnType<typeof collections>,
  ownerIds: readonly string[],
  cacheKey: (id: string) => string,
) {
  for (const ownerId of ownerIds) {
    const docs = await conversations.find({ ownerId }).toArray();
    written.forget(docs.map((d) => cacheKey(d._id)));
    const live = docs.filter((d) => d.status !== 'erased');
    await messages.deleteMany({ ownerId });
    for (let i = 0; i < live.length; i += REPLACES_PER_COMMAND) {
      await conversations.bulkWrite(
        live.slice(i, i + REPLACES_PER_COMMAND).map((doc) => ({
          replaceOne: { filter: { _id: doc._id }, replacement: erasedTombstone(doc, doc.version) },
        })),
        { ordered: false },
      );
    }
  }
}

async function writeBatch(
  { conversations, messages }: ReturnType<typeof collections>,
  loaded: ReadonlyMap<string, ConversationDoc>,
  current: ReadonlyMap<string, ConversationDoc>,
  newMessages: MessageDoc[],
  deleted: ReadonlySet<string>,
) {
  const inserts: ConversationDoc[] = [];
  const replaces = [];
  for (const doc of current.values()) {
    const before = loaded.get(doc._id);
    if (!before) inserts.push(doc);
    else if (before.version !== doc.version) {
      replaces.push({
        replaceOne: { filter: { _id: doc._id, version: before.version }, replacement: doc },
      });
    }
  }
  // Messages first, then the conversations: a conversation's version guards a replay, so a
  // crash between the two must leave the conversation behind (its events applied again, the
  // messages' inserts then find their ids taken), never ahead of its messages.
  await insertAll(
    messages,
    newMessages.filter((m) => !deleted.has(m.conversationId)),
  );
  if (deleted.size > 0) {
    // One equality filter per conversation: the index serves it (FerretDB scans every
    // document for an $in, MongoDB would not).
    await messages.bulkWrite(
      [...deleted].map((id) => ({ deleteMany: { filter: { conversationId: id } } })),
      { ordered: false },
    );
  }
  await insertAll(conversations, inserts);
  let matched = 0;
  for (let i = 0; i < replaces.length; i += REPLACES_PER_COMMAND) {
    const result = await conversations.bulkWrite(replaces.slice(i, i + REPLACES_PER_COMMAND), {
      ordered: false,
    });
    matched += result.matchedCount;
  }
  // A replacement that matched nothing started from a version the store no longer has.
  if (matched < replaces.length) {
    throw new ConcurrentWriteError(
      `${replaces.length - matched} of ${replaces.length} conversations changed meanwhile`,
    );
  }
}

export const conversationsProjection: GuardedProjection = {
  name: 'conversations',
  store: 'mongo',
  // The user events for erasures: an erased owner's conversations leave the read model.
  topics: (names) => [chat, identity].flatMap((c) => (c ? [names.events(c)] : [])),

  async prepare(stores, g) {
    const { conversations, messages } = collections(stores, g);
    await conversations.createIndex({ ownerId: 1, lastActivityAt: -1 });
    await messages.createIndex({ conversationId: 1, seq: -1 });
  },

  async drop(stores, g) {
    const { conversations, messages } = collections(stores, g);
    await conversations.drop().catch(() => {});
    await messages.drop().catch(() => {});
  },

  async checksum(stores, g) {
    const { conversations, messages } = collections(stores, g);
    const { createHash } = await import('node:crypto');
    const hash = createHash('md5');
    for await (const doc of conversations.find().sort({ _id: 1 })) hash.update(JSON.stringify(doc));
    for await (const doc of messages.find().sort({ _id: 1 })) hash.update(JSON.stringify(doc));
    return hash.digest('hex');
  },

  async apply(stores, g, events) {
    const { conversations, messages } = collections(stores, g);
    const cacheKey = (id: string) => `${conversations.collectionName}|${id}`;
    // A batch comes from one topic: the user events only erase.
    if (events.some(isUserEvent)) {
      const erased = events.filter((e) => e.type === 'UserErased');
      const owners = erased.map((e) => e.value.metadata.aggregateId);
      await stores.cipher.noteErased(owners);
      await eraseOwners({ conversations, messages }, owners, cacheKey);
      return;
    }
    const ids = [...new Set(events.map((e) => e.value.metadata.aggregateId))];
    const loaded = await loadConversations(conversations, ids, cacheKey);
    const content = await openContent(stores, events, ownersOf(loaded, events));
    const { current, newMessages, deleted } = fold(loaded, events, content);
    try {
      await writeBatch({ conversations, messages }, loaded, current, newMessages, deleted);
    } catch (error) {
      written.forget(ids.map(cacheKey));
      throw error;
    }
    for (const doc of current.values()) written.remember(cacheKey(doc._id), doc);
    // An erasure applied meanwhile (a user-events batch beside this one, or another process)
    // may have looked before this batch wrote: erased again, what this batch wrote goes too.
    // The erasure is recorded before it is applied, so one of the two always sees the other.
    const live = [...new Set([...current.values()].map((d) => d.ownerId))].filter(
      (owner) => !content.erased(owner),
    );
    const late = live.length > 0 ? await stores.cipher.erasedAmong(live) : new Set<string>();
    if (late.size > 0) await eraseOwners({ conversations, messages }, [...late], cacheKey);
  },
};
