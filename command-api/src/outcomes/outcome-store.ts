/**
 * Command outcomes in Redis: the processor writes each outcome under its command id (with a TTL,
 * for polling and late duplicates) and publishes it on one channel; API instances subscribe once
 * and hand each outcome to the request waiting for it.
 */
import type { Redis } from '@parley/platform/redis';
import type { Outcome } from './outcome.ts';

export const OUTCOME_CHANNEL = 'parley:outcomes';
export const OUTCOME_TTL_SECONDS = 24 * 60 * 60;

export function outcomeKey(commandId: string): string {
  return `parley:outcome:${commandId}`;
}

/** One round trip for the whole batch. */
export async function publishOutcomes(redis: Redis, outcomes: readonly Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const pipeline = redis.multi();
  for (const outcome of outcomes) {
    const json = JSON.stringify(outcome);
    pipeline.set(outcomeKey(outcome.commandId), json, 'EX', OUTCOME_TTL_SECONDS);
    pipeline.publish(OUTCOME_CHANNEL, json);
  }
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw failed?.[0] ?? new Error('outcome transaction discarded');
}

export async function readOutcome(redis: Redis, commandId: string): Promise<Outcome | undefined> {
  const json = await redis.get(outcomeKey(commandId));
  return json ? (JSON.parse(json) as Outcome) : undefined;
}
