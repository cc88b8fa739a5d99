/**
 * Sessions over HTTP, under /v1/auth: register, login, refresh, logout, logout-all and password
 * change. Credentials live in the identity store, never in the event log; registration appends
 * RegisterUser with the email and display name encrypted under the new user's data key.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { defineError } from '@parley/platform/errors';
import type { OpenApiLink } from '@parley/platform/openapi';
import type { PersonalDataCipher } from '@parley/platform/personal-data';
import type { Pool } from '@parley/platform/postgres';
import { noContent, problems } from '@parley/platform/problem-responses';
import { perUserRateLimit } from '@parley/platform/user-rate-limit';
import { Type } from 'typebox';
import type { CommandGateway } from '../commands/command-gateway.ts';
import { answer, commandMetadata, writeRateLimit } from '../commands/http.ts';
import type { AccessTokenIssuer } from './access-tokens.ts';
import {
  type Account,
  type CredentialStore,
  EmailTaken,
  normaliseEmail,
} from './credential-store.ts';
import type { LoginLockout } from './login-lockout.ts';
import {
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  spendVerificationTime,
  verifyPassword,
} from './passwords.ts';

export const InvalidCredentials = defineError(
  'INVALID_CREDENTIALS',
  401,
  'The email or the password is wrong',
);
export const EmailInUse = defineError(
  'EMAIL_IN_USE',
  409,
  'An account with this email already exists',
);
export const InvalidRefreshToken = defineError(
  'INVALID_REFRESH_TOKEN',
  401,
  'The refresh token is not valid; log in again',
);
export const RefreshTokenReused = defineError(
  'REFRESH_TOKEN_REUSED',
  401,
  'This refresh token was already used; every session of its family is revoked, log in again',
);

export interface AuthOptions {
  pool: Pool;
  gateway: CommandGateway;
  credentials: CredentialStore;
  cipher: PersonalDataCipher;
  tokens: AccessTokenIssuer;
  lockout: LoginLockout;
  /** Requests per minute per IP on register, login, refresh and logout; per user on password change. */
  rateLimitPerMinute: number;
  /** The per-user write budget a minute, spent by logout-all as by commands. */
  writeRateLimitPerMinute: number;
}

const email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
const password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
const refreshToken = Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const session = Type.Object({
  userId: Type.String({ format: 'uuid' }),
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds the access token is valid' }),
});

/** What the document links: a registered user's id to what an admin can do with it. */
export const authLinks: OpenApiLink[] = [
  {
    from: 'POST /v1/auth/register',
    status: '201',
    to: [
      'PATCH /v1/users/{id}',
      'PUT /v1/users/{id}/role',
      'POST /v1/users/{id}/deactivate',
      'POST /v1/users/{id}/erase',
    ],
    parameters: { id: '$response.body#/userId' },
  },
];

export const authRoutes: FastifyPluginAsyncTypebox<AuthOptions> = async (app, options) => {
  const { credentials, tokens, lockout } = options;
  const limited = { rateLimit: { max: options.rateLimitPerMinute, timeWindow: 60_000 } };

  const sessionFor = async (userId: string, role: Parameters<AccessTokenIssuer['issue']>[1]) => ({
    userId,
    accessToken: tokens.issue(userId, role),
    refreshToken: await credentials.issueRefreshToken(userId),
    tokenType: 'Bearer' as const,
    expiresIn: tokens.ttlSeconds,
  });

  app.post(
    '/v1/auth/register',
    {
      config: limited,
      schema: {
        tags: ['auth'],
        summary: 'Create an account and log in',
        security: [],
        body: Type.Object(
          {
            email,
            password,
            displayName: Type.String({ minLength: 1, maxLength: 100 }),
            locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          ...problems(409),
          201: Type.Intersect([
            session,
            Type.Object({
              version: Type.Integer(),
              position: Type.Union([Type.String(), Type.Null()]),
            }),
          ]),
        },
      },
    },
    async (request, reply) => {
      const userId = randomUUID();
      const address = normaliseEmail(request.body.email);
      const passwordHash = await hashPassword(request.body.password);
      // The data key commits on its own, before the command is sent: a projector reading the
      // event must find the key, or it would take the new person for an erased one.
      const encryptedEmail = await options.cipher.encrypt(userId, address);
      const encryptedName = await options.cipher.encrypt(userId, request.body.displayName);
      let registered = false;
      const client = await options.pool.connect();
      try {
        await client.query('begin');
        // A concurrent registration of the same address waits here on the unique index, then
        // fails once this one commits: one account per address.
        await credentials.createAccount(client, {
          userId,
          email: address,
          passwordHash,
          role: 'user',
        });
        const self = { id: request.id, user: { userId, roles: ['user'] as const }, headers: {} };
        const submitted = await options.gateway.submit('RegisterUser', {
          metadata: commandMetadata(self, userId),
          email: encryptedEmail,
          displayName: encryptedName,
          role: 'user',
          locale: request.body.locale ?? null,
        });
        if (submitted.kind === 'outcome' && submitted.outcome.status === 'rejected') {
          await client.query('rollback');
          return answer(reply, submitted, 201);
        }
        await client.query('commit');
        registered = true;
        const outcome = submitted.kind === 'outcome' ? submitted.outcome : undefined;
        return reply
          .status(201)
          .header('location', `/v1/users/${userId}`)
          .send({
            ...(await sessionFor(userId, 'user')),
            version: outcome?.status === 'accepted' ? outcome.version : 1,
            position: outcome?.status === 'accepted' ? outcome.position : null,
          });
      } catch (error) {
        await client.query('rollback').catch(() => {});
        if (error instanceof EmailTaken) throw new EmailInUse();
        throw error;
      } finally {
        client.release();
        // No account: the key of the person that never was goes too.
        if (!registered) await options.cipher.erase(userId).catch(() => {});
      }
    },
  );

  app.post(
    '/v1/auth/login',
    {
      config: limited,
      schema: {
        tags: ['auth'],
        summary: 'Log in with email and password',
        security: [],
        body: Type.Object(
          { email, password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }) },
          { additionalProperties: false },
        ),
        response: { 200: session, ...problems(401, 429) },
      },
    },
    async (request) => {
      const address = normaliseEmail(request.body.email);
      const found: { account?: Account } = {};
      // An unknown or closed account costs the same time as a wrong password, and counts as one.
      const ok = await lockout.verify({ login: address }, async () => {
        found.account = await credentials.byEmail(address);
        const live = found.account?.status === 'active' ? found.account.passwordHash : null;
        return live
          ? verifyPassword(request.body.password, live)
          : spendVerificationTime(request.body.password);
      });
      const { account } = found;
      if (!ok || !account) throw new InvalidCredentials();
      return sessionFor(account.userId, account.role);
    },
  );

  app.post(
    '/v1/auth/refresh',
    {
      config: limited,
      schema: {
        tags: ['auth'],
        summary: 'Trade a refresh token for a new pair (the old one is spent)',
        security: [],
        body: Type.Object({ refreshToken }, { additionalProperties: false }),
        response: { 200: session, ...problems(401) },
      },
    },
    async (request) => {
      const rotation = await credentials.rotate(request.body.refreshToken);
      if (rotation.kind === 'reused') {
        request.log.warn({ userId: rotation.userId }, 'refresh token reused; family revoked');
        throw new RefreshTokenReused();
      }
      const account = rotation.kind === 'rotated' && (await credentials.byId(rotation.userId));
      if (rotation.kind !== 'rotated' || !account) throw new InvalidRefreshToken();
      return {
        userId: account.userId,
        accessToken: tokens.issue(account.userId, account.role),
        refreshToken: rotation.refreshToken,
        tokenType: 'Bearer' as const,
        expiresIn: tokens.ttlSeconds,
      };
    },
  );

  app.post(
    '/v1/auth/logout',
    {
      config: limited,
      schema: {
        tags: ['auth'],
        summary: 'End this session (revokes the refresh token and its family)',
        security: [],
        body: Type.Object({ refreshToken }, { additionalProperties: false }),
        response: { 204: noContent },
      },
    },
    async (request, reply) => {
      await credentials.revokeFamilyOf(request.body.refreshToken);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/auth/logout-all',
    {
      onRequest: app.authenticate,
      config: writeRateLimit(options.writeRateLimitPerMinute),
      schema: {
        tags: ['auth'],
        summary: 'End every session of the user',
        response: { 204: noContent, ...problems(401) },
      },
    },
    async (request, reply) => {
      await credentials.revokeAll(request.user.userId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/auth/password',
    {
      onRequest: app.authenticate,
      // Per account, not per address: a stolen token guessing the current password from many
      // addresses gets the same few tries a minute.
      config: perUserRateLimit(options.rateLimitPerMinute, 'password-changes'),
      schema: {
        tags: ['auth'],
        summary: 'Change the password (every session ends)',
        body: Type.Object(
          {
            currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
            newPassword: password,
          },
          { additionalProperties: false },
        ),
        response: { 204: noContent, ...problems(401) },
      },
    },
    async (request, reply) => {
      const account = await credentials.byId(request.user.userId);
      const passwordHash = account?.status === 'active' ? account.passwordHash : null;
      // A wrong current password spends the user's own tries (login-lockout.ts).
      const ok = passwordHash
        ? await lockout.verify({ user: request.user.userId }, () =>
            verifyPassword(request.body.currentPassword, passwordHash),
          )
        : false;
      if (!ok) throw new InvalidCredentials('The current password is wrong');
      await credentials.setPassword(
        request.user.userId,
        await hashPassword(request.body.newPassword),
      );
      await credentials.revokeAll(request.user.userId);
      return reply.status(204).send(null);
    },
  );
};
