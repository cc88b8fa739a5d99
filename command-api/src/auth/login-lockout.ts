/**
 * Locks an account's password checks for a while after repeated wrong passwords (per account,
 * whatever the IP or the token): logins, and the checks of a signed-in user (changing the password,
 * erasing the account), which count in the same budget, so a stolen access token cannot guess the
 * password faster than a login could. Counted in Redis under a hash of the email (no address in
 * Redis). While Redis is down the lockout is not enforced (logged); the rate limits and scrypt's
 * cost still hold.
 */
import { createHash } from 'node:crypto';
import { AppError } from '@parley/platform/errors';
import type { Logger } from '@parley/platform/logger';
import type { Redis } from '@parley/platform/redis';
import type { Guard } from '@parley/platform/resilience';

export class TooManyAttempts extends AppError {
  constructor(retryAfterSeconds: number) {
    super('TOO_MANY_ATTEMPTS', 429, 'Too many wrong passwords for this account; try again later', {
      extensions: { retryAfterSeconds },
    });
  }
}

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

  /**
   * Whether `check` found the password right, for the account of `email`: refused with
   * TooManyAttempts while the account is locked (nothing checked), a wrong one counted, a right one
   * clearing the count.
   */
  async verify(email: string, check: () => Promise<boolean>): Promise<boolean> {
    const wait = await this.retryAfter(email);
    if (wait > 0) throw new TooManyAttempts(wait);
    const ok = await check();
    await (ok ? this.succeeded(email) : this.failed(email));
    return ok;
  }
}
