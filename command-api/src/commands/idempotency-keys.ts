/**
 * Remembers, per command id (actor + Idempotency-Key), a fingerprint of the request that first
 * used the key, so the same key sent with another body is refused instead of silently answered
 * with the first outcome. Repeats are harmless either way: the processor answers a command id
 * once. The check needs Redis; while Redis is down it is skipped (logged), not a 503.
 */
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

export type Claim = 'first' | 'repeat' | 'reused' | 'unchecked';

export function idempotencyKey(commandId: string): string {
  return `parley:idempotency:${commandId}`;
}

export class IdempotencyKeys {
  constructor(
    private readonly redis: Redis,
    private readonly guard: Guard,
    private readonly log: Logger,
  ) {}

  async claim(commandId: string, fingerprint: string): Promise<Claim> {
    if (this.guard.isOpen()) return 'unchecked';
    try {
      // SET ... NX GET: stores the fingerprint if the key is new and returns the earlier one.
      const earlier = await this.guard(
        () =>
          this.redis.call(
            'SET',
            idempotencyKey(commandId),
            fingerprint,
            'NX',
            'GET',
            'EX',
            String(IDEMPOTENCY_TTL_SECONDS),
          ) as Promise<string | null>,
      );
      if (earlier === null) return 'first';
      return earlier === fingerprint ? 'repeat' : 'reused';
    } catch (error) {
      this.log.warn({ err: error, commandId }, 'idempotency fingerprint not checked: Redis down');
      return 'unchecked';
    }
  }
}
