/**
 * Creates the local development token key pair on first use: .data/keys/jwt-dev-private.pem
 * (mode 0600, what the command API signs with as JWT_SIGNING_KEY_FILE), .data/keys/jwt-public-keys.json
 * (what services read as JWT_PUBLIC_KEYS_FILE), and .data/keys/pii-master.key (PII_MASTER_KEY_FILE,
 * which wraps the personal-data keys).
 * Never used outside a developer's machine or CI.
 */
import { randomBytes } from 'node:crypto';
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

const masterFile = `${dir}pii-master.key`;
if (!existsSync(masterFile)) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(masterFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  process.stdout.write(`created the development personal-data master key in ${dir}\n`);
}
