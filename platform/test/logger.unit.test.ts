import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createLogger } from '../src/logger.ts';

it('redacts secrets and personal data in every line', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ service: 't', level: 'info', environment: 'test', destination });
  log.info(
    {
      body: {
        email: 'ann@example.com',
        password: 'hunter2hunter2',
        currentPassword: 'old secret',
        refreshToken: 'r-token-value',
      },
      req: { headers: { authorization: 'Bearer abc.def.ghi' } },
      config: { JWT_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----', PII_MASTER_KEY: 'bWFzdGVy' },
      displayName: 'Ann Example',
    },
    'request',
  );
  const line = lines.join('');
  for (const secret of [
    'ann@example.com',
    'hunter2hunter2',
    'old secret',
    'r-token-value',
    'abc.def.ghi',
    'BEGIN PRIVATE KEY',
    'bWFzdGVy',
    'Ann Example',
  ]) {
    assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
  }
  assert.match(line, /\[redacted\]/);
});
