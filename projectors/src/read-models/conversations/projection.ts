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
import type { ConversationDoc, MessageDoc } from '@parley/platform/read-models';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import { batchContent, contentSealedIn, openSealed } from '../../runtime/content.ts';
import {
  type Generation,
  type GuardedProjection,
  isIdentityEvent,
  type Stores,
} from '../../runtime/projection.ts';
import {
  type ConversationWrites,
  erasedTombstone,
  foldConversations,
  ownersOf,
  writesOf,
} from './fold.ts';
import { ConcurrentWriteError, WrittenDocuments } from './written-documents.ts';

const chat = CONTEXTS.find((c) => c.name === 'chat');
const identity = CONTEXTS.find((c) => c.name === 'identity');
export const collections = (stores: Stores, g: Generation) => {
  const db = stores.mongo.db();
  const names = mongoCollections(g);
  return {
    conversations: db.collection<ConversationDoc>(names.conversations),
    messages: db.collection<MessageDoc>(names.messages),
  };
};

const DUPLICATE_KEY = 11000;

/**
 * Replacements per bulkWrite command: a batch's conversations in one or two commands. (FerretDB,
 * the local server before ADR 0029, deadlocked above 25.)
 */
export const REPLACES_PER_COMMAND = 500;
/**
 * Conversation documents kept after writing them (about 0.5 KB each, a few times that in the
 * heap): a warm process reads only the conversations of a batch it has not written lately. At
 * 50,000 (when FerretDB scanned for every read) the projector's RSS neared 300 MB at the rate
 * SecantusDB allows; reads by `_id` are cheap now.
 */
const WRITTEN_DOCUMENTS = 10_000;
/** Documents per cursor batch while checksumming a generation (about 0.3 KB each). */
const CHECKSUM_BATCH = 1000;
const written = new WrittenDocuments<ConversationDoc>(WRITTEN_DOCUMENTS);

/** Inserts, treating "already there" (a replay) as done. */
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

/**
 * Messages first, then the conversations: a conversation's version guards a replay, so a crash
 * between the two must leave the conversation behind (its events applied again, the messages'
 * inserts then find their ids taken), never ahead of its messages.
 */
async function write(
  { conversations, messages }: ReturnType<typeof collections>,
  writes: ConversationWrites,
) {
  await insertAll(messages, writes.messageInserts);
  if (writes.messagesDeleted.length > 0) {
    // One equality filter per conversation, served by the (conversationId, seq) index.
    await messages.bulkWrite(
      writes.messagesDeleted.map((id) => ({ deleteMany: { filter: { conversationId: id } } })),
      { ordered: false },
    );
  }
  await insertAll(conversations, writes.conversationInserts);
  const replaces = writes.conversationReplaces.map(({ doc, loadedVersion }) => ({
    replaceOne: { filter: { _id: doc._id, version: loadedVersion }, replacement: doc },
  }));
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
    // Small cursor batches: the driver's default (up to 16 MB a batch, decoded at once) took a
    // rebuild of a million events from 236 to 350 MB resident in this step alone.
    const sorted = { sort: { _id: 1 }, batchSize: CHECKSUM_BATCH } as const;
    for await (const doc of conversations.find({}, sorted)) hash.update(JSON.stringify(doc));
    for await (const doc of messages.find({}, sorted)) hash.update(JSON.stringify(doc));
    return hash.digest('hex');
  },

  async apply(stores, g, events) {
    const { conversations, messages } = collections(stores, g);
    const cacheKey = (id: string) => `${conversations.collectionName}|${id}`;
    // A batch comes from one topic: the user events only erase.
    if (events.some(isIdentityEvent)) {
      const owners = events.flatMap((e) =>
        e.type === 'UserErased' ? [e.value.metadata.aggregateId] : [],
      );
      await stores.cipher.noteErased(owners);
      await eraseOwners({ conversations, messages }, owners, cacheKey);
      return;
    }
    const ids = [...new Set(events.map((e) => e.value.metadata.aggregateId))];
    // The documents and the decrypted content at the same time: two stores, one wait.
    const [loaded, opened] = await Promise.all([
      loadConversations(conversations, ids, cacheKey),
      openSealed(stores, events.map(contentSealedIn)),
    ]);
    const erased = await stores.cipher.erasedAmong(ownersOf(loaded, events));
    const content = batchContent(opened, erased);
    const folded = foldConversations(loaded, events, content);
    try {
      await write({ conversations, messages }, writesOf(loaded, folded));
    } catch (error) {
      written.forget(ids.map(cacheKey));
      throw error;
    }
    const { current } = folded;
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
