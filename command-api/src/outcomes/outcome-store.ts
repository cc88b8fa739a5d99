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

/** Who sent a command answered 202, until its outcome is published (or a day has passed). */
export function pendingKey(commandId: string): string {
  return `parley:pending:${commandId}`;
}

/** Notes that a command was accepted (sent) but answered 202, so its sender may poll it. */
export async function notePending(redis: Redis, commandId: string, actor: string): Promise<void> {
  await redis.set(pendingKey(commandId), actor, 'EX', OUTCOME_TTL_SECONDS, 'NX');
}

/** A command's published outcome, or the sender of one still pending, in one round trip. */
export async function commandStatus(
  redis: Redis,
  commandId: string,
): Promise<{ outcome?: Outcome; pendingFor?: string }> {
  const [outcome, pendingFor] = await redis.mget(outcomeKey(commandId), pendingKey(commandId));
  return {
    ...(outcome ? { outcome: JSON.parse(outcome) as Outcome } : {}),
    ...(pendingFor ? { pendingFor } : {}),
  };
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

/**
 * Writes outcomes that may never have been published (a processor died between its commit and
 * the publish) without overwriting any that were, and announces only the ones it wrote.
 */
export async function republishOutcomes(
  redis: Redis,
  outcomes: readonly Outcome[],
): Promise<number> {
  if (outcomes.length === 0) return 0;
  const setting = redis.pipeline();
  for (const outcome of outcomes) {
    setting.set(
      outcomeKey(outcome.commandId),
      JSON.stringify(outcome),
      'EX',
      OUTCOME_TTL_SECONDS,
      'NX',
    );
  }
  const results = (await setting.exec()) ?? [];
  const written = outcomes.filter((_, i) => results[i]?.[1] === 'OK');
  if (written.length > 0) {
    const announcing = redis.pipeline();
    for (const outcome of written) announcing.publish(OUTCOME_CHANNEL, JSON.stringify(outcome));
    await announcing.exec();
  }
  return written.length;
}

/** The published outcomes of these commands, in one round trip. */
export async function readOutcomes(
  redis: Redis,
  commandIds: readonly string[],
): Promise<Map<string, Outcome>> {
  const found = new Map<string, Outcome>();
  if (commandIds.length === 0) return found;
  const values = await redis.mget(commandIds.map(outcomeKey));
  values.forEach((json, i) => {
    const id = commandIds[i];
    if (json && id) found.set(id, JSON.parse(json) as Outcome);
  });
  return found;
}

export async function readOutcome(redis: Redis, commandId: string): Promise<Outcome | undefined> {
  const json = await redis.get(outcomeKey(commandId));
  return json ? (JSON.parse(json) as Outcome) : undefined;
}
