/**
 * `npm run schemas:check [-- --offline]`: the compatibility gate (ADR 0006). Every record schema
 * must stay FULL_TRANSITIVE compatible with all its earlier versions:
 *   - offline, against every version in git history (runs before anything is registered), and
 *   - unless --offline, against the versions in the schema registry.
 * A record type that existed before and is gone is refused too: its old data could not be read.
 * Exit codes: 0 compatible, 1 incompatible (listed), 64 bad arguments.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@parley/platform/config';
import {
  schemaRegistryOptions,
  schemaRegistrySettings,
  testCompatibility,
} from '@parley/platform/schema-registry';
import { loadSchemaSet } from '../avro/schema-set.ts';
import { incompatibilities } from './compatibility.ts';
import { schemaHistory } from './history.ts';

const USAGE = 'usage: npm run schemas:check [-- --offline]';

let offline = false;
try {
  offline = parseArgs({ options: { offline: { type: 'boolean', default: false } }, strict: true })
    .values.offline as boolean;
} catch (error) {
  process.stderr.write(`schemas:check: ${(error as Error).message}\n${USAGE}\n`);
  process.exit(64);
}

const set = loadSchemaSet();
const history = schemaHistory();
const problems: string[] = [];

for (const record of set.records) {
  const earlier = history.get(record.fullName) ?? [];
  for (const p of incompatibilities(record.name, record.schema, earlier)) {
    const what = p.direction === 'backward' ? 'cannot read data of' : 'writes data unreadable by';
    problems.push(`${p.record}: ${what} its version at ${p.earlier}: ${p.reason}`);
  }
}
for (const fullName of history.keys()) {
  if (!set.byFullName(fullName))
    problems.push(`${fullName}: removed, but earlier data of this type exists`);
}
const versions = [...history.values()].reduce((n, v) => n + v.length, 0);
process.stdout.write(
  `offline: ${set.records.length} records checked against ${versions} earlier versions in git\n`,
);

if (!offline) {
  const options = schemaRegistryOptions(loadConfig(schemaRegistrySettings));
  let fresh = 0;
  for (const record of set.records) {
    const result = await testCompatibility(options, record.subject, JSON.stringify(record.schema));
    if (result.newSubject) fresh += 1;
    if (!result.compatible)
      problems.push(`${record.name}: the registry refuses it: ${result.reason ?? 'incompatible'}`);
  }
  process.stdout.write(
    `registry: ${set.records.length} subjects checked (${fresh} not registered yet)\n`,
  );
}

for (const p of problems) process.stdout.write(`INCOMPATIBLE ${p}\n`);
process.stdout.write(
  problems.length === 0 ? 'schemas: compatible\n' : `schemas: ${problems.length} problem(s)\n`,
);
process.exitCode = problems.length === 0 ? 0 : 1;
