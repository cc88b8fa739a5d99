/**
 * Locks an account's password checks for a while after repeated wrong passwords, whatever the IP:
 * logins by the email's count, and the checks of a signed-in user (changing the password, erasing
 * the account) by that user's own count, so a stolen access token gets no more guesses than a
 * login, and a stranger's failed logins do not stop the owner from changing the password. A try
 * is taken before the password is checked (one atomic step), so guesses sent together cannot all
 * pass a count read before any of them failed. Counted in Redis (the email only as a hash). While
 * Redis is down the lockout is not enforced (logged); the rate limits and scrypt's cost still hold.
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

/** Whose tries a password check spends: a login's (by email), or a signed-in user's own. */
export type PasswordTries = { login: string } | { user: string };

export class LoginLockout {
  constructor(
    private readonly redis: Redis,
    private readonly guard: Guard,
    private readonly log: Logger,
    private readonly options: { maxFailures: number; lockSeconds: number },
  ) {}

  private key(tries: PasswordTries) {
    return 'login' in tries
      ? `parley:login-failures:${createHash('sha256').update(tries.login).digest('base64url')}`
      : `parley:password-failures:${tries.user}`;
  }

  /** Counts one more try; its number and the seconds left of the count, or none if Redis is down. */
  private async take(key: string): Promise<{ tries: number; seconds: number } | undefined> {
    try {
      const replies = await this.guard(() =>
        this.redis.multi().incr(key).expire(key, this.options.lockSeconds, 'NX').ttl(key).exec(),
      );
      const [[incrError, tries] = [], , [ttlError, seconds] = []] = replies ?? [];
      if (incrError || ttlError) throw incrError ?? ttlError;
      return { tries: Number(tries), seconds: Number(seconds) };
    } catch (error) {
      this.log.warn({ err: error }, 'password lockout not checked: Redis down');
      return undefined;
    }
  }

  /**
   * Whether `check` found the password right: one try taken first, and refused with
   * TooManyAttempts (nothing checked) past the allowed number; a right password gives the tries
   * back.
   */
  async verify(tries: PasswordTries, check: () => Promise<boolean>): Promise<boolean> {
    const key = this.key(tries);
    const taken = await this.take(key);
    if (taken && taken.tries > this.options.maxFailures) {
      throw new TooManyAttempts(Math.max(1, taken.seconds));
    }
    const ok = await check();
    if (ok) await this.guard(() => this.redis.del(key)).catch(() => undefined);
    return ok;
  }
}
