/** One conversation, owner-checked: the view (cache-aside, read-your-writes) or 404. */

import { viewKeys } from '@parley/platform/read-model-names';
import type { ConversationView, Versioned } from '@parley/platform/read-models';
import { DependencyUnavailable } from '@parley/platform/resilience';
import { conversationLayout } from '@parley/platform/view-hashes';
import type { ReadModels } from '../dependencies.ts';
import { NotFound } from '../http/errors.ts';
import { readView, type WaitedView } from '../read-models/read-view.ts';
import { conversationById } from './conversations-source.ts';

export type OwnedConversation = WaitedView<ConversationView> & {
  view: Versioned<ConversationView> & { data: ConversationView };
};

export async function readOwnedConversation(
  reads: ReadModels,
  userId: string,
  id: string,
  minVersion: number | undefined,
): Promise<OwnedConversation> {
  const generations = await reads.generations.current();
  const read = await readView<ConversationView>(reads, {
    model: 'conversation',
    id,
    key: viewKeys({ namespace: reads.namespace, number: generations.views }).conversation(id),
    layout: conversationLayout,
    generation: generations.views,
    minVersion,
    database: conversationById(reads, generations.conversations, id),
  });
  // Asked for a version no store has yet while the views are out of reach: not a 404 (the
  // conversation exists, the client has its version) but a read to try again.
  if (!read.view && read.degraded && minVersion !== undefined) {
    throw new DependencyUnavailable(
      'VIEWS_UNAVAILABLE',
      'The conversation is not readable yet; try again',
      undefined,
      1,
    );
  }
  // Someone else's conversation is as unknown as a made-up id; a deleted one is gone.
  const data = read.view?.data;
  if (!read.view || !data || data.ownerId !== userId) throw new NotFound('no such conversation');
  return { ...read, view: { version: read.view.version, data } };
}
