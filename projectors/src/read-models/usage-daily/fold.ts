/**
 * The usage-daily read model's fold: messages, assistant replies and tokens per user per day
 * (UTC) from the chat events. Pure. Replies, and the tokens of the titles the assistant proposed,
 * count for the conversation's owner, whom the projection remembers from ConversationStarted
 * (`startedIn`, then the writer's owners table).
 */
import type { FieldSelection } from '@parley/schemas/serde/field-selection';
import type { ProjectedEvent } from '../../runtime/projection.ts';

const DAY_MS = 86_400_000;

/**
 * What the projection reads of the chat events: a rebuild skips the rest (the text and ciphertext
 * of every message and reply) as it decodes.
 */
export const usageReads = {
  metadata: ['aggregateId', 'aggregateVersion', 'occurredAt'],
  events: {
    ConversationStarted: ['ownerId'],
    UserMessagePosted: ['authorId'],
    AssistantReplyRecorded: ['promptTokens', 'completionTokens'],
    ConversationRenamed: ['promptTokens', 'completionTokens'],
  },
} as const satisfies FieldSelection;

export type UsageEvent = ProjectedEvent<typeof usageReads>;

/** One user's counts for one day: what the batch adds to the row. */
export interface UsageDay {
  userId: string;
  /** Days since 1970-01-01 (UTC). */
  day: number;
  messages: number;
  replies: number;
  promptTokens: number;
  completionTokens: number;
}

/** The owners of the conversations a batch starts, by conversation id. */
export function startedIn(events: readonly UsageEvent[]): Map<string, string> {
  const started = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'ConversationStarted') {
      started.set(e.value.metadata.aggregateId, e.value.ownerId);
    }
  }
  return started;
}

/** Whether an event costs its conversation's owner tokens: a reply, or a title the model gave. */
function costsTokens(
  e: UsageEvent,
): e is Extract<UsageEvent, { type: 'AssistantReplyRecorded' | 'ConversationRenamed' }> {
  if (e.type === 'AssistantReplyRecorded') return true;
  return e.type === 'ConversationRenamed' && e.value.promptTokens + e.value.completionTokens > 0;
}

/** The conversations whose token costs the batch counts but whose owners it does not know. */
export function ownersToLoad(
  events: readonly UsageEvent[],
  known: ReadonlyMap<string, string>,
): string[] {
  const unknown = new Set<string>();
  for (const e of events) {
    const id = e.value.metadata.aggregateId;
    if (costsTokens(e) && !known.has(id)) unknown.add(id);
  }
  return [...unknown];
}

/**
 * What a batch adds, per user and day, sorted by user then day: partitions applied concurrently
 * share a user's days, and locking rows in different orders deadlocked (each deadlock redoing a
 * whole batch). A reply or title whose conversation has no known owner counts for nobody.
 */
export function dailyUsage(
  events: readonly UsageEvent[],
  ownerOf: ReadonlyMap<string, string>,
): UsageDay[] {
  // Per user, per day number: no date formatting per event.
  const days = new Map<string, Map<number, UsageDay>>();
  const dayOf = (userId: string, occurredAt: number) => {
    const day = Math.floor(occurredAt / DAY_MS);
    let byDay = days.get(userId);
    if (!byDay) {
      byDay = new Map();
      days.set(userId, byDay);
    }
    let found = byDay.get(day);
    if (!found) {
      found = { userId, day, messages: 0, replies: 0, promptTokens: 0, completionTokens: 0 };
      byDay.set(day, found);
    }
    return found;
  };
  for (const e of events) {
    if (e.type === 'UserMessagePosted') {
      dayOf(e.value.authorId, e.value.metadata.occurredAt).messages += 1;
    } else if (costsTokens(e)) {
      const owner = ownerOf.get(e.value.metadata.aggregateId);
      if (!owner) continue;
      const d = dayOf(owner, e.value.metadata.occurredAt);
      if (e.type === 'AssistantReplyRecorded') d.replies += 1;
      d.promptTokens += e.value.promptTokens;
      d.completionTokens += e.value.completionTokens;
    }
  }
  return [...days.keys()]
    .sort()
    .flatMap((userId) => [...(days.get(userId)?.values() ?? [])].sort((a, b) => a.day - b.day));
}

/** A day number as the date PostgreSQL stores (YYYY-MM-DD, UTC). */
export const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
