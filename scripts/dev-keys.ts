/**
 * Creates the local development token key pair on first use: .data/keys/jwt-dev-private.pem
 * (mode 0600) and .data/keys/jwt-public-keys.json (what services read as JWT_PUBLIC_KEYS_FILE).
 * Never used outside a developer's machine or CI.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createSigningKey, publicKeySet } from '../platform/src/testing/tokens.ts';

const dir = new URL('../.data/keys/', import.meta.url).pathname;
const privateFile = `${dir}jwt-dev-private.pem`;
const publicFile = `${dir}jwt-public-keys.json`;

if (!existsSync(privateFile) || !existsSync(publicFile)) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = createSigningKey('dev-1');
  writeFileSync(privateFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
  });
  writeFileSync(publicFile, publicKeySet(key));
  process.stdout.write(`created development token keys in ${dir}\n`);
}
