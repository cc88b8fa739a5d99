/**
 * Daily quotas per user, by role, checked before a message is sent (so before any model call):
 * messages posted and tokens the assistant used today (UTC). Over either, posting answers 429
 * with the time the counts start again. Counts live in Redis (platform/src/usage-quotas.ts);
 * while Redis is out of reach the check is skipped (logged): the assistant cannot stream then
 * anyway, and refusing every message would be the larger outage.
 */
import { ROLES, type Role } from '@parley/platform/auth';
import { env } from '@parley/platform/config';
import { AppError } from '@parley/platform/errors';
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';
import { quotaResetAt, type UsedToday, usedToday } from '@parley/platform/usage-quotas';

const PER_ROLE = /^(user|admin|analyst)=\d{1,12}(,(user|admin|analyst)=\d{1,12})*$/;

export const quotaSettings = {
  /** Messages a user may post per UTC day, per role: `user=200,analyst=200,admin=2000`. */
  QUOTA_MESSAGES_PER_DAY: env.matching(PER_ROLE, 'role=count pairs, comma-separated', {
    default: 'user=200,analyst=200,admin=2000',
  }),
  /** Tokens (input and output) the assistant may use for a user per UTC day, per role. */
  QUOTA_TOKENS_PER_DAY: env.matching(PER_ROLE, 'role=count pairs, comma-separated', {
    default: 'user=200000,analyst=200000,admin=2000000',
  }),
};

export type Limits = Readonly<Record<Role, number>>;

/** `user=200,admin=2000` as limits; a role not named gets the lowest named. */
export function parseLimits(spec: string): Limits {
  const named = new Map(
    spec.split(',').map((pair) => {
      const [role, count] = pair.split('=');
      return [role as Role, Number(count)] as const;
    }),
  );
  const lowest = Math.min(...named.values());
  return Object.fromEntries(ROLES.map((r) => [r, named.get(r) ?? lowest])) as Limits;
}

export class QuotaExceeded extends AppError {
  constructor(what: 'messages' | 'tokens', limit: number, resetAt: Date) {
    super(
      'QUOTA_EXCEEDED',
      429,
      `Daily ${what} quota of ${limit} reached; it resets at ${resetAt.toISOString()}`,
      {
        extensions: {
          quota: what,
          limit,
          resetAt: resetAt.toISOString(),
          retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000)),
        },
      },
    );
  }
}

/** Whichever quota today's usage has reached, for a user with these roles (their highest). */
export function quotaReached(
  used: UsedToday,
  roles: readonly Role[],
  limits: { messages: Limits; tokens: Limits },
): { what: 'messages' | 'tokens'; limit: number } | undefined {
  const best = (l: Limits) => Math.max(...roles.map((r) => l[r]), 0);
  const messages = best(limits.messages);
  if (used.messages >= messages) return { what: 'messages', limit: messages };
  const tokens = best(limits.tokens);
  if (used.tokens >= tokens) return { what: 'tokens', limit: tokens };
  return undefined;
}

export class Quotas {
  constructor(
    private readonly redis: Redis,
    private readonly guard: Guard,
    private readonly limits: { messages: Limits; tokens: Limits },
    private readonly log: Logger,
  ) {}

  /** Refuses (429) a user over a daily quota; lets everyone through while Redis is away. */
  async check(userId: string, roles: readonly Role[], now = Date.now()): Promise<void> {
    if (this.guard.isOpen()) return;
    let used: UsedToday;
    try {
      used = await this.guard(() => usedToday(this.redis, userId, now));
    } catch (error) {
      this.log.warn({ err: error }, 'quota not checked: Redis out of reach');
      return;
    }
    const reached = quotaReached(used, roles, this.limits);
    if (reached) throw new QuotaExceeded(reached.what, reached.limit, quotaResetAt(now));
  }
}
