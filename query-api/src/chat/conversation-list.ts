/**
 * A page of the caller's conversations, most recent activity first, keyset-paged by
 * (last activity, id): a conversation that becomes active while a client pages moves to the top
 * and is never served twice. Read from the list view and the conversation views; a list that is
 * not complete (evicted, or never filled) is filled from MongoDB first; with Redis down, MongoDB
 * serves the page.
 */
import { AppError } from '@parley/platform/errors';
import { viewKeys } from '@parley/platform/read-model-names';
import { isGone } from '@parley/platform/read-models';
import type { ReadModels } from '../dependencies.ts';
import type { ReadSource } from '../http/read-reply.ts';
import type { ListEntry } from '../read-models/view-store.ts';
import {
  conversationDocs,
  conversationPage,
  type ListStatus,
  listEntries,
} from './conversations-source.ts';
import { isAfter, type ListItem, listItemFromDoc, listItemFromView } from './pages.ts';

export interface ListPage {
  items: ListItem[];
  next: ListEntry | undefined;
  source: ReadSource;
  degraded: boolean;
}

interface ListQuery {
  ownerId: string;
  status: ListStatus | undefined;
  after: ListEntry | undefined;
  limit: number;
}

export async function listConversations(reads: ReadModels, query: ListQuery): Promise<ListPage> {
  if (!reads.guards.redis.isOpen()) {
    try {
      return await fromViews(reads, query);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'VIEWS_UNAVAILABLE')) throw error;
    }
  }
  const generation = await reads.generations.of('conversations');
  const docs = await conversationPage(reads, generation, query);
  const page = docs.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(listItemFromDoc),
    next:
      docs.length > query.limit && last
        ? { id: last._id, score: last.lastActivityAt.getTime() }
        : undefined,
    source: 'mongodb',
    degraded: true,
  };
}

async function fromViews(reads: ReadModels, query: ListQuery): Promise<ListPage> {
  const generations = await reads.generations.current();
  const keys = viewKeys({ namespace: reads.namespace, number: generations.views });
  const listKey = keys.list(query.ownerId);
  const redis = reads.guards.redis;
  // One more than a page tells whether there is a next one; a status filter skips some, so it
  // reads more at a time.
  const chunk = query.status ? Math.max(query.limit * 2, 50) : query.limit + 1;
  const found: Array<{ entry: ListEntry; item: ListItem }> = [];
  let source: ReadSource = 'redis';
  let filled = false;
  let offset = 0;
  for (;;) {
    const { complete, entries } = await redis(() =>
      reads.store.readList(listKey, query.after?.score, offset, chunk),
    );
    if (!complete && !filled) {
      await fillList(reads, generations.conversations, query.ownerId, listKey);
      filled = true;
      offset = 0;
      continue;
    }
    const fresh = entries.filter((e) => !query.after || isAfter(e, query.after));
    const views = await redis(() =>
      reads.store.readConversationHeads(fresh.map((e) => keys.conversation(e.id))),
    );
    const missing = fresh.filter((_, i) => views[i] === undefined).map((e) => e.id);
    const docs = new Map(
      (await conversationDocs(reads, generations.conversations, missing)).map((d) => [d._id, d]),
    );
    if (missing.length > 0) source = 'mongodb';
    fresh.forEach((entry, i) => {
      const view = views[i];
      const doc = docs.get(entry.id);
      const item = view
        ? view.data && view.data.ownerId === query.ownerId
          ? listItemFromView(view.data, view.version)
          : undefined
        : doc && doc.ownerId === query.ownerId && !isGone(doc)
          ? listItemFromDoc(doc)
          : undefined;
      if (item && (!query.status || item.status === query.status)) found.push({ entry, item });
    });
    offset += entries.length;
    if (found.length > query.limit || entries.length < chunk) break;
  }
  const page = found.slice(0, query.limit);
  return {
    items: page.map((f) => f.item),
    next: found.length > query.limit ? page.at(-1)?.entry : undefined,
    source,
    degraded: false,
  };
}

/** One MongoDB read per list however many ask at once; the marker makes the list complete. */
async function fillList(reads: ReadModels, generation: number, ownerId: string, key: string) {
  await reads.flight.run(`list|${key}`, async () => {
    reads.metrics.databaseReads.inc({ store: 'mongodb', model: 'conversations' });
    reads.metrics.viewReads.inc({ model: 'conversations', outcome: 'miss' });
    const entries = await listEntries(reads, generation, ownerId);
    await reads.guards.redis(() => reads.store.fillList(key, entries, reads.viewFillTtlSeconds));
  });
}
