// The local stack's PostgreSQL runs as the postgres user when the stack is started as root. A
// checkout under a directory that user cannot enter (root's home is 0700, so is a mktemp -d) must
// still get a cluster that user can reach: infra/local/lib/postgres.sh puts it under
// /var/lib/parley and links it from the data folder. Checked as root only (otherwise the cluster
// runs as the user who owns the checkout).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';

const lib = new URL('../../infra/local/lib/', import.meta.url).pathname;
const root = process.getuid?.() === 0;

function locate(dataDir: string) {
  const script = `source "${lib}common.sh"; source "${lib}postgres.sh"; postgres_locate_data; echo "$POSTGRES_DATA"`;
  return spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PARLEY_DATA_DIR: dataDir },
  });
}

const postgresCanEnter = (path: string) =>
  spawnSync('setpriv', [
    '--reuid=postgres',
    '--regid=postgres',
    '--init-groups',
    '--',
    'test',
    '-x',
    path,
  ]).status === 0;

it('gives a checkout under a 0700 directory a cluster the postgres user can reach', {
  skip: !root && 'needs root',
}, () => {
  const closed = mkdtempSync(join(tmpdir(), 'parley-0700-'));
  chmodSync(closed, 0o700);
  const dataDir = join(closed, 'checkout', '.data');
  mkdirSync(dataDir, { recursive: true });
  let outside = '';
  try {
    assert.equal(postgresCanEnter(dataDir), false, 'the postgres user cannot enter the checkout');
    const run = locate(dataDir);
    assert.equal(run.status, 0, run.stderr);
    outside = run.stdout.trim().split('\n').at(-1) ?? '';
    assert.match(outside, /^\/var\/lib\/parley\/[0-9a-f]{12}\/postgres$/);
    assert.ok(postgresCanEnter(dirname(outside)), 'the postgres user can reach the cluster');
    const link = join(dataDir, 'postgres');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), outside);
    // A second start finds the same place.
    assert.equal(locate(dataDir).stdout.trim().split('\n').at(-1), outside);
  } finally {
    rmSync(closed, { recursive: true, force: true });
    if (outside) rmSync(dirname(outside), { recursive: true, force: true });
  }
});

it('keeps the cluster in the data folder when the postgres user can enter it', {
  skip: !root && 'needs root',
}, () => {
  const open = mkdtempSync(join(tmpdir(), 'parley-open-'));
  chmodSync(open, 0o755);
  const dataDir = join(open, '.data');
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  try {
    const run = locate(dataDir);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').at(-1), join(dataDir, 'postgres'));
  } finally {
    rmSync(open, { recursive: true, force: true });
  }
});
