/**
 * Conversations and messages in MongoDB (`conversations_g<n>`, `messages_g<n>`, the conversations
 * projection): what the views are filled from, what lists are read from while Redis is down, and
 * where messages are paged (by `seq`, the conversation's version after the message: unique and
 * never reused, so pages stay stable while messages arrive).
 */

import { mongoCollections } from '@parley/platform/read-model-names';
import {
  type ConversationDoc,
  type ConversationView,
  isGone,
  LATEST_MESSAGES,
  type MessageDoc,
} from '@parley/platform/read-models';
import type { ReadModels } from '../dependencies.ts';
import type { DatabaseRead } from '../read-models/cache-aside.ts';
import { conversationViewOf, messagesComplete } from '../read-models/shapes.ts';
import type { ListEntry } from '../read-models/view-store.ts';

/** Most conversations a list fill takes; older ones are still paged from MongoDB. */
export const LIST_FILL_LIMIT = 2_000;

const collections = (reads: ReadModels, generation: number) => {
  const names = mongoCollections({ namespace: reads.namespace, number: generation });
  return {
    conversations: reads.db.collection<ConversationDoc>(names.conversations),
    messages: reads.db.collection<MessageDoc>(names.messages),
  };
};

export function conversationById(
  reads: ReadModels,
  generation: number,
  id: string,
): DatabaseRead<ConversationView> {
  return {
    store: 'mongodb',
    load: async () => {
      const { conversations, messages } = collections(reads, generation);
      const doc = await reads.guards.mongo(() => conversations.findOne({ _id: id }));
      if (!doc) return { view: undefined, fillable: false };
      const latest = isGone(doc)
        ? []
        : await reads.guards.mongo(() =>
            messages
              .find({ conversationId: id })
              .sort({ seq: -1 })
              .limit(LATEST_MESSAGES)
              .toArray(),
          );
      return { view: conversationViewOf(doc, latest), fillable: messagesComplete(doc, latest) };
    },
  };
}

export async function conversationDocs(
  reads: ReadModels,
  generation: number,
  ids: readonly string[],
): Promise<ConversationDoc[]> {
  if (ids.length === 0) return [];
  const { conversations } = collections(reads, generation);
  return reads.guards.mongo(() => conversations.find({ _id: { $in: [...ids] } }).toArray());
}

export type ListStatus = 'active' | 'archived';

/** A page of a user's conversations, most recent activity first; `limit + 1` tells of more. */
export async function conversationPage(
  reads: ReadModels,
  generation: number,
  options: { ownerId: string; status?: ListStatus; after?: ListEntry; limit: number },
): Promise<ConversationDoc[]> {
  const { conversations } = collections(reads, generation);
  const { ownerId, status, after, limit } = options;
  const filter: Record<string, unknown> = {
    ownerId,
    status: status ?? { $in: ['active', 'archived'] },
  };
  if (after) {
    const at = new Date(after.score);
    filter.$or = [{ lastActivityAt: { $lt: at } }, { lastActivityAt: at, _id: { $lt: after.id } }];
  }
  return reads.guards.mongo(() =>
    conversations
      .find(filter)
      .sort({ lastActivityAt: -1, _id: -1 })
      .limit(limit + 1)
      .toArray(),
  );
}

/** Every conversation of a user as list entries, to fill the list view. */
export async function listEntries(
  reads: ReadModels,
  generation: number,
  ownerId: string,
): Promise<ListEntry[]> {
  const { conversations } = collections(reads, generation);
  const docs = await reads.guards.mongo(() =>
    conversations
      .find(
        { ownerId, status: { $in: ['active', 'archived'] } },
        { projection: { _id: 1, lastActivityAt: 1 } },
      )
      .sort({ lastActivityAt: -1 })
      .limit(LIST_FILL_LIMIT)
      .toArray(),
  );
  return docs.map((d) => ({ id: d._id, score: d.lastActivityAt.getTime() }));
}

/** Messages of a conversation by seq: before a point, newest first, or after one, oldest first. */
export async function messagePage(
  reads: ReadModels,
  generation: number,
  conversationId: string,
  page: { before?: number; after?: number; limit: number },
): Promise<MessageDoc[]> {
  const { messages } = collections(reads, generation);
  const ascending = page.after !== undefined;
  const seq =
    page.after !== undefined
      ? { seq: { $gt: page.after } }
      : page.before !== undefined
        ? { seq: { $lt: page.before } }
        : {};
  return reads.guards.mongo(() =>
    messages
      .find({ conversationId, ...seq })
      .sort({ seq: ascending ? 1 : -1 })
      .limit(page.limit + 1)
      .toArray(),
  );
}
