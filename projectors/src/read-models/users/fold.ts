/**
 * The users read model's fold: identity events over a user's row. Pure. Personal data stays
 * sealed while folding: only the values a batch ends with are decrypted by the writer (a person
 * renamed four times in a batch costs one decryption, not four).
 */
import type { UserRow } from '@parley/platform/read-models';
import type { EncryptedText } from '@parley/schemas/generated/records';
import type { ProjectedEvent, ProjectedIdentityEvent } from '../../runtime/projection.ts';
import { isIdentityEvent } from '../../runtime/projection.ts';

/** Personal data as folded: decrypted (read from the table) or still sealed (from an event). */
export type Personal = string | null | EncryptedText;
/** A row as folded: the email and name may still be sealed. */
export type FoldedUser = Omit<UserRow, 'email' | 'display_name'> & {
  email: Personal;
  display_name: Personal;
};

/** One event over the row; undefined while the user has not registered. */
export function evolveUser(
  row: FoldedUser | undefined,
  event: ProjectedIdentityEvent,
): FoldedUser | undefined {
  const { metadata } = event.value;
  const at = new Date(metadata.occurredAt);
  if (event.type === 'UserRegistered') {
    return {
      user_id: metadata.aggregateId,
      email: event.value.email,
      display_name: event.value.displayName,
      role: event.value.role,
      status: 'active',
      locale: event.value.locale,
      created_at: at,
      updated_at: at,
      version: metadata.aggregateVersion,
    };
  }
  if (!row) return undefined;
  const next = { ...row, updated_at: at, version: metadata.aggregateVersion };
  switch (event.type) {
    case 'UserProfileUpdated':
      return {
        ...next,
        display_name: event.value.displayName ?? row.display_name,
        locale: event.value.locale ?? row.locale,
      };
    case 'UserRoleChanged':
      return { ...next, role: event.value.role };
    case 'UserDeactivated':
      return { ...next, status: 'deactivated' };
    case 'UserErased':
      return { ...next, status: 'erased', email: null, display_name: null, locale: null };
  }
}

/**
 * A batch over the rows it touches (`current`, by user id): the rows it changed, as they end.
 * An event a row already reflects (its version) changes nothing, so a replayed batch writes nothing.
 */
export function foldUsers(
  current: ReadonlyMap<string, FoldedUser>,
  events: readonly ProjectedEvent[],
): Map<string, FoldedUser> {
  const rows = new Map(current);
  const changed = new Map<string, FoldedUser>();
  for (const event of events) {
    if (!isIdentityEvent(event)) continue;
    const id = event.value.metadata.aggregateId;
    const row = rows.get(id);
    if (row && event.value.metadata.aggregateVersion <= row.version) continue;
    const next = evolveUser(row, event);
    if (!next) continue;
    rows.set(id, next);
    changed.set(id, next);
  }
  return changed;
}
