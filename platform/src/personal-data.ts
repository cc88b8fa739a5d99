/**
 * Crypto-shredding of personal data. Each person's fields, and what they wrote, are encrypted
 * (AES-256-GCM) with a data key of their own; data keys are stored wrapped by a master key (from config, never in the
 * repo). Erasing a person deletes their data key, after which every copy of their data (in the
 * event log, in backups, in replays) is unreadable. Producers and consumers go through this one
 * helper; a field that can no longer be decrypted reads as undefined ("erased").
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { env } from './config.ts';

export const personalDataSettings = {
  /** 32 random bytes, base64: wraps every data key. Usually PII_MASTER_KEY_FILE. */
  PII_MASTER_KEY: env.secret(),
};

export interface EncryptedText {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export class MasterKeyError extends Error {}

export function parseMasterKey(base64: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) {
    throw new MasterKeyError(`PII_MASTER_KEY must be 32 bytes in base64, got ${key.length} bytes`);
  }
  return key;
}

const ALGORITHM = 'aes-256-gcm';
const TAG_BYTES = 16;

function seal(key: Buffer, plaintext: Buffer, aad: string) {
  const nonce = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, key, nonce).setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, ciphertext };
}

function open(key: Buffer, nonce: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv(ALGORITHM, key, nonce).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([
    decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
}

type Queryable = Pool | PoolClient;

/** Cached keys above which expired ones are dropped when more are loaded. */
const PRUNE_ABOVE = 10_000;

/** A person who was erased: nothing may be encrypted for them again. */
export class PersonErased extends Error {
  constructor(readonly userId: string) {
    super(`user ${userId} was erased: their data key is gone`);
    this.name = 'PersonErased';
  }
}

/**
 * Data keys in the identity store (`identity.data_keys`), wrapped by the master key. The table is
 * created by the identity migrations (command-api). Erasing a person deletes their key and leaves
 * a tombstone row (no key, `erased_at`), so readers can tell an erased person from one who never
 * had a key (text written in plain before content was encrypted, ADR 0023).
 */
export class DataKeyStore {
  private readonly cache = new Map<string, { key: Buffer; userId: string; until: number }>();
  /** Each person's key for encrypting, kept for as long as a key read by id. */
  private readonly byUser = new Map<string, { keyId: string; key: Buffer; until: number }>();
  /** Erasure is for good: once seen, it needs no query again. */
  private readonly erased = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly masterKey: Buffer,
    /** How long an unwrapped key is kept in memory; erasure is seen by other processes after it. */
    private readonly cacheMs = 60_000,
  ) {}

  /**
   * The person's data key, created on first use (inside the caller's transaction if given).
   * Refuses (PersonErased) for a person who was erased.
   */
  async keyFor(userId: string, db: Queryable = this.pool): Promise<{ keyId: string; key: Buffer }> {
    const known = this.byUser.get(userId);
    if (known && known.until > Date.now() && db === this.pool) return known;
    const select = () =>
      db.query<{ key_id: string; wrapped: Buffer | null }>(
        'select key_id, wrapped from identity.data_keys where user_id = $1',
        [userId],
      );
    let row = (await select()).rows[0];
    if (!row) {
      const keyId = randomUUID();
      const { nonce, ciphertext } = seal(this.masterKey, randomBytes(32), keyId);
      // Two first uses at once: one insert wins, both use its key.
      await db.query(
        `insert into identity.data_keys (key_id, user_id, wrapped) values ($1, $2, $3)
         on conflict (user_id) do nothing`,
        [keyId, userId, Buffer.concat([nonce, ciphertext])],
      );
      row = (await select()).rows[0];
    }
    if (!row?.wrapped) throw new PersonErased(userId);
    const found = { keyId: row.key_id, key: this.unwrap(row.key_id, row.wrapped) };
    this.byUser.set(userId, { ...found, until: Date.now() + this.cacheMs });
    return found;
  }

  /** A data key by id; undefined once its person was erased. */
  async keyById(keyId: string): Promise<Buffer | undefined> {
    const cached = this.cache.get(keyId);
    if (cached && cached.until > Date.now()) return cached.key;
    const { rows } = await this.pool.query<{ wrapped: Buffer | null; user_id: string }>(
      'select wrapped, user_id from identity.data_keys where key_id = $1',
      [keyId],
    );
    const row = rows[0];
    if (!row?.wrapped) {
      this.cache.delete(keyId);
      return undefined;
    }
    const key = this.unwrap(keyId, row.wrapped);
    this.cache.set(keyId, { key, userId: row.user_id, until: Date.now() + this.cacheMs });
    return key;
  }

  /** Loads the keys not yet in memory in one query (a batch's keys, before decrypting). */
  async preload(keyIds: readonly string[]): Promise<void> {
    const now = Date.now();
    const missing = [...new Set(keyIds)].filter((id) => (this.cache.get(id)?.until ?? 0) <= now);
    if (missing.length === 0) return;
    this.prune(now);
    const { rows } = await this.pool.query<{ key_id: string; wrapped: Buffer; user_id: string }>(
      `select key_id, wrapped, user_id from identity.data_keys
       where key_id = any($1::uuid[]) and wrapped is not null`,
      [missing],
    );
    for (const row of rows) {
      this.cache.set(row.key_id, {
        key: this.unwrap(row.key_id, row.wrapped),
        userId: row.user_id,
        until: now + this.cacheMs,
      });
    }
  }

  /**
   * Which of these people were erased, asked of the store (one query for those not known to be
   * erased yet): a key cached in memory does not hide an erasure another process made.
   */
  async erasedAmong(userIds: readonly string[]): Promise<Set<string>> {
    const unknown = [...new Set(userIds)].filter((id) => !this.erased.has(id));
    if (unknown.length > 0) {
      const { rows } = await this.pool.query<{ user_id: string }>(
        `select user_id from identity.data_keys
         where user_id = any($1::uuid[]) and erased_at is not null`,
        [unknown],
      );
      for (const row of rows) this.forget(row.user_id);
    }
    return new Set(userIds.filter((id) => this.erased.has(id)));
  }

  /**
   * What the log says (UserErased): these people are erased, whatever this process cached, and
   * the store says so too (their key tombstone, written if the erasure came only through the
   * log), so a process that starts later, or another one, knows it before it writes anything
   * of theirs it reads from older events.
   */
  async noteErased(userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.pool.query(
      `insert into identity.data_keys (key_id, user_id, wrapped, erased_at)
       select gen_random_uuid(), u, null, now() from unnest($1::uuid[]) as u
       on conflict (user_id) do update
         set wrapped = null, erased_at = coalesce(identity.data_keys.erased_at, now())`,
      [[...new Set(userIds)]],
    );
    for (const userId of userIds) this.forget(userId);
  }

  /** Crypto-shredding: deletes the person's data key, leaving a tombstone that says so. */
  async erase(userId: string, db: Queryable = this.pool): Promise<void> {
    await db.query(
      `insert into identity.data_keys (key_id, user_id, wrapped, erased_at)
       values ($1, $2, null, now())
       on conflict (user_id) do update
         set wrapped = null, erased_at = coalesce(identity.data_keys.erased_at, now())`,
      [randomUUID(), userId],
    );
    this.forget(userId);
  }

  /** Drops what this process holds of an erased person's key. */
  private forget(userId: string): void {
    this.erased.add(userId);
    this.byUser.delete(userId);
    for (const [keyId, entry] of this.cache) if (entry.userId === userId) this.cache.delete(keyId);
  }

  /**
   * The key in memory of its own: a 32-byte Buffer cut from Node's shared 8 KB pool keeps the
   * whole slab alive for as long as the key is cached, and a projector caches thousands.
   */
  private unwrap(keyId: string, wrapped: Buffer): Buffer {
    const key = open(this.masterKey, wrapped.subarray(0, 12), wrapped.subarray(12), keyId);
    const own = Buffer.allocUnsafeSlow(key.length);
    key.copy(own);
    return own;
  }

  /** Drops the keys whose time in memory is over, so the cache holds only recent ones. */
  private prune(now: number) {
    if (this.cache.size < PRUNE_ABOVE) return;
    for (const [keyId, entry] of this.cache) if (entry.until <= now) this.cache.delete(keyId);
    for (const [userId, entry] of this.byUser) if (entry.until <= now) this.byUser.delete(userId);
  }
}

export class PersonalDataCipher {
  constructor(private readonly keys: DataKeyStore) {}

  async encrypt(userId: string, text: string, db?: Queryable): Promise<EncryptedText> {
    const { keyId, key } = await this.keys.keyFor(userId, db);
    return { keyId, ...seal(key, Buffer.from(text, 'utf8'), keyId) };
  }

  /** Deletes the person's key: everything encrypted with it becomes unreadable for good. */
  async erase(userId: string, db?: Queryable): Promise<void> {
    await this.keys.erase(userId, db);
  }

  /** Fetches, in one round trip, the keys these values need. */
  async prepare(values: readonly unknown[]): Promise<void> {
    const ids = values.flatMap((v) =>
      v && typeof v === 'object' && 'keyId' in v ? [String((v as EncryptedText).keyId)] : [],
    );
    await this.keys.preload(ids);
  }

  /** The log said these people were erased (UserErased): none of their keys is used again. */
  noteErased(userIds: readonly string[]): Promise<void> {
    return this.keys.noteErased(userIds);
  }

  /** Which of these people were erased (their content must not be written anywhere). */
  erasedAmong(userIds: readonly string[]): Promise<Set<string>> {
    return this.keys.erasedAmong(userIds);
  }

  /** The text, or undefined when its person was erased (the key is gone). */
  async decrypt(value: EncryptedText): Promise<string | undefined> {
    const key = await this.keys.keyById(value.keyId);
    if (!key) return undefined;
    return open(key, value.nonce, value.ciphertext, value.keyId).toString('utf8');
  }
}
