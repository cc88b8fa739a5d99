import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { DEAD_LETTER_GROUPS } from '@parley/schemas/topics/catalogue';
import { PROJECTIONS } from '../src/projections/index.ts';
import { isTransient } from '../src/runtime/dead-letters.ts';
import { groupOf, namespaceOf, physical } from '../src/runtime/projection.ts';

it('gives every projection a dead-letter topic in the catalogue', () => {
  assert.deepEqual(PROJECTIONS.map(groupOf).sort(), [...DEAD_LETTER_GROUPS].sort());
});

it('names generations apart per namespace and number', () => {
  const ns = namespaceOf('t-mwx1.');
  assert.equal(ns, 't_mwx1_');
  assert.equal(
    physical({ projection: 'users', number: 3, namespace: ns }, 'users'),
    't_mwx1_users_g3',
  );
  assert.equal(physical({ projection: 'users', number: 1, namespace: '' }, 'users'), 'users_g1');
});

it('retries store outages and dead-letters the record’s own faults', () => {
  assert.equal(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
  assert.equal(isTransient(Object.assign(new Error('x'), { code: '40001' })), true);
  assert.equal(isTransient(Object.assign(new Error('x'), { name: 'MongoNetworkError' })), true);
  assert.equal(isTransient(Object.assign(new Error('bad'), { code: '23502' })), false);
  assert.equal(isTransient(new TypeError('cannot read properties of undefined')), false);
});

it('refuses unknown commands and projections on the CLI with a usage line (exit 64)', () => {
  const cli = new URL('../src/cli.ts', import.meta.url).pathname;
  for (const args of [['rebuild', 'nope'], ['dlq', 'show', 'users', 'x'], ['explode']]) {
    const run = spawnSync(
      process.execPath,
      ['--conditions=parley-source', '--import', 'tsx', cli, ...args],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 64, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /usage: npm run projector/);
  }
});
