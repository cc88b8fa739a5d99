/**
 * What each user used today (UTC), for the daily quotas checked before a message reaches the
 * assistant: messages counted by the command API when one is accepted, tokens by the assistant
 * reactor when it records a reply. Both count once per command id, so a retry or a redelivery
 * counts nothing more. Kept in Redis under `parley:usage:<userId>:<day>` for two days.
 */
import type { Redis } from 'ioredis';

const KEEP_SECONDS = 2 * 86_400;

export interface UsedToday {
  messages: number;
  tokens: number;
}

/** The UTC day of a time, as `YYYY-MM-DD`. */
export const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10);

/** When today's counts start again: the next UTC midnight. */
export function quotaResetAt(at: number): Date {
  const next = new Date(at);
  next.setUTCHours(24, 0, 0, 0);
  return next;
}

const usageKey = (userId: string, at: number) => `parley:usage:${userId}:${dayOf(at)}`;
const countedKey = (commandId: string, field: string) =>
  `parley:usage:counted:${field}:${commandId}`;

/** KEYS[1] the day's hash, KEYS[2] the command's marker; ARGV field, amount, seconds kept. */
const COUNT_ONCE = `
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;

async function countOnce(
  redis: Redis,
  userId: string,
  commandId: string,
  field: keyof UsedToday,
  amount: number,
  at: number,
): Promise<boolean> {
  const done = await redis.eval(
    COUNT_ONCE,
    2,
    usageKey(userId, at),
    countedKey(commandId, field),
    field,
    String(Math.max(0, Math.round(amount))),
    String(KEEP_SECONDS),
  );
  return done === 1;
}

export const countMessage = (redis: Redis, userId: string, commandId: string, at = Date.now()) =>
  countOnce(redis, userId, commandId, 'messages', 1, at);

export const countTokens = (
  redis: Redis,
  userId: string,
  commandId: string,
  tokens: number,
  at = Date.now(),
) => countOnce(redis, userId, commandId, 'tokens', tokens, at);

export async function usedToday(redis: Redis, userId: string, at = Date.now()): Promise<UsedToday> {
  const [messages, tokens] = await redis.hmget(usageKey(userId, at), 'messages', 'tokens');
  return { messages: Number(messages ?? 0), tokens: Number(tokens ?? 0) };
}
