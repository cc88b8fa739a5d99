/**
 * What people write in a conversation (titles, messages) before it becomes a command: trimmed
 * and checked here, then encrypted under the owner's data key by the route (ADR 0023). The
 * decider never sees the text of a command sent since; it checks only commands sent before,
 * which carry it in plain text.
 */
import { RuleViolation } from '../shared/errors.ts';
import { MESSAGE_MAX_LENGTH, TITLE_MAX_LENGTH } from './conversation.ts';

/**
 * Characters as JSON Schema's `maxLength` counts them (code points), so a text the API's schema
 * takes is never refused here for its length: an emoji is one, not two UTF-16 units.
 */
export const characters = (text: string): number => [...text].length;

function valid(raw: string, what: string, max: number): string {
  const text = raw.trim();
  if (text.length === 0) throw new RuleViolation(`the ${what} must not be empty`);
  // Counted only past the limit in UTF-16 units: below it, the characters are fewer still.
  if (text.length > max && characters(text) > max) {
    throw new RuleViolation(`the ${what} must be at most ${max} characters`, {
      extensions: { maxLength: max },
    });
  }
  return text;
}

export const validTitle = (raw: string) => valid(raw, 'title', TITLE_MAX_LENGTH);
export const validMessage = (raw: string) => valid(raw, 'message', MESSAGE_MAX_LENGTH);
