import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { history, ids, MINUTE, sealedText, specFor, T0 } from '../spec.ts';
import { type FoldedUser, foldUsers } from './fold.ts';

const EMAIL = sealedText('alice@example.com');
const NAME = sealedText('Alice');
const RENAMED = sealedText('Alice B.');

const spec = specFor(foldUsers);
const rows = (...list: FoldedUser[]) => new Map(list.map((r) => [r.user_id, r]));

const registeredRow: FoldedUser = {
  user_id: ids.alice,
  email: EMAIL,
  display_name: NAME,
  role: 'user',
  status: 'active',
  locale: 'en-GB',
  created_at: new Date(T0),
  updated_at: new Date(T0),
  version: 1,
};

describe('users projection', () => {
  it('given no row, when a user registers, then a row with the sealed email and name', () => {
    const alice = history(ids.alice);
    spec
      .given(rows())
      .when(
        alice('UserRegistered', { email: EMAIL, displayName: NAME, role: 'user', locale: 'en-GB' }),
      )
      .thenWrites(rows(registeredRow));
  });

  it('folds a batch to the row it ends with: renamed twice, made admin, one write', () => {
    const alice = history(ids.alice, 1);
    spec
      .given(rows(registeredRow))
      .when(
        alice('UserProfileUpdated', { displayName: sealedText('A'), locale: null }),
        alice('UserProfileUpdated', { displayName: RENAMED, locale: 'pt-PT' }),
        alice('UserRoleChanged', { role: 'admin', previousRole: 'user' }),
      )
      .thenWrites(
        rows({
          ...registeredRow,
          display_name: RENAMED,
          locale: 'pt-PT',
          role: 'admin',
          updated_at: new Date(T0 + 3 * MINUTE),
          version: 4,
        }),
      );
  });

  it('keeps fields a profile update leaves null', () => {
    const alice = history(ids.alice, 1);
    const [row] = spec
      .given(rows(registeredRow))
      .when(alice('UserProfileUpdated', { displayName: null, locale: null }))
      .thenWrites(rows({ ...registeredRow, updated_at: new Date(T0 + MINUTE), version: 2 }))
      .values();
    assert.equal(row?.display_name, NAME);
  });

  it('given a deactivated then erased user, then no email, name or locale is left', () => {
    const alice = history(ids.alice, 1);
    spec
      .given(rows(registeredRow))
      .when(alice('UserDeactivated', { reason: 'asked' }), alice('UserErased', {}))
      .thenWrites(
        rows({
          ...registeredRow,
          email: null,
          display_name: null,
          locale: null,
          status: 'erased',
          updated_at: new Date(T0 + 2 * MINUTE),
          version: 3,
        }),
      );
  });

  it('writes nothing for events the row already reflects (a replayed batch)', () => {
    const alice = history(ids.alice);
    spec
      .given(rows(registeredRow))
      .when(
        alice('UserRegistered', { email: EMAIL, displayName: NAME, role: 'user', locale: null }),
      )
      .thenWrites(rows());
  });

  it('ignores events of a user it never saw registered, and chat events', () => {
    const bob = history(ids.bob, 3);
    const chat = history(ids.chat1);
    spec
      .given(rows())
      .when(
        bob('UserRoleChanged', { role: 'admin', previousRole: 'user' }),
        chat('ConversationStarted', { ownerId: ids.bob, title: 'x', encryptedTitle: null }),
      )
      .thenWrites(rows());
  });
});
