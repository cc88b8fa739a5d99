/**
 * Accounts and refresh tokens in the identity store. Refresh tokens are random and stored only as
 * their SHA-256; each use spends the token and issues the next of its family, and presenting a
 * spent token again (a stolen copy, or a replay) revokes the whole family.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '@parley/platform/postgres';
import type { Role } from '@parley/schemas/generated/records';

type Queryable = Pool | PoolClient;

export interface Account {
  userId: string;
  email: string | null;
  passwordHash: string | null;
  role: Role;
  status: 'active' | 'deactivated' | 'erased';
}

interface AccountRow {
  user_id: string;
  email: string | null;
  password_hash: string | null;
  role: Role;
  status: Account['status'];
}

const toAccount = (r: AccountRow): Account => ({
  userId: r.user_id,
  email: r.email,
  passwordHash: r.password_hash,
  role: r.role,
  status: r.status,
});

/** Trimmed, NFC, lower-case: `Ann@Example.com ` and `ann@example.com` are one address. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

export class EmailTaken extends Error {}

const hashToken = (token: string) => createHash('sha256').update(token).digest();

export type Rotation =
  | { kind: 'rotated'; userId: string; refreshToken: string }
  | { kind: 'reused'; userId: string }
  | { kind: 'invalid' };

export class CredentialStore {
  constructor(
    private readonly pool: Pool,
    private readonly refreshTtlDays: number,
  ) {}

  /** Inserts the account; a live account with the same email (even one being created) refuses. */
  async createAccount(
    db: Queryable,
    account: { userId: string; email: string; passwordHash: string; role: Role },
  ): Promise<void> {
    try {
      await db.query(
        `insert into identity.accounts (user_id, email, password_hash, role, status)
         values ($1, $2, $3, $4, 'active')`,
        [account.userId, account.email, account.passwordHash, account.role],
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new EmailTaken();
      throw error;
    }
  }

  async byEmail(email: string): Promise<Account | undefined> {
    const { rows } = await this.pool.query<AccountRow>(
      `select * from identity.accounts where email = $1 and status <> 'erased'`,
      [normaliseEmail(email)],
    );
    return rows[0] && toAccount(rows[0]);
  }

  /** Users whose account stopped being active within the last `windowSeconds` (tokens refused). */
  async inactiveWithin(windowSeconds: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      `select user_id from identity.accounts
       where status <> 'active' and updated_at > now() - make_interval(secs => $1)`,
      [windowSeconds],
    );
    return rows.map((r) => r.user_id);
  }

  async byId(userId: string): Promise<Account | undefined> {
    const { rows } = await this.pool.query<AccountRow>(
      'select * from identity.accounts where user_id = $1',
      [userId],
    );
    return rows[0] && toAccount(rows[0]);
  }

  async setPassword(userId: string, passwordHash: string): Promise<void> {
    await this.pool.query(
      'update identity.accounts set password_hash = $2, updated_at = now() where user_id = $1',
      [userId, passwordHash],
    );
  }

  async setRole(userId: string, role: Role): Promise<void> {
    await this.pool.query(
      'update identity.accounts set role = $2, updated_at = now() where user_id = $1',
      [userId, role],
    );
  }

  async deactivate(userId: string): Promise<void> {
    await this.pool.query(
      `update identity.accounts set status = 'deactivated', updated_at = now()
       where user_id = $1 and status = 'active'`,
      [userId],
    );
    await this.revokeAll(userId);
  }

  /** Forgets the credentials and the email; the row stays as a tombstone. */
  async erase(db: Queryable, userId: string): Promise<void> {
    await db.query(
      `update identity.accounts
       set status = 'erased', email = null, password_hash = null, updated_at = now()
       where user_id = $1`,
      [userId],
    );
    await db.query(
      'update identity.refresh_tokens set revoked_at = now() where user_id = $1 and revoked_at is null',
      [userId],
    );
  }

  /** A new refresh token, starting a family unless one is given. */
  async issueRefreshToken(
    userId: string,
    familyId: string = randomUUID(),
    db: Queryable = this.pool,
  ) {
    const token = randomBytes(32).toString('base64url');
    await db.query(
      `insert into identity.refresh_tokens (token_hash, family_id, user_id, expires_at)
       values ($1, $2, $3, now() + make_interval(days => $4))`,
      [hashToken(token), familyId, userId, this.refreshTtlDays],
    );
    return token;
  }

  /**
   * Spends a refresh token and issues the next of its family, for an active account only.
   * A token spent before, or revoked, revokes its whole family.
   */
  async rotate(token: string): Promise<Rotation> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const { rows } = await client.query<{
        family_id: string;
        user_id: string;
        used_at: Date | null;
        revoked_at: Date | null;
        expired: boolean;
        status: Account['status'];
      }>(
        `select t.family_id, t.user_id, t.used_at, t.revoked_at, t.expires_at < now() as expired, a.status
         from identity.refresh_tokens t join identity.accounts a using (user_id)
         where t.token_hash = $1
         for update of t`,
        [hashToken(token)],
      );
      const row = rows[0];
      if (!row) {
        await client.query('rollback');
        return { kind: 'invalid' };
      }
      if (row.used_at || row.revoked_at) {
        await client.query(
          'update identity.refresh_tokens set revoked_at = coalesce(revoked_at, now()) where family_id = $1',
          [row.family_id],
        );
        await client.query('commit');
        return { kind: 'reused', userId: row.user_id };
      }
      if (row.expired || row.status !== 'active') {
        await client.query('rollback');
        return { kind: 'invalid' };
      }
      await client.query(
        'update identity.refresh_tokens set used_at = now() where token_hash = $1',
        [hashToken(token)],
      );
      const next = await this.issueRefreshToken(row.user_id, row.family_id, client);
      await client.query('commit');
      return { kind: 'rotated', userId: row.user_id, refreshToken: next };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** Logout: revokes the family of this token (this session on this device). */
  async revokeFamilyOf(token: string): Promise<void> {
    await this.pool.query(
      `update identity.refresh_tokens set revoked_at = coalesce(revoked_at, now())
       where family_id = (select family_id from identity.refresh_tokens where token_hash = $1)`,
      [hashToken(token)],
    );
  }

  /** Logout everywhere. */
  async revokeAll(userId: string): Promise<void> {
    await this.pool.query(
      'update identity.refresh_tokens set revoked_at = now() where user_id = $1 and revoked_at is null',
      [userId],
    );
  }
}
