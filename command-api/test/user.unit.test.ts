import { describe, it } from 'node:test';
import type { EncryptedText, IdentityEventMap } from '@parley/schemas/generated/records';
import { type UserCommand, userDecider } from '../src/identity/decide.ts';
import type { Draft } from '../src/shared/decider.ts';
import {
  AlreadyExists,
  Forbidden,
  NotFound,
  RuleViolation,
  VersionConflict,
} from '../src/shared/errors.ts';
import { ids, metadata, specFor } from './decider-spec.ts';

const spec = specFor(userDecider);
type Event = Draft<IdentityEventMap>;

const sealed = (text: string): EncryptedText => ({
  keyId: 'k1',
  nonce: Buffer.alloc(12, 1),
  ciphertext: Buffer.from(text),
});
// The aggregate is the owner's account.
const self = metadata({ aggregateId: ids.owner, actor: `user:${ids.owner}` });
const other = metadata({ aggregateId: ids.owner, actor: `user:${ids.other}` });
const admin = metadata({
  aggregateId: ids.owner,
  actor: `user:${ids.admin}`,
  actorRoles: ['admin'],
});

const registered: Event = {
  type: 'UserRegistered',
  value: {
    email: sealed('a@example.com'),
    displayName: sealed('Ana'),
    role: 'user',
    locale: 'pt-PT',
  },
};
const deactivated: Event = { type: 'UserDeactivated', value: { reason: null } };
const erased: Event = { type: 'UserErased', value: {} };

const register = (m = self, role: 'user' | 'admin' = 'user'): UserCommand => ({
  type: 'RegisterUser',
  value: {
    metadata: m,
    email: sealed('a@example.com'),
    displayName: sealed('Ana'),
    role,
    locale: 'pt-PT',
  },
});
const update = (m = self, displayName: EncryptedText | null = sealed('Ana B')): UserCommand => ({
  type: 'UpdateUserProfile',
  value: { metadata: m, displayName, locale: null },
});
const changeRole = (m = admin, role: 'user' | 'admin' | 'analyst' = 'analyst'): UserCommand => ({
  type: 'ChangeUserRole',
  value: { metadata: m, role },
});
const deactivate = (m = self): UserCommand => ({
  type: 'DeactivateUser',
  value: { metadata: m, reason: null },
});
const erase = (m = self): UserCommand => ({ type: 'EraseUser', value: { metadata: m } });

describe('RegisterUser', () => {
  it('registers a user, once', () => {
    spec.given([]).when(register()).thenEvents([registered]);
    spec.given([registered]).when(register()).thenThrows(AlreadyExists);
  });
  it('lets only admins create admins or analysts', () => {
    spec.given([]).when(register(self, 'admin')).thenThrows(Forbidden);
    spec
      .given([])
      .when(register(admin, 'admin'))
      .thenEvents([{ ...registered, value: { ...registered.value, role: 'admin' } } as Event]);
  });
});

describe('UpdateUserProfile', () => {
  it('updates one’s own profile; an empty update changes nothing', () => {
    spec
      .given([registered])
      .when(update())
      .thenEvents([
        { type: 'UserProfileUpdated', value: { displayName: sealed('Ana B'), locale: null } },
      ]);
    spec.given([registered]).when(update(self, null)).thenEvents([]);
  });
  it('hides other users’ accounts (404) but lets admins act', () => {
    spec.given([registered]).when(update(other)).thenThrows(NotFound);
    spec
      .given([registered])
      .when(update(admin))
      .thenEvents([
        { type: 'UserProfileUpdated', value: { displayName: sealed('Ana B'), locale: null } },
      ]);
  });
  it('refuses deactivated accounts and unknown ones', () => {
    spec
      .given([registered, deactivated])
      .when(update())
      .thenThrows(RuleViolation, /deactivated/);
    spec.given([]).when(update()).thenThrows(NotFound);
  });
});

describe('ChangeUserRole', () => {
  it('is for admins, records the previous role, and is a no-op for the same role', () => {
    spec
      .given([registered])
      .when(changeRole())
      .thenEvents([{ type: 'UserRoleChanged', value: { role: 'analyst', previousRole: 'user' } }]);
    spec.given([registered]).when(changeRole(admin, 'user')).thenEvents([]);
    spec.given([registered]).when(changeRole(self)).thenThrows(Forbidden);
  });
  it('does not let an admin change their own role', () => {
    const selfAdmin = metadata({
      aggregateId: ids.admin,
      actor: `user:${ids.admin}`,
      actorRoles: ['admin'],
    });
    spec
      .given([registered])
      .when(changeRole(selfAdmin, 'user'))
      .thenThrows(RuleViolation, /own role/);
  });
});

describe('DeactivateUser and EraseUser', () => {
  it('deactivates self or by admin, once', () => {
    spec.given([registered]).when(deactivate()).thenEvents([deactivated]);
    spec.given([registered]).when(deactivate(admin)).thenEvents([deactivated]);
    spec.given([registered, deactivated]).when(deactivate()).thenEvents([]);
    spec.given([registered]).when(deactivate(other)).thenThrows(NotFound);
  });
  it('erases an active or deactivated account; afterwards the user is gone', () => {
    spec.given([registered]).when(erase()).thenEvents([erased]);
    spec.given([registered, deactivated]).when(erase(admin)).thenEvents([erased]);
    spec.given([registered, erased]).when(erase()).thenThrows(NotFound);
    spec.given([registered, erased]).when(update()).thenThrows(NotFound);
    spec.given([registered]).when(erase(other)).thenThrows(NotFound);
  });
  it('honours If-Match', () => {
    spec
      .given([registered])
      .when(erase(metadata({ ...self, expectedVersion: 0 })))
      .thenThrows(VersionConflict);
  });
  it('checks who may see the account before its version: another user gets 404, never 409', () => {
    for (const expectedVersion of [0, 1, 7]) {
      const stranger = metadata({ ...other, expectedVersion });
      spec.given([registered]).when(erase(stranger)).thenThrows(NotFound);
      spec.given([registered]).when(deactivate(stranger)).thenThrows(NotFound);
      spec.given([registered]).when(update(stranger)).thenThrows(NotFound);
    }
  });
});
