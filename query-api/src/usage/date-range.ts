/** A range of days (UTC, inclusive) from query parameters: last 30 days by default, at most a year. */
import { InvalidRange } from '../http/errors.ts';

export const MAX_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;

export function dateRange(
  query: { from?: string; to?: string },
  today: Date = new Date(),
): { from: string; to: string } {
  const to = query.to ?? today.toISOString().slice(0, 10);
  const from = query.from ?? new Date(Date.parse(to) - 29 * DAY_MS).toISOString().slice(0, 10);
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (Number.isNaN(start) || Number.isNaN(end)) throw new InvalidRange('from and to are dates');
  if (start > end) throw new InvalidRange('from is after to');
  if ((end - start) / DAY_MS + 1 > MAX_RANGE_DAYS) {
    throw new InvalidRange(`at most ${MAX_RANGE_DAYS} days at a time`);
  }
  return { from, to };
}
