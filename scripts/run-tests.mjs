#!/usr/bin/env node
// Runs the tests of one kind (unit, int, e2e, or all) with node's test runner, TypeScript through
// tsx, workspace sources through the `parley-source` export condition.
//   node scripts/run-tests.mjs unit|int|e2e|all [--only <substring>]
// Prints node's spec report, then one plain closing line: "N passed, N failed, N skipped".
// With PARLEY_COVERAGE_LCOV=<file>, also writes an LCOV coverage report there (for Sonar in CI).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const KINDS = { unit: ['unit'], int: ['int'], e2e: ['e2e'], all: ['unit', 'int', 'e2e'] };
const SKIP = new Set(['node_modules', '.data', 'dist', '.git']);

let args;
try {
  args = parseArgs({ options: { only: { type: 'string' } }, allowPositionals: true, strict: true });
} catch (error) {
  console.error(`run-tests: ${error.message}`);
  process.exit(64);
}
const kind = args.positionals[0] ?? 'all';
if (!(kind in KINDS) || args.positionals.length > 1) {
  console.error(
    `run-tests: expected one of ${Object.keys(KINDS).join(', ')}, got '${args.positionals.join(' ')}'`,
  );
  process.exit(64);
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

const suffixes = KINDS[kind].map((k) => `.${k}.test.ts`);
const files = [...walk(root)]
  .filter((f) => suffixes.some((s) => f.endsWith(s)))
  .filter((f) => !args.values.only || f.includes(args.values.only))
  .map((f) => relative(root, f))
  .sort(
    (a, b) =>
      suffixes.findIndex((s) => a.endsWith(s)) - suffixes.findIndex((s) => b.endsWith(s)) ||
      a.localeCompare(b),
  );

if (files.length === 0) {
  console.error(`run-tests: no ${kind} test files found`);
  process.exit(1);
}

const tapDir = mkdtempSync(join(tmpdir(), 'parley-tests-'));
const tapFile = join(tapDir, 'report.tap');
const lcovFile = process.env.PARLEY_COVERAGE_LCOV
  ? resolve(process.env.PARLEY_COVERAGE_LCOV)
  : undefined;
if (lcovFile) mkdirSync(dirname(lcovFile), { recursive: true });
const coverage = lcovFile
  ? [
      '--experimental-test-coverage',
      '--test-reporter=lcov',
      `--test-reporter-destination=${lcovFile}`,
    ]
  : [];
const child = spawn(
  process.execPath,
  [
    '--conditions=parley-source',
    '--import',
    'tsx',
    '--test',
    '--test-timeout=300000',
    // One file at a time: the system tests restart the stack's broker and Redis under them.
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...coverage,
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PARLEY_ENV: process.env.PARLEY_ENV ?? 'test' },
  },
);
child.on('exit', (code, signal) => {
  let summary = '';
  try {
    const tap = readFileSync(tapFile, 'utf8');
    const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    summary = `${count('pass')} passed, ${count('fail')} failed, ${count('skipped') + count('todo')} skipped`;
  } catch {
    summary = '0 passed, 1 failed';
  }
  rmSync(tapDir, { recursive: true, force: true });
  console.log(`\n${kind} tests:`);
  console.log(summary);
  process.exit(code ?? (signal ? 1 : 0));
});
