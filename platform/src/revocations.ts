/**
 * Access tokens of accounts that were deactivated or erased are refused within seconds, not when
 * they expire. Each API keeps in memory the users whose account stopped being active within the
 * longest lifetime a token may have (JWT_MAX_LIFETIME_SECONDS, which the token check enforces):
 * any token issued before that stop expires within the window, so nothing older is needed. The
 * set is read again every REVOCATION_POLL_MS from the service's own store (command-api: its
 * identity store; query-api: the users read model), so no request waits on a store. While the
 * store is out of reach the last set known is kept, and the failure is logged.
 */
import { env } from './config.ts';
import type { Logger } from './logger.ts';
import { Gauge, type Registry } from './metrics.ts';

export const revocationSettings = {
  /** How often the accounts that stopped being active are read again. */
  REVOCATION_POLL_MS: env.int(200, 60_000, { default: 1_000 }),
};

/** Users whose account stopped being active within the window, as the store has them now. */
export type RevokedSource = (windowSeconds: number) => Promise<readonly string[]>;

export interface RevokedUsersOptions {
  source: RevokedSource;
  /** The longest lifetime of an access token (seconds): older stops need no entry. */
  windowSeconds: number;
  pollMs: number;
  log: Logger;
  metrics?: Registry;
}

export class RevokedUsers {
  private revoked = new Set<string>();
  /** Added by this process (its own routes saw the stop first), until the store has them too. */
  private readonly added = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private readonly size: Gauge | undefined;

  constructor(private readonly options: RevokedUsersOptions) {
    this.size = options.metrics
      ? new Gauge({
          name: 'auth_revoked_users',
          help: 'Users whose tokens are refused (account deactivated or erased within the longest token lifetime)',
          registers: [options.metrics],
        })
      : undefined;
  }

  has(userId: string): boolean {
    return this.revoked.has(userId) || this.added.has(userId);
  }

  /** Refuses a user's tokens at once in this process (the store will say so on the next read). */
  add(userId: string): void {
    this.added.set(userId, Date.now());
  }

  async refresh(): Promise<void> {
    try {
      const found = new Set(await this.options.source(this.options.windowSeconds));
      const oldest = Date.now() - this.options.windowSeconds * 1000;
      for (const [userId, at] of this.added) {
        if (found.has(userId) || at < oldest) this.added.delete(userId);
      }
      this.revoked = found;
      this.size?.set(found.size + this.added.size);
      if (this.failing) this.options.log.info('revoked users read again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        this.options.log.warn({ err: error }, 'revoked users not read; keeping the last set');
      }
      this.failing = true;
    }
  }

  /** Reads the set now and then every pollMs, until stopped. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
