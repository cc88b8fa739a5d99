/**
 * Locks an account's logins for a while after repeated failures (per account, whatever the IP),
 * counting in Redis under a hash of the email (no address in Redis). While Redis is down the
 * lockout is not enforced (logged); the per-IP rate limit and scrypt's cost still hold.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';

export class LoginLockout {
  constructor(
    private readonly redis: Redis,
    private readonly guard: Guard,
    private readonly log: Logger,
    private readonly options: { maxFailures: number; lockSeconds: number },
  ) {}

  private key(email: string) {
    return `parley:login-failures:${createHash('sha256').update(email).digest('base64url')}`;
  }

  /** Seconds until the account may try again; 0 when it may now. */
  async retryAfter(email: string): Promise<number> {
    try {
      const [count, ttl] = await this.guard(async () => {
        const key = this.key(email);
        const [c, t] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
        return [Number(c ?? 0), t] as const;
      });
      return count >= this.options.maxFailures ? Math.max(1, ttl) : 0;
    } catch (error) {
      this.log.warn({ err: error }, 'login lockout not checked: Redis down');
      return 0;
    }
  }

  async failed(email: string): Promise<void> {
    const key = this.key(email);
    await this.guard(() =>
      this.redis.multi().incr(key).expire(key, this.options.lockSeconds, 'NX').exec(),
    ).catch((error: unknown) => this.log.warn({ err: error }, 'login failure not counted'));
  }

  async succeeded(email: string): Promise<void> {
    await this.guard(() => this.redis.del(this.key(email))).catch(() => {});
  }
}
