/**
 * Opaque cursors: base64url JSON of the keyset position of the last item served, tagged with the
 * route so a cursor of one list is refused by another. Clients never build them.
 */
import { InvalidCursor } from './errors.ts';

export function encodeCursor(kind: string, position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...position })).toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown>>(
  kind: string,
  cursor: string,
  valid: (position: Record<string, unknown>) => position is T,
): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursor();
  }
  if (!parsed || typeof parsed !== 'object') throw new InvalidCursor();
  const { k, ...position } = parsed as Record<string, unknown>;
  if (k !== kind || !valid(position)) throw new InvalidCursor();
  return position;
}
