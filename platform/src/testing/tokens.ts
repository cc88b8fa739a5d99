/**
 * ES256 access tokens for tests and local development. Production tokens are signed by the
 * identity service with a key from the cluster's secrets; these helpers never run there.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
} from 'node:crypto';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicPem: string;
}

export function createSigningKey(kid = `test-${randomUUID().slice(0, 8)}`): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function signingKeyFromPem(kid: string, pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { kid, privateKey, publicPem };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export interface TokenClaims {
  sub: string;
  roles?: string[];
  iss?: string;
  aud?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Seconds from now the token says it was issued (default 0); null leaves `iat` out. */
  issuedAt?: number | null;
}

export function signToken(
  key: SigningKey,
  claims: TokenClaims,
  header: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: key.kid, ...header }));
  const body = b64url(
    JSON.stringify({
      sub: claims.sub,
      roles: claims.roles ?? ['user'],
      iss: claims.iss ?? 'parley',
      aud: claims.aud ?? 'parley-api',
      ...(claims.issuedAt === null ? {} : { iat: now + (claims.issuedAt ?? 0) }),
      exp: now + (claims.expiresIn ?? 900),
    }),
  );
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${head}.${body}.${b64url(signature)}`;
}

export function publicKeySet(...keys: SigningKey[]): string {
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k.kid, k.publicPem])));
}

/**
 * The key material a command API needs, for tests and benchmarks: verifies with this key, signs
 * with it, and encrypts personal data under a throwaway master key.
 */
/** One master key per signing key: every service a test starts with it opens the same data keys. */
const masterKeys = new WeakMap<SigningKey, string>();

export function serviceKeyEnv(key: SigningKey): Record<string, string> {
  let masterKey = masterKeys.get(key);
  if (!masterKey) {
    masterKey = randomBytes(32).toString('base64');
    masterKeys.set(key, masterKey);
  }
  return {
    JWT_PUBLIC_KEYS: publicKeySet(key),
    JWT_SIGNING_KEY: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_SIGNING_KEY_ID: key.kid,
    PII_MASTER_KEY: masterKey,
  };
}
