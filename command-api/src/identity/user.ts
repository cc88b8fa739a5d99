/**
 * The User aggregate: events (generated from the Avro schemas), state by status, and `evolve`.
 * Credentials never appear here (they live in the identity store); personal fields are encrypted
 * in the events and the state does not need them.
 */
import type { IdentityEventMap, Role } from '@parley/schemas/generated/records';
import type { Stamped } from '../shared/decider.ts';

export type UserEvent = Stamped<IdentityEventMap>;

export type UserState =
  | { readonly status: 'initial'; readonly version: 0 }
  | { readonly status: 'active'; readonly version: number; readonly role: Role }
  | { readonly status: 'deactivated'; readonly version: number; readonly role: Role }
  | { readonly status: 'erased'; readonly version: number };

export const initialUser: UserState = { status: 'initial', version: 0 };

export function evolveUser(state: UserState, event: UserEvent): UserState {
  const version = event.value.metadata.aggregateVersion;
  switch (event.type) {
    case 'UserRegistered':
      return { status: 'active', version, role: event.value.role };
    case 'UserErased':
      return { status: 'erased', version };
    case 'UserProfileUpdated':
    case 'UserRoleChanged':
    case 'UserDeactivated':
      break;
    default: {
      const unexpected: never = event;
      return unexpected;
    }
  }
  if (state.status !== 'active' && state.status !== 'deactivated') return state;
  if (event.type === 'UserRoleChanged') return { ...state, version, role: event.value.role };
  if (event.type === 'UserDeactivated') return { status: 'deactivated', version, role: state.role };
  return { ...state, version };
}
