/**
 * `npm run dev:token -- [--user <uuid>] [--role user|admin|analyst] [--minutes N]`: prints an access
 * token signed with the local development key, to try the APIs with curl.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { signingKeyFromPem, signToken } from '../platform/src/testing/tokens.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLES = ['user', 'admin', 'analyst'];

function fail(message: string): never {
  process.stderr.write(
    `dev:token: ${message}\nusage: npm run dev:token -- [--user <uuid>] [--role user|admin|analyst] [--minutes N]\n`,
  );
  process.exit(64);
}

let values: { user?: string; role?: string; minutes?: string };
try {
  values = parseArgs({
    options: { user: { type: 'string' }, role: { type: 'string' }, minutes: { type: 'string' } },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}
const user = values.user ?? randomUUID();
if (!UUID.test(user)) fail(`--user must be a UUID, got '${user}'`);
const role = values.role ?? 'user';
if (!ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(', ')}, got '${role}'`);
const minutes = Number(values.minutes ?? 60);
if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60)
  fail('--minutes must be an integer from 1 to 1440');

let pem: string;
try {
  pem = readFileSync(new URL('../.data/keys/jwt-dev-private.pem', import.meta.url), 'utf8');
} catch {
  fail('no development key yet: run npm start first');
}
const token = signToken(signingKeyFromPem('dev-1', pem), {
  sub: user,
  roles: [role],
  expiresIn: minutes * 60,
});
process.stdout.write(`${token}\n`);
process.stderr.write(`user ${user}, role ${role}, valid ${minutes} min\n`);
