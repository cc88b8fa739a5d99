/**
 * User commands: one pure function per command and a `decide` switch. A user acts on their own
 * account; admins on any. Anyone else is told the user does not exist (404).
 */
import type {
  CommandMetadata,
  IdentityCommandMap,
  IdentityEventMap,
} from '@parley/schemas/generated/records';
import {
  actorIsAdmin,
  actorUserId,
  type Decider,
  type Draft,
  type Envelope,
} from '../shared/decider.ts';
import { AlreadyExists, Forbidden, NotFound, RuleViolation } from '../shared/errors.ts';
import { evolveUser, initialUser, type UserState } from './user.ts';

export type UserCommand = Envelope<IdentityCommandMap>;
type Drafts = Array<Draft<IdentityEventMap>>;
type Of<K extends keyof IdentityCommandMap> = IdentityCommandMap[K];
type Known = Extract<UserState, { status: 'active' | 'deactivated' }>;

/** The account if it exists (not erased) and the actor is its user or an admin. */
function accessible(state: UserState, metadata: CommandMetadata): Known {
  if (state.status === 'initial' || state.status === 'erased') throw new NotFound('no such user');
  const self = actorUserId(metadata) === metadata.aggregateId;
  if (!self && !actorIsAdmin(metadata)) throw new NotFound('no such user');
  return state;
}

function active(state: Known): Extract<UserState, { status: 'active' }> {
  if (state.status !== 'active') throw new RuleViolation('the account is deactivated');
  return state;
}

function register(command: Of<'RegisterUser'>, state: UserState): Drafts {
  if (state.status !== 'initial') throw new AlreadyExists('the user already exists');
  // Only an admin can create an account with more than the user role.
  if (command.role !== 'user' && !actorIsAdmin(command.metadata)) {
    throw new Forbidden('only admins give the admin or analyst role');
  }
  const { metadata: _, ...profile } = command;
  return [{ type: 'UserRegistered', value: profile }];
}

function updateProfile(command: Of<'UpdateUserProfile'>, state: UserState): Drafts {
  active(accessible(state, command.metadata));
  if (command.displayName === null && command.locale === null) return [];
  return [
    {
      type: 'UserProfileUpdated',
      value: { displayName: command.displayName, locale: command.locale },
    },
  ];
}

function changeRole(command: Of<'ChangeUserRole'>, state: UserState): Drafts {
  const user = active(accessible(state, command.metadata));
  if (!actorIsAdmin(command.metadata)) throw new Forbidden('only admins change roles');
  if (actorUserId(command.metadata) === command.metadata.aggregateId) {
    throw new RuleViolation('admins cannot change their own role');
  }
  if (user.role === command.role) return [];
  return [{ type: 'UserRoleChanged', value: { role: command.role, previousRole: user.role } }];
}

function deactivate(command: Of<'DeactivateUser'>, state: UserState): Drafts {
  const user = accessible(state, command.metadata);
  return user.status === 'deactivated'
    ? []
    : [{ type: 'UserDeactivated', value: { reason: command.reason } }];
}

function erase(command: Of<'EraseUser'>, state: UserState): Drafts {
  accessible(state, command.metadata);
  return [{ type: 'UserErased', value: {} }];
}

export function decideUser(command: UserCommand, state: UserState): Drafts {
  switch (command.type) {
    case 'RegisterUser':
      return register(command.value, state);
    case 'UpdateUserProfile':
      return updateProfile(command.value, state);
    case 'ChangeUserRole':
      return changeRole(command.value, state);
    case 'DeactivateUser':
      return deactivate(command.value, state);
    case 'EraseUser':
      return erase(command.value, state);
    default: {
      const unknown: never = command;
      throw new RuleViolation(`unknown command ${(unknown as { type: string }).type}`);
    }
  }
}

export const userDecider: Decider<IdentityCommandMap, IdentityEventMap, UserState> = {
  initialState: initialUser,
  decide: decideUser,
  evolve: evolveUser,
};
