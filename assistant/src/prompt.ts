/**
 * The prompt of a reply: the system prompt, then the conversation's earlier turns and the message
 * being answered, cut to a token budget by leaving out the oldest turns first. The message being
 * answered is always in it, whatever its size. Pure: the turns come from the assistant's own
 * memory of the conversation (memory.ts), built from the events, so they are there even when the
 * read models lag behind.
 */
import type { ModelMessage } from 'ai';

export interface Turn {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

/**
 * What a text costs in tokens, estimated (about 4 characters a token, plus a few for the
 * message's framing). Providers count exactly; a budget needs a bound, not the count.
 */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4) + 4;

export function buildPrompt(
  system: string,
  turns: readonly Turn[],
  budgetTokens: number,
): { system: string; messages: ModelMessage[]; leftOut: number } {
  const answered = turns.at(-1);
  if (!answered) return { system, messages: [], leftOut: 0 };
  let used = estimateTokens(system) + estimateTokens(answered.text);
  let first = turns.length - 1;
  while (first > 0) {
    const cost = estimateTokens(turns[first - 1]?.text ?? '');
    if (used + cost > budgetTokens) break;
    used += cost;
    first -= 1;
  }
  // A prompt starts with the user (providers refuse one that starts with the assistant).
  while (first < turns.length - 1 && turns[first]?.role === 'assistant') first += 1;
  const messages: ModelMessage[] = turns
    .slice(first)
    .map((t) => ({ role: t.role, content: t.text }) as ModelMessage);
  return { system, messages, leftOut: first };
}
