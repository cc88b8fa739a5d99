// The compatibility gate end to end: git history of a schema folder, and the registry's own rule.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import {
  createSchemaRegistry,
  deleteSubject,
  schemaRegistryOptions,
} from '@parley/platform/schema-registry';
import { stackConfig, uniqueName } from '@parley/platform/testing/fixtures';
import { registerSchemas } from '../src/avro/register.ts';
import { loadSchemaSet } from '../src/avro/schema-set.ts';
import { incompatibilities } from '../src/compat/compatibility.ts';
import { schemaHistory } from '../src/compat/history.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const title = { name: 'title', type: 'string' };
const count = { name: 'count', type: 'int' };
const v1Fields = [title, count];

function writeRecord(avroDir: string, name: string, fields: object[]) {
  mkdirSync(join(avroDir, 'chat', 'events'), { recursive: true });
  writeFileSync(
    join(avroDir, 'chat', 'events', `${name}.avsc`),
    JSON.stringify({ type: 'record', name, namespace: 'dev.parley.test', fields }),
  );
}

it('finds a breaking change against the versions in git history, and accepts a compatible one', () => {
  const repo = mkdtempSync(join(tmpdir(), 'parley-gate-'));
  cleanups.push(() => rmSync(repo, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      cwd: repo,
      stdio: 'pipe',
    });
  git('init', '-q');
  const avroDir = join(repo, 'schemas', 'avro');
  writeRecord(avroDir, 'GateTested', v1Fields);
  git('add', '.');
  git('commit', '-qm', 'v1');

  const check = (fields: object[]) => {
    writeRecord(avroDir, 'GateTested', fields);
    const current = loadSchemaSet(avroDir).byName('GateTested');
    assert.ok(current);
    const history = schemaHistory(avroDir).get(current.fullName) ?? [];
    assert.equal(history.length, 1, 'one committed version');
    return incompatibilities(current.name, current.schema, history).map((p) => p.direction);
  };

  assert.deepEqual(check([title]), ['forward'], 'removing a field without a default');
  assert.deepEqual(
    check([{ name: 'title', type: 'int' }, count]).sort(),
    ['backward', 'forward'],
    'changing a type',
  );
  assert.deepEqual(
    check([...v1Fields, { name: 'note', type: ['null', 'string'], default: null }]),
    [],
    'adding an optional field',
  );
});

it('the registry refuses a breaking version of a FULL_TRANSITIVE subject and takes a compatible one', async () => {
  const config = stackConfig();
  const options = schemaRegistryOptions(config);
  const registry = createSchemaRegistry(options);
  const name = `Gate_${uniqueName('r').replace(/-/g, '_')}`;
  const dirs = ['v1', 'breaking', 'compatible'].map((v) => {
    const dir = mkdtempSync(join(tmpdir(), `parley-gate-${v}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  });
  const [v1Dir, breakingDir, compatibleDir] = dirs as [string, string, string];
  writeRecord(v1Dir, name, v1Fields);
  writeRecord(breakingDir, name, [title]);
  writeRecord(compatibleDir, name, [
    ...v1Fields,
    { name: 'note', type: ['null', 'string'], default: null },
  ]);
  const v1 = loadSchemaSet(v1Dir);
  cleanups.push(() => deleteSubject(options, v1.records[0]?.subject ?? ''));

  assert.deepEqual(
    (await registerSchemas(registry, options, v1)).map((r) => r.error),
    [undefined],
  );
  const [breaking] = await registerSchemas(registry, options, loadSchemaSet(breakingDir));
  assert.match(breaking?.error ?? '', /incompatible|409|Rule/i);
  const [compatible] = await registerSchemas(registry, options, loadSchemaSet(compatibleDir));
  assert.equal(compatible?.error, undefined);
  assert.ok(compatible?.id);
});
