/**
 * Access tokens: short-lived ES256 JWTs signed with the one current signing key (its `kid` in
 * the header), checked by every service against the public key set (platform/src/auth.ts).
 */
import { env } from '@parley/platform/config';
import type { Role } from '@parley/schemas/generated/records';
import { createSigner } from 'fast-jwt';

export const accessTokenSettings = {
  /** PEM private key (EC P-256) that signs access tokens; usually JWT_SIGNING_KEY_FILE. */
  JWT_SIGNING_KEY: env.secret(),
  /** Its key id; the matching public key is in JWT_PUBLIC_KEYS under this id. */
  JWT_SIGNING_KEY_ID: env.string({ default: { dev: 'dev-1' } }),
  ACCESS_TOKEN_TTL_SECONDS: env.int(60, 3600, { default: 900 }),
};

export interface AccessTokenIssuer {
  readonly ttlSeconds: number;
  issue(userId: string, role: Role): string;
}

export function accessTokenIssuer(options: {
  privateKeyPem: string;
  keyId: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}): AccessTokenIssuer {
  const sign = createSigner({
    algorithm: 'ES256',
    key: options.privateKeyPem,
    kid: options.keyId,
    iss: options.issuer,
    aud: options.audience,
    expiresIn: options.ttlSeconds * 1000,
  });
  return {
    ttlSeconds: options.ttlSeconds,
    issue: (userId, role) => sign({ sub: userId, roles: [role] }),
  };
}
