/**
 * usage_daily -> PostgreSQL `read.usage_daily_g<n>`: messages, assistant replies and tokens per
 * user per day (UTC), from the chat events. Counters are not idempotent, so this projection relies
 * on the runner's transaction: the batch and its checkpoint commit together, exactly once.
 * Assistant replies are counted for the conversation's owner, remembered from ConversationStarted.
 */

import { physical, usageOwnersTable, usageTable } from '@parley/platform/read-model-names';
import { CONTEXTS } from '@parley/schemas/topics/catalogue';
import type { PostgresProjection } from '../../runtime/projection.ts';
import { RecentlyUsed } from '../../runtime/recently-used.ts';
import { dailyUsage, isoDay, ownersToLoad, startedIn, usageReads } from './fold.ts';

const chat = CONTEXTS.find((c) => c.name === 'chat');

/**
 * Conversation owners kept in memory (about 0.2 KB each): replies come soon after the messages
 * they answer, and looking up their owners was a third of a batch's time in a rebuild.
 */
const OWNERS_KEPT = 50_000;
const owners = new RecentlyUsed<string>(OWNERS_KEPT);

export const usageDailyProjection: PostgresProjection<typeof usageReads> = {
  name: 'usage-daily',
  store: 'postgres',
  reads: usageReads,
  // About 4,000 events a batch: half the transactions of 1 MB, a fifth faster in a rebuild.
  batchBytes: 2 * 1024 * 1024,
  topics: (names) => (chat ? [names.events(chat)] : []),

  async prepare({ pool }, g) {
    await pool.query(`
      create table if not exists ${usageTable(g)} (
        user_id uuid not null,
        day date not null,
        messages integer not null default 0,
        replies integer not null default 0,
        prompt_tokens bigint not null default 0,
        completion_tokens bigint not null default 0,
        primary key (user_id, day));
      create index if not exists ${physical(g, 'usage_daily')}_day on ${usageTable(g)} (day);
      create table if not exists ${usageOwnersTable(g)} (
        conversation_id uuid primary key,
        owner_id uuid not null);
    `);
  },

  async drop({ pool }, g) {
    await pool.query(
      `drop table if exists ${usageTable(g)}; drop table if exists ${usageOwnersTable(g)}`,
    );
  },

  async checksum({ pool }, g) {
    const { rows } = await pool.query<{ sum: string | null }>(
      `select md5(string_agg(t::text, '|' order by user_id, day)) as sum from ${usageTable(g)} t`,
    );
    return rows[0]?.sum ?? 'empty';
  },

  async apply(client, _stores, g, events) {
    const started = startedIn(events);
    if (started.size > 0) {
      await client.query(
        `insert into ${usageOwnersTable(g)} (conversation_id, owner_id)
         select * from unnest($1::uuid[], $2::uuid[]) on conflict do nothing`,
        [[...started.keys()], [...started.values()]],
      );
    }
    // An owner never changes: those this process has seen lately need no query.
    const key = (conversationId: string) => `${usageOwnersTable(g)}|${conversationId}`;
    for (const [conversationId, owner] of started) owners.remember(key(conversationId), owner);
    const ownerOf = new Map(started);
    const unknown = ownersToLoad(events, ownerOf).filter((conversationId) => {
      const owner = owners.get(key(conversationId));
      if (owner) ownerOf.set(conversationId, owner);
      return !owner;
    });
    if (unknown.length > 0) {
      const { rows } = await client.query<{ conversation_id: string; owner_id: string }>(
        `select conversation_id, owner_id from ${usageOwnersTable(g)} where conversation_id = any($1::uuid[])`,
        [unknown],
      );
      for (const r of rows) {
        ownerOf.set(r.conversation_id, r.owner_id);
        owners.remember(key(r.conversation_id), r.owner_id);
      }
    }
    const list = dailyUsage(events, ownerOf);
    if (list.length === 0) return;
    await client.query(
      `insert into ${usageTable(g)} as u (user_id, day, messages, replies, prompt_tokens, completion_tokens)
       select * from unnest($1::uuid[], $2::date[], $3::int[], $4::int[], $5::bigint[], $6::bigint[])
       on conflict (user_id, day) do update set
         messages = u.messages + excluded.messages,
         replies = u.replies + excluded.replies,
         prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
         completion_tokens = u.completion_tokens + excluded.completion_tokens`,
      [
        list.map((d) => d.userId),
        list.map((d) => isoDay(d.day)),
        list.map((d) => d.messages),
        list.map((d) => d.replies),
        list.map((d) => d.promptTokens),
        list.map((d) => d.completionTokens),
      ],
    );
  },
};
