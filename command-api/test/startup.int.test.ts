// The service process refuses to start on bad configuration, naming each bad variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';

it('exits with EX_CONFIG and names the variable when HTTP_PORT is not a number', () => {
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=parley-source',
      '--import',
      'tsx',
      new URL('../src/server.ts', import.meta.url).pathname,
    ],
    {
      env: { ...process.env, HTTP_PORT: 'abc', REDIS_URL: 'http://wrong' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(result.status, 78, result.stderr);
  assert.match(result.stderr, /HTTP_PORT: expected an integer, got 'abc'/);
  assert.match(result.stderr, /REDIS_URL: expected a redis or rediss URL/);
});
