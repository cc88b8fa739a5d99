/**
 * Usage per day in PostgreSQL (`read.usage_daily_g<n>`, the usage-daily projection): one user's
 * days, or every user's days added up (counts of users and sums only: nothing about a person).
 */

import { usageTable } from '@parley/platform/read-model-names';
import type { ReadModels } from '../dependencies.ts';

export interface UsageDay {
  day: string;
  messages: number;
  replies: number;
  promptTokens: number;
  completionTokens: number;
}

export interface AggregateDay extends UsageDay {
  activeUsers: number;
}

interface Row {
  day: string;
  messages: string | number;
  replies: string | number;
  prompt_tokens: string | number;
  completion_tokens: string | number;
  active_users?: string | number;
}

const toDay = (r: Row): UsageDay => ({
  day: r.day,
  messages: Number(r.messages),
  replies: Number(r.replies),
  promptTokens: Number(r.prompt_tokens),
  completionTokens: Number(r.completion_tokens),
});

export async function userUsage(
  reads: ReadModels,
  generation: number,
  userId: string,
  range: { from: string; to: string },
): Promise<UsageDay[]> {
  const { rows } = await reads.guards.postgres(() =>
    reads.pool.query<Row>(
      `select to_char(day, 'YYYY-MM-DD') as day, messages, replies, prompt_tokens, completion_tokens
       from ${usageTable({ namespace: reads.namespace, number: generation })}
       where user_id = $1 and day between $2::date and $3::date order by day`,
      [userId, range.from, range.to],
    ),
  );
  return rows.map(toDay);
}

export async function allUsage(
  reads: ReadModels,
  generation: number,
  range: { from: string; to: string },
): Promise<AggregateDay[]> {
  const { rows } = await reads.guards.postgres(() =>
    reads.pool.query<Row>(
      `select to_char(day, 'YYYY-MM-DD') as day, count(*) as active_users,
              sum(messages) as messages, sum(replies) as replies,
              sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens
       from ${usageTable({ namespace: reads.namespace, number: generation })}
       where day between $1::date and $2::date group by day order by day`,
      [range.from, range.to],
    ),
  );
  return rows.map((r) => ({ ...toDay(r), activeUsers: Number(r.active_users) }));
}

export function totals<T extends UsageDay>(days: readonly T[]) {
  return days.reduce(
    (sum, d) => ({
      messages: sum.messages + d.messages,
      replies: sum.replies + d.replies,
      promptTokens: sum.promptTokens + d.promptTokens,
      completionTokens: sum.completionTokens + d.completionTokens,
    }),
    { messages: 0, replies: 0, promptTokens: 0, completionTokens: 0 },
  );
}
