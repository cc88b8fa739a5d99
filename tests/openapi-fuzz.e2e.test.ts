// Both OpenAPI documents fuzzed by Schemathesis (PyPI, pinned in scripts/lib.sh) against the
// command API and the query API as deployed, every part its own process on topics of this test.
// Whatever it sends, valid or not: no 5xx; every answer keeps to the document (status, content
// type, headers, body); a request that breaks the schema is refused; a method the document does not
// list answers 405 with Allow; a missing required header is refused. Its stateful phase follows
// the documents' links (a started conversation's id to its rename, archive, delete and messages; a
// registered user's id to the admin's operations). Both APIs are still ready afterwards.
//
// Two checks are left out, for reasons of the API's design rather than its faults:
// - positive_data_acceptance: the fuzzer sends a few Idempotency-Key values again and again with
//   other requests, and a key reused for another request is 422 (the IETF draft says so); cursors
//   it makes up are 400 (a cursor is opaque and signed by the server).
// - ignored_auth: the token is given as a header the tool cannot take away. Missing, forged and
//   expired tokens have their own tests (command-api auth, query-api auth).
// And headers the document does not name are not a violation (allow-extra-parameters = false):
// proxies and clients add their own, and an API must take them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testPython } from '@parley/platform/testing/fixtures';
import { type ServiceProcess, startService } from '@parley/platform/testing/service-process';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';
import { processorFixture } from '../command-api/test/processor-fixture.ts';
import { SERVICE_ENTRIES } from './service-entries.ts';

const key = createSigningKey();
const keyEnv = serviceKeyEnv(key);
const schemathesis = join(testPython(), '..', 'schemathesis');
const reports = mkdtempSync(join(tmpdir(), 'parley-fuzz-'));
const config = join(reports, 'schemathesis.toml');
writeFileSync(config, '[generation]\nallow-extra-parameters = false\n');

let fixture: Awaited<ReturnType<typeof processorFixture>>;
const services = new Map<string, ServiceProcess>();

async function start(name: keyof typeof SERVICE_ENTRIES) {
  const service = await startService(
    SERVICE_ENTRIES[name],
    {
      ...keyEnv,
      TOPIC_PREFIX: fixture.topicPrefix,
      PROCESSOR_GROUP_ID: fixture.groupId,
      COMMAND_OUTCOME_WAIT_MS: '2000',
      // The fuzzer asks for versions that never come: a short wait keeps the run short.
      MIN_VERSION_WAIT_MS: '200',
      READ_RATE_LIMIT_PER_MINUTE: '100000',
      WRITE_RATE_LIMIT_PER_MINUTE: '100000',
      LOG_LEVEL: 'warn',
    },
    `openapi-fuzz.${name}`,
  );
  services.set(name, service);
  await service.ready(120_000);
  return service;
}

before(async () => {
  assert.ok(existsSync(schemathesis), `no Schemathesis at ${schemathesis} (npm test installs it)`);
  fixture = await processorFixture(2);
  await fixture.createDeadLetterTopics();
  await Promise.all([start('command-processor'), start('command-api'), start('query-api')]);
  await start('projectors');
});

after(async () => {
  await Promise.allSettled([...services.values()].map((s) => s.kill9()));
  await fixture?.cleanup();
  rmSync(reports, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  output: string;
  failures: number;
  errors: string[];
}

/** One Schemathesis run against an API's own document; what it found, from its JUnit report. */
function fuzz(api: ServiceProcess, name: string, extra: readonly string[] = []): Promise<Outcome> {
  const token = signToken(key, { sub: randomUUID(), roles: ['admin'] });
  const junit = join(reports, `${name}.xml`);
  const args = [
    '--config-file',
    config,
    'run',
    `${api.url}/docs/json`,
    '--header',
    `authorization: Bearer ${token}`,
    '--checks',
    'all',
    '--exclude-checks',
    'positive_data_acceptance,ignored_auth',
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--max-examples',
    '25',
    '--seed',
    '20261203',
    '--workers',
    '2',
    '--request-timeout',
    '10',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
    '--no-color',
    ...extra,
  ];
  return new Promise((resolve, reject) => {
    // In the run's own directory: the tool keeps a cache of what it found where it runs.
    const child = spawn(schemathesis, args, { cwd: reports, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const report = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
      resolve({
        code,
        output,
        failures: (report.match(/<failure\b/g) ?? []).length,
        // The tool's own errors (a crash inside its generator) are reported, not counted.
        errors: [...report.matchAll(/<error\b[^>]*message="([^"]*)"/g)].map((m) => m[1] ?? ''),
      });
    });
  });
}

async function assertFuzzedClean(api: ServiceProcess, name: string, extra: string[] = []) {
  const outcome = await fuzz(api, name, extra);
  if (outcome.errors.length > 0) console.warn(`${name}: Schemathesis errors`, outcome.errors);
  assert.ok(outcome.code !== null, 'Schemathesis was killed');
  assert.ok(
    outcome.output.includes('Test cases:'),
    `Schemathesis did not run to the end:\n${outcome.output.slice(-4000)}`,
  );
  assert.equal(
    outcome.failures,
    0,
    `Schemathesis found failures:\n${outcome.output.slice(-12000)}`,
  );
  const ready = await fetch(`${api.url}/health/ready`);
  assert.equal(ready.status, 200, `${name} is not ready after the fuzzing`);
}

describe('the OpenAPI documents, fuzzed', () => {
  it('the command API answers everything the fuzzer sends as its document says', async () => {
    const api = services.get('command-api');
    assert.ok(api);
    await assertFuzzedClean(api, 'command-api');
  });

  it('the query API answers everything the fuzzer sends as its document says', async () => {
    const api = services.get('query-api');
    assert.ok(api);
    // The event stream never ends; its own tests read it.
    await assertFuzzedClean(api, 'query-api', ['--exclude-path-regex', '/events$']);
  });
});
