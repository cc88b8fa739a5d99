/**
 * User commands over HTTP under /v1/users: profile, role (admins), deactivation and erasure.
 * Personal fields are encrypted under the user's data key before they become a command. Once a
 * command is accepted, the identity store follows: a role change changes the role in new tokens,
 * deactivation and erasure end every session, erasure deletes the data key (crypto-shredding).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DataKeyStore, PersonalDataCipher } from '@parley/platform/personal-data';
import type { Pool } from '@parley/platform/postgres';
import type { RevokedUsers } from '@parley/platform/revocations';
import { Type } from 'typebox';
import type { CredentialStore } from '../auth/credential-store.ts';
import type { LoginLockout } from '../auth/login-lockout.ts';
import { PASSWORD_MAX_LENGTH, verifyPassword } from '../auth/passwords.ts';
import { InvalidCredentials } from '../auth/routes.ts';
import type { CommandGateway, Submitted } from '../commands/command-gateway.ts';
import {
  answer,
  commandHeaders,
  commandMetadata,
  commandResponses,
  writeRateLimit,
} from '../commands/http.ts';
import { NotFound } from '../shared/errors.ts';
import { applyUserEvent } from './store-sync.ts';

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export interface IdentityRouteOptions {
  gateway: CommandGateway;
  pool: Pool;
  credentials: CredentialStore;
  cipher: PersonalDataCipher;
  dataKeys: DataKeyStore;
  revoked: RevokedUsers;
  /** Wrong passwords per user: erasing yourself checks your password. */
  lockout: LoginLockout;
  /** The per-user write budget a minute (WRITE_RATE_LIMIT_PER_MINUTE), shared with commands. */
  rateLimitPerMinute: number;
}

const accepted = (submitted: Submitted) =>
  submitted.kind === 'outcome' && submitted.outcome.status === 'accepted';

export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (
  app,
  { gateway, pool, credentials, cipher, dataKeys, revoked, lockout, rateLimitPerMinute },
) => {
  const config = writeRateLimit(rateLimitPerMinute);
  // What an accepted command changes in the identity store, applied at once (the store sync
  // applies it again from the event, which changes nothing).
  const store = { pool, credentials, dataKeys };
  app.addHook('onRequest', app.authenticate);

  app.put(
    '/v1/users/:id/role',
    {
      config,
      schema: {
        tags: ['users'],
        summary: 'Change a user’s role (admins only)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object(
          {
            role: Type.Union([
              Type.Literal('user'),
              Type.Literal('admin'),
              Type.Literal('analyst'),
            ]),
          },
          { additionalProperties: false },
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const submitted = await gateway.submit('ChangeUserRole', {
        metadata,
        role: request.body.role,
      });
      if (accepted(submitted)) {
        await applyUserEvent(store, 'UserRoleChanged', request.params.id, {
          role: request.body.role,
        });
      }
      return answer(reply, submitted, 200);
    },
  );

  app.post(
    '/v1/users/:id/deactivate',
    {
      config,
      schema: {
        tags: ['users'],
        summary: 'Deactivate an account (the user or an admin)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Optional(
          Type.Object(
            { reason: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const metadata = commandMetadata(request, request.params.id);
      const reason = request.body?.reason ?? null;
      const submitted = await gateway.submit('DeactivateUser', { metadata, reason });
      if (accepted(submitted)) {
        await applyUserEvent(store, 'UserDeactivated', request.params.id, {});
        revoked.add(request.params.id);
      }
      return answer(reply, submitted, 200);
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      config,
      schema: {
        tags: ['users'],
        summary: 'Update a profile (the user, or an admin)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object(
          {
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // Only a live account has a data key to encrypt under; anything else is not found.
      const account = await credentials.byId(id);
      if (!account || account.status === 'erased') throw new NotFound('no such user');
      const { displayName, locale } = request.body;
      const submitted = await gateway.submit('UpdateUserProfile', {
        metadata: commandMetadata(request, id),
        displayName: displayName === undefined ? null : await cipher.encrypt(id, displayName),
        locale: locale ?? null,
      });
      return answer(reply, submitted, 200);
    },
  );

  app.post(
    '/v1/users/:id/erase',
    {
      config,
      schema: {
        tags: ['users'],
        summary:
          'Erase an account and its personal data (the user with their password, or an admin)',
        headers: commandHeaders,
        params: idParams,
        body: Type.Object(
          {
            password: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
          },
          { additionalProperties: false },
        ),
        response: commandResponses(200),
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const self = request.user.userId === id;
      const admin = request.user.roles.includes('admin');
      if (!self && !admin) throw new NotFound('no such user');
      const account = await credentials.byId(id);
      if (!account || account.status === 'erased') throw new NotFound('no such user');
      if (self && !admin) {
        const { password: given } = request.body;
        const { passwordHash } = account;
        // A wrong password spends the user's own tries, as a wrong one at password change does.
        const ok =
          given && passwordHash
            ? await lockout.verify({ user: id }, () => verifyPassword(given, passwordHash))
            : false;
        if (!ok) throw new InvalidCredentials('Erasing your account needs your password');
      }
      const submitted = await gateway.submit('EraseUser', {
        metadata: commandMetadata(request, id),
      });
      if (accepted(submitted)) {
        await applyUserEvent(store, 'UserErased', id, {});
        revoked.add(id);
      }
      return answer(reply, submitted, 200);
    },
  );
};
