/**
 * The identity store: the command side's own PostgreSQL schema for what must never be in the
 * event log: credentials, refresh tokens and the personal-data keys.
 */
import type { Migration } from '@parley/platform/migrate';

export const IDENTITY_SCHEMA = 'identity';

export const IDENTITY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, refresh tokens, data keys',
    sql: `
      create table identity.accounts (
        user_id uuid primary key,
        -- normalised; null once erased
        email text,
        -- scrypt$N$r$p$salt$hash; null once erased
        password_hash text,
        role text not null check (role in ('user', 'admin', 'analyst')),
        status text not null check (status in ('active', 'deactivated', 'erased')),
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      -- One live account per email; an erased account frees its address.
      create unique index accounts_email_live on identity.accounts (email) where status <> 'erased';

      create table identity.refresh_tokens (
        token_hash bytea primary key,
        family_id uuid not null,
        user_id uuid not null references identity.accounts (user_id),
        issued_at timestamptz not null default now(),
        expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz
      );
      create index refresh_tokens_family on identity.refresh_tokens (family_id);
      create index refresh_tokens_user on identity.refresh_tokens (user_id);

      create table identity.data_keys (
        key_id uuid primary key,
        user_id uuid not null unique,
        -- nonce || AES-256-GCM(master key, data key) || tag
        wrapped bytea not null,
        created_at timestamptz not null default now()
      );
    `,
  },
  {
    version: 2,
    name: 'accounts that stopped being active, by when (the tokens the APIs refuse)',
    sql: `
      create index accounts_inactive_since on identity.accounts (updated_at)
        where status <> 'active';
    `,
  },
  {
    version: 3,
    name: 'erased data keys leave a tombstone (who was erased, not only whose key is missing)',
    sql: `
      alter table identity.data_keys alter column wrapped drop not null;
      alter table identity.data_keys add column erased_at timestamptz;
      alter table identity.data_keys
        add constraint data_keys_erased_without_key check ((wrapped is null) = (erased_at is not null));
      -- People erased before: their rows were deleted; a tombstone says it now.
      insert into identity.data_keys (key_id, user_id, wrapped, erased_at)
        select gen_random_uuid(), user_id, null, updated_at from identity.accounts
        where status = 'erased'
        on conflict (user_id) do nothing;
    `,
  },
];
