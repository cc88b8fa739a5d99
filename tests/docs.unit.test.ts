// The docs make claims about the code: environment variables, HTTP routes, PostgreSQL tables,
// links between pages, and where each review note is answered (issue 8). These tests hold the
// names that can be checked to the code itself, without any running service. The topic catalogue
// has its own check in schemas/test/docs.unit.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { authSettings } from '@parley/platform/auth';
import type { Field, Spec } from '@parley/platform/config';
import { consumerLagSettings } from '@parley/platform/consumer-lag';
import { proxySettings } from '@parley/platform/http';
import { kafkaSettings } from '@parley/platform/kafka';
import { migrate } from '@parley/platform/migrate';
import { mongoSettings } from '@parley/platform/mongo';
import { personalDataSettings } from '@parley/platform/personal-data';
import { type Pool, postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { revocationSettings } from '@parley/platform/revocations';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { tracingSettings } from '@parley/platform/tracing';
import { topicCatalogue, topicSettings } from '@parley/schemas/topics/catalogue';
import type { FastifyInstance } from 'fastify';
import { settings as assistantSettings } from '../assistant/src/config.ts';
import { accessTokenSettings } from '../command-api/src/auth/access-tokens.ts';
import { quotaSettings } from '../command-api/src/chat/quotas.ts';
import { settings as commandApiSettings } from '../command-api/src/config.ts';
import { IDENTITY_MIGRATIONS, IDENTITY_SCHEMA } from '../command-api/src/identity/store-schema.ts';
import { settings as projectorSettings, storeSettings } from '../projectors/src/config.ts';
import { PROJECTIONS } from '../projectors/src/read-models/index.ts';
import { ensureReadSchema } from '../projectors/src/runtime/generations.ts';
import type { Stores } from '../projectors/src/runtime/projection.ts';
import { settings as queryApiSettings } from '../query-api/src/config.ts';
import { settings as replaySettings } from '../replay/src/config.ts';
import { type BuiltApi, buildApi } from './api-routes.ts';
import { registeredMetricNames } from './metric-names.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const SKIP_DIRS = new Set(['node_modules', '.git', '.data', 'dist', 'results']);

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = dir === '.' ? entry.name : join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** README.md and every page under docs/: the pages these checks read. */
const DOC_FILES = ['README.md', ...[...walk('docs')].filter((f) => f.endsWith('.md')).sort()];
/** The pages that describe the HTTP API (issue 8). */
const ROUTE_DOCS = ['README.md', 'docs/README.md', 'docs/architecture.md'];

// ---------------------------------------------------------------------------------------------
// Markdown helpers

/** The text with fenced code blocks blanked out (line numbers kept). */
function withoutFences(md: string): string {
  let fenced = false;
  return md
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

/** Every anchor a page's headings make, with GitHub's -1, -2 suffixes for repeated headings. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of withoutFences(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** Inline links and images, and reference definitions, outside code. */
function linksIn(file: string, md: string): Link[] {
  const links: Link[] = [];
  withoutFences(md)
    .split('\n')
    .forEach((text, index) => {
      const line = text.replace(/`[^`]*`/g, '``');
      for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        links.push({ file, line: index + 1, target: m[1] ?? '' });
      }
      const reference = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
      if (reference) links.push({ file, line: index + 1, target: reference[1] ?? '' });
    });
  return links;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Why a relative link does not resolve, or undefined when it does. */
function brokenLink(link: Link): string | undefined {
  if (isExternal(link.target)) return undefined;
  const [pathPart = '', anchor] = link.target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const absolute = path === '' ? join(ROOT, link.file) : resolve(ROOT, dirname(link.file), path);
  if (!absolute.startsWith(`${ROOT}/`)) return 'points outside the repository';
  if (!existsSync(absolute)) return `${relative(ROOT, absolute)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!absolute.endsWith('.md') || statSync(absolute).isDirectory()) {
    return `an anchor into ${relative(ROOT, absolute)}, which is not a Markdown page`;
  }
  const known = anchors(readFileSync(absolute, 'utf8'));
  return known.has(decodeURIComponent(anchor).toLowerCase())
    ? undefined
    : `no heading '#${anchor}' in ${relative(ROOT, absolute)} (has: ${[...known].join(', ')})`;
}

/** The cells of every table row (header and body; the delimiter row left out), by table. */
function tablesIn(md: string): string[][][] {
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of withoutFences(md).split('\n')) {
    if (!line.trim().startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (!current) {
      current = [];
      tables.push(current);
    }
    current.push(cells);
  }
  return tables;
}

const backticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');

// ---------------------------------------------------------------------------------------------
// Configuration as declared in code

/** The shared settings objects, by the name a config module spreads them under. */
const SHARED_SETTINGS: Record<string, Spec> = {
  serviceSettings: serviceSettings(1),
  kafkaSettings,
  schemaRegistrySettings,
  postgresSettings,
  mongoSettings,
  redisSettings,
  authSettings,
  personalDataSettings,
  topicSettings,
  accessTokenSettings,
  consumerLagSettings,
  revocationSettings,
  quotaSettings,
  storeSettings,
  tracingSettings,
  proxySettings,
};

interface ParsedSpec {
  readonly names: string[];
  /** The argument of `serviceSettings(<port>)`, when spread. */
  readonly port?: number;
  /** Literal defaults of the fields declared in place, e.g. `env.int(1, 2, { default: 30 })`. */
  readonly literalDefaults: Map<string, string>;
}

/**
 * The variables of a settings object declared in a module that cannot be imported without
 * starting it (an entrypoint with top-level `await runService(...)`): its spreads of the shared
 * settings objects and its own `NAME: env.…` fields. The parser is checked against the modules
 * that can be imported (below), so it reads what `loadConfig` would.
 */
function parseSettings(file: string, name: string): ParsedSpec {
  if (SHARED_SETTINGS[name]) {
    return { names: Object.keys(SHARED_SETTINGS[name]), literalDefaults: new Map() };
  }
  const source = read(file);
  const start = new RegExp(`^(?:export )?const ${name}(?:: [^=]+)? = \\{$`, 'm').exec(source);
  assert.ok(start, `${file} declares const ${name} = {`);
  const body = source.slice(start.index + start[0].length).split(/^\};?$/m)[0] ?? '';
  const names: string[] = [];
  const literalDefaults = new Map<string, string>();
  let port: number | undefined;
  for (const line of body.split('\n')) {
    const spread = /^ {2}\.\.\.(\w+)(?:\((\d+)\))?,$/.exec(line);
    if (spread) {
      const shared = SHARED_SETTINGS[spread[1] ?? ''];
      assert.ok(shared, `${file}: ${name} spreads ${spread[1]}, unknown to this test`);
      names.push(...Object.keys(shared));
      if (spread[2]) port = Number(spread[2]);
      continue;
    }
    const own = /^ {2}([A-Z][A-Z0-9_]*):/.exec(line);
    if (own?.[1]) {
      names.push(own[1]);
      const literal = /\{ default: ('[^']*'|[\d_]+) \}/.exec(line)?.[1];
      if (literal) literalDefaults.set(own[1], literal.replace(/^'|'$/g, '').replace(/_/g, ''));
    }
  }
  return { names, literalDefaults, ...(port === undefined ? {} : { port }) };
}

/** A process that reads configuration, as docs/configuration.md names it in "used by". */
interface Consumer {
  readonly names: readonly string[];
  /** Its fields, where the settings object can be imported. */
  readonly spec?: Spec;
  readonly parsed?: ParsedSpec;
  /** A service with an HTTP port (serviceSettings). */
  readonly service: boolean;
  /**
   * Whether configuration.md must document every variable it reads. Without it, what the docs
   * say of the process is still checked, but not that they say everything.
   */
  readonly complete: boolean;
}

const processorSpec = parseSettings('command-api/src/processor/config.ts', 'processorSettings');
const bootstrapSpec = parseSettings('schemas/src/bootstrap/settings.ts', 'bootstrapSettings');
const compatArgument = /loadConfig\((\w+)\)/.exec(read('schemas/src/compat/cli.ts'))?.[1] ?? '?';

const CONSUMERS: Record<string, Consumer> = {
  'command-api': {
    names: Object.keys(commandApiSettings),
    spec: commandApiSettings,
    service: true,
    complete: true,
  },
  processor: { names: processorSpec.names, parsed: processorSpec, service: true, complete: true },
  'query-api': {
    names: Object.keys(queryApiSettings),
    spec: queryApiSettings,
    service: true,
    complete: true,
  },
  projectors: {
    names: Object.keys(projectorSettings),
    spec: projectorSettings,
    service: true,
    complete: true,
  },
  assistant: {
    names: Object.keys(assistantSettings),
    spec: assistantSettings,
    service: true,
    complete: true,
  },
  bootstrap: { names: bootstrapSpec.names, parsed: bootstrapSpec, service: false, complete: true },
  replay: {
    names: Object.keys(replaySettings),
    spec: replaySettings,
    service: false,
    complete: true,
  },
  'schemas:check': {
    names: parseSettings('schemas/src/compat/cli.ts', compatArgument).names,
    service: false,
    complete: true,
  },
};

/** Every field of an importable settings object, by variable name (the first declaration wins). */
const FIELDS = new Map<string, Field<unknown>>();
for (const spec of [
  ...Object.values(SHARED_SETTINGS),
  commandApiSettings,
  projectorSettings,
  queryApiSettings,
  assistantSettings,
] as Spec[]) {
  for (const [name, field] of Object.entries(spec)) if (!FIELDS.has(name)) FIELDS.set(name, field);
}

const SERVICE_SOURCES = [
  'platform',
  'schemas',
  'command-api',
  'projectors',
  'query-api',
  'assistant',
  'replay',
].flatMap((workspace) => [...walk(`${workspace}/src`)].filter((f) => /\.(ts|mts|mjs)$/.test(f)));

/**
 * Variables read directly rather than through a settings object (e.g. PARLEY_ENV). The test
 * helpers under platform/src/testing are no process's: what they read (where `npm test` keeps
 * its Python) is the scripts' business, documented with them.
 */
const DIRECT_READS = new Set(
  SERVICE_SOURCES.filter((file) => !file.startsWith('platform/src/testing/')).flatMap((file) =>
    [...read(file).matchAll(/\b(?:process\.env|source)\.([A-Z][A-Z0-9_]+)\b/g)].map(
      (m) => m[1] ?? '',
    ),
  ),
);

/** Every variable configuration.md must document. */
const MUST_DOCUMENT = new Set([
  ...Object.values(CONSUMERS)
    .filter((c) => c.complete)
    .flatMap((c) => c.names),
  ...Object.values(SHARED_SETTINGS).flatMap((s) => Object.keys(s)),
  ...DIRECT_READS,
]);

/** Every variable read anywhere. */
const ALL_IN_CODE = new Set([
  ...Object.values(CONSUMERS).flatMap((c) => c.names),
  ...Object.values(SHARED_SETTINGS).flatMap((s) => Object.keys(s)),
  ...DIRECT_READS,
]);

const SECRETS = new Set([...FIELDS].filter(([, f]) => f.secret).map(([name]) => name));

/**
 * Variables configuration.md may name that no service reads. Each must appear in scripts/ or
 * infra/local/ (the shell scripts behind npm start / test / stop and the stack).
 */
const SCRIPT_ONLY = new Set([
  'PARLEY_DATA_DIR', // infra/local/lib/common.sh: where the stack keeps its data
  'PARLEY_CACHE_DIR', // infra/local/lib/common.sh: the download cache
  'PARLEY_KEEP_STACK', // scripts/test.sh: leave the stack running after npm test
]);

/** Placeholders in prose, not variables: `NAME_FILE` stands for any secret's file variable. */
const PLACEHOLDERS = new Set(['NAME_FILE']);

const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{2,}[A-Z0-9]*$/;

const configDoc = read('docs/configuration.md');

interface ConfigRow {
  readonly names: string[];
  readonly usedBy: string;
  readonly dev: string;
  readonly stageProd: string;
  readonly line: string;
}

/** The rows of configuration.md's tables, "same" in "used by" resolved from the row above. */
function configRows(): ConfigRow[] {
  const rows: ConfigRow[] = [];
  for (const table of tablesIn(configDoc)) {
    const header = (table[0] ?? []).map((c) => c.toLowerCase());
    if (header[0] !== 'variable') continue;
    const col = (name: string) => header.indexOf(name);
    assert.ok(col('used by') > 0 && col('default (dev)') > 0 && col('stage / prod') > 0);
    let previousUsedBy = '';
    for (const cells of table.slice(1)) {
      const names = backticked(cells[0] ?? '');
      let usedBy = cells[col('used by')] ?? '';
      if (usedBy === 'same') usedBy = previousUsedBy;
      previousUsedBy = usedBy;
      rows.push({
        names,
        usedBy,
        dev: cells[col('default (dev)')] ?? '',
        stageProd: cells[col('stage / prod')] ?? '',
        line: `| ${cells.join(' | ')} |`,
      });
    }
  }
  return rows;
}

/** The processes a "used by" cell names; parentheses are plans, not claims about today. */
function usedBy(cell: string): string[] | 'all' {
  const text = cell
    .replace(/\([^)]*\)/g, '')
    .replace(/`/g, '')
    .trim();
  if (text === 'all') return 'all';
  return text
    .split(',')
    .map((s) => s.trim())
    .flatMap((s) =>
      s === 'services'
        ? Object.entries(CONSUMERS)
            .filter(([, c]) => c.service)
            .map(([n]) => n)
        : [s],
    );
}

/** A field's default in one environment, as the docs write it. */
function shown(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : String(value);
}

/**
 * The values a default cell states, one per variable of the row: `x` tokens, "empty" (''),
 * "none" (no default), or "same" (the dev value); text in parentheses is commentary.
 */
function statedValues(cell: string, count: number, same?: (string | undefined)[]) {
  const text = cell.replace(/\([^)]*\)/g, '').trim();
  if (text.startsWith('same')) return same;
  if (text.startsWith('none')) return Array<string | undefined>(count).fill(undefined);
  if (text.startsWith('empty')) return Array<string | undefined>(count).fill('');
  const tokens = backticked(text);
  return tokens.length === count ? tokens : undefined;
}

function devDefault(name: string): string | undefined {
  const field = FIELDS.get(name);
  if (field) return shown(field.defaults.dev);
  return processorSpec.literalDefaults.get(name);
}

// ---------------------------------------------------------------------------------------------

describe('docs/configuration.md and the settings in code', () => {
  const rows = configRows();
  const documented = new Set(rows.flatMap((r) => r.names));
  const mentioned = new Set(
    backticked(configDoc)
      .map((t) => t.replace(/=.*$/, ''))
      .filter((t) => ENV_NAME.test(t)),
  );

  it('reads the settings of every process (parser checked against the importable ones)', () => {
    for (const [file, spec] of [
      ['command-api/src/config.ts', commandApiSettings],
      ['projectors/src/config.ts', projectorSettings],
      ['query-api/src/config.ts', queryApiSettings],
      ['assistant/src/config.ts', assistantSettings],
    ] as const) {
      assert.deepEqual(
        [...parseSettings(file, 'settings').names].sort(),
        Object.keys(spec).sort(),
        file,
      );
    }
    assert.equal(processorSpec.port, 3003);
    assert.ok(processorSpec.names.includes('PROCESSOR_GROUP_ID'));
    assert.ok(bootstrapSpec.names.includes('TOPIC_PARTITIONS'));
    assert.ok(DIRECT_READS.has('PARLEY_ENV'), 'platform/src/config.ts reads PARLEY_ENV');
    assert.ok(rows.length > 20, 'configuration.md has its variable tables');
  });

  it('knows every settings object declared in the services', () => {
    // The settings objects CONSUMERS reads; any other (e.g. a test fixture's, or a new
    // entrypoint's) must at least be documented. query-api is left out while it is incomplete.
    const consumed = new Set([
      'command-api/src/config.ts:settings',
      'command-api/src/processor/config.ts:processorSettings',
      'projectors/src/config.ts:settings',
      'query-api/src/config.ts:settings',
      'assistant/src/config.ts:settings',
      'schemas/src/bootstrap/settings.ts:bootstrapSettings',
    ]);
    const skip = (file: string) =>
      file.startsWith('query-api/') && !CONSUMERS['query-api']?.complete;
    let seen = 0;
    for (const file of SERVICE_SOURCES) {
      for (const m of read(file).matchAll(/^(?:export )?const (\w*[sS]ettings)\b[^=]*= \{/gm)) {
        const name = m[1] ?? '';
        seen++;
        if (SHARED_SETTINGS[name] || consumed.has(`${file}:${name}`) || skip(file)) continue;
        for (const variable of parseSettings(file, name).names) {
          assert.ok(documented.has(variable), `${variable} (${file}, ${name}) is documented`);
        }
      }
    }
    assert.ok(seen >= consumed.size + Object.keys(SHARED_SETTINGS).length - 1, 'found them');
  });

  it('documents every variable a process reads', () => {
    const missing = [...MUST_DOCUMENT].filter((name) => !documented.has(name)).sort();
    assert.deepEqual(missing, [], 'variables read in code but missing from configuration.md');
  });

  it('names only variables that exist', () => {
    const unknown = [...mentioned].filter((name) => {
      if (ALL_IN_CODE.has(name) || PLACEHOLDERS.has(name)) return false;
      const secret = /^(.+)_FILE$/.exec(name)?.[1];
      if (secret && SECRETS.has(secret)) return false;
      return !SCRIPT_ONLY.has(name);
    });
    assert.deepEqual(unknown.sort(), [], 'named in configuration.md but not read anywhere');
    for (const name of [...mentioned].filter((n) => /_FILE$/.test(n) && !PLACEHOLDERS.has(n))) {
      assert.ok(SECRETS.has(name.replace(/_FILE$/, '')), `${name}: only secrets have a _FILE`);
    }
  });

  it('script-only variables are used by the scripts', () => {
    const scripts = [...walk('scripts'), ...walk('infra/local')].map(read).join('\n');
    for (const name of SCRIPT_ONLY) {
      assert.ok(mentioned.has(name), `${name} is still documented (else drop it from the list)`);
      assert.ok(scripts.includes(name), `${name} appears in scripts/ or infra/local/`);
    }
  });

  it('"used by" names exactly the processes that read each variable', () => {
    const { problems, claimed } = usedByClaims(rows);
    for (const [process, consumer] of Object.entries(CONSUMERS)) {
      if (!consumer.complete) continue;
      const leftOut = consumer.names.filter(
        (name) => !DIRECT_READS.has(name) && !claimed.get(name)?.has(process),
      );
      problems.push(...leftOut.map((n) => `${n}: read by ${process}, which "used by" leaves out`));
    }
    assert.deepEqual(problems, []);
  });

  it('states the defaults, secrets and stage/prod requirements of the code', () => {
    assert.deepEqual(rows.flatMap(defaultProblems), []);
  });
});

function falseClaim(name: string, process: string): string[] {
  const consumer = CONSUMERS[process];
  if (!consumer) return [`${name}: '${process}' is not a process of this test`];
  return consumer.names.includes(name) ? [] : [`${name}: not read by ${process}`];
}

/** What each row's "used by" claims, and the claims that are false. */
function usedByClaims(rows: readonly ConfigRow[]) {
  const problems: string[] = [];
  const claimed = new Map<string, Set<string>>();
  for (const row of rows) {
    const processes = usedBy(row.usedBy);
    for (const name of row.names) {
      if (processes === 'all') {
        if (!DIRECT_READS.has(name)) problems.push(`${name} is not read by every process`);
        continue;
      }
      claimed.set(name, new Set([...(claimed.get(name) ?? []), ...processes]));
      problems.push(...processes.flatMap((process) => falseClaim(name, process)));
    }
  }
  return { problems, claimed };
}

/** Collects mismatches between what a row says and what the code has. */
function mismatches(row: ConfigRow) {
  const problems: string[] = [];
  const check = (stated: unknown, inCode: unknown, what: string) => {
    if (JSON.stringify(stated) !== JSON.stringify(inCode)) {
      problems.push(
        `${row.names.join(', ')}: ${what} is ${JSON.stringify(inCode)}, docs say ${JSON.stringify(stated)}`,
      );
    }
  };
  return { problems, check };
}

/** The dev (and test) defaults a row states, against the code's. */
function devDefaultProblems(row: ConfigRow): string[] {
  const { problems, check } = mismatches(row);
  const fields = row.names.map((n) => FIELDS.get(n));
  const dev = row.names.map(devDefault);
  // Per-service values, e.g. "command-api 3000, query-api 3001".
  const perService = [...row.dev.matchAll(/([a-z][a-z-]+) (\d+)/g)];
  if (perService.length > 0 && row.names.length === 1) {
    const name = row.names[0] ?? '';
    const ports = new Map(perService.map((m) => [m[1] ?? '', m[2] ?? '']));
    for (const [process, consumer] of Object.entries(CONSUMERS)) {
      if (!consumer.names.includes(name)) continue;
      const value = consumer.spec
        ? shown(consumer.spec[name]?.defaults.dev)
        : consumer.parsed?.port?.toString();
      check(ports.get(process), value, `the default of ${process}`);
    }
  } else if (dev.some((d) => d !== undefined) || fields.every(Boolean)) {
    check(statedValues(row.dev, row.names.length), dev, 'the dev default');
  }
  const inTest = /`([^`]+)` in test/.exec(row.dev)?.[1];
  if (inTest) check(inTest, shown(fields[0]?.defaults.test), 'the test default');
  return problems;
}

/** Whether a row's variables are secrets and required in stage and prod, and their values. */
function stageProdProblems(row: ConfigRow): string[] {
  const { problems, check } = mismatches(row);
  const fields = row.names.map((n) => FIELDS.get(n));
  if (!fields.every(Boolean)) return problems;
  const required = /required/.test(row.stageProd);
  for (const [i, field] of fields.entries()) {
    const name = row.names[i];
    check(/secret/.test(row.stageProd), field?.secret, `whether ${name} is a secret`);
    for (const environment of ['stage', 'prod'] as const) {
      const value = shown(field?.defaults[environment]);
      check(required, value === undefined, `whether ${name} is required in ${environment}`);
    }
  }
  if (!required) {
    const stated = statedValues(row.stageProd, row.names.length, row.names.map(devDefault));
    check(
      stated,
      fields.map((f) => shown(f?.defaults.prod)),
      'the stage/prod value',
    );
  }
  return problems;
}

const defaultProblems = (row: ConfigRow) => [...devDefaultProblems(row), ...stageProdProblems(row)];

/**
 * Names the docs quote that are decided but not in the code yet; each page says so. Remove a
 * name once the code has it.
 */
const PLANNED_NAMES = new Set<string>([]);

describe('UPPER_CASE names quoted anywhere in the docs', () => {
  it('each is a variable, code or setting that appears outside the docs', () => {
    const corpus = [...walk('.')]
      .filter((f) => !f.endsWith('.md') && join(ROOT, f) !== SELF && f !== 'package-lock.json')
      .filter((f) => statSync(join(ROOT, f)).size < 2 ** 21)
      .map(read)
      .join('\n');
    const inCode = (name: string) => new RegExp(`\\b${name}\\b`).test(corpus);
    const quoted = DOC_FILES.flatMap((file) =>
      backticked(read(file))
        .map((token) => token.replace(/=.*$/, ''))
        .filter((name) => /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(name))
        .map((name) => ({ file, name })),
    );
    assert.ok(quoted.length > 50, 'the docs quote names');
    const unknown = quoted.filter(
      ({ name }) =>
        !PLACEHOLDERS.has(name) &&
        !PLANNED_NAMES.has(name) &&
        !SECRETS.has(name.replace(/_FILE$/, '')) && // a secret's mounted-file variable
        !inCode(name),
    );
    assert.deepEqual(
      unknown.map(({ file, name }) => `${file}: ${name}`),
      [],
    );
    for (const name of PLANNED_NAMES) assert.ok(!inCode(name), `${name} exists now: not planned`);
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP routes

/**
 * The HTTP APIs whose routes the docs describe, each built from its own app.ts and config.ts
 * without any running service.
 */
const APIS: readonly { service: string; port: number }[] = [
  { service: 'command-api', port: 3000 },
  { service: 'query-api', port: 3001 },
  { service: 'projectors', port: 3002 },
];

const asFastifyPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');
const asDocPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
const ROUTE_MENTION =
  /\b(GET|POST|PUT|PATCH|DELETE|HEAD)\s+(?:(?:https?:\/\/)?(?:127\.0\.0\.1|localhost):(\d+))?(\/[\w\-./{}:]*)/g;

describe('HTTP routes in README.md, docs/README.md and docs/architecture.md', () => {
  const apis: BuiltApi[] = [];
  before(async () => {
    for (const { service, port } of APIS) apis.push(await buildApi(service, port));
  });
  after(async () => {
    for (const api of apis) await api.app.close();
  });

  const mentions = ROUTE_DOCS.flatMap((file) =>
    [...read(file).matchAll(ROUTE_MENTION)].map((m) => ({
      file,
      method: m[1] ?? '',
      port: m[2] ? Number(m[2]) : undefined,
      path: (m[3] ?? '').replace(/[.:]+$/, ''),
    })),
  );

  it('reads the route tree of each API (checked against its OpenAPI document)', () => {
    for (const api of apis) {
      assert.ok(api.routes.some((r) => r.path === '/health/ready' && r.method === 'GET'));
      const withOpenApi = api.app as FastifyInstance & { swagger?: () => unknown };
      if (!withOpenApi.swagger) continue;
      const doc = withOpenApi.swagger() as { paths: Record<string, Record<string, unknown>> };
      const fromOpenApi = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
      );
      assert.ok(fromOpenApi.length > 5, `${api.service} has an OpenAPI document`);
      const fromTree = api.routes.map((r) => `${r.method} ${asDocPath(r.path)}`);
      for (const route of fromOpenApi) assert.ok(fromTree.includes(route), route);
    }
  });

  it('every METHOD /path they mention is a route', () => {
    assert.ok(mentions.length > 10, 'the pages mention routes');
    for (const mention of mentions) {
      const candidates = apis.filter((a) => mention.port === undefined || a.port === mention.port);
      assert.ok(
        candidates.length > 0,
        `${mention.file}: no API in APIS listens on ${mention.port}`,
      );
      const url = asFastifyPath(mention.path);
      assert.ok(
        candidates.some((api) => api.app.hasRoute({ method: mention.method, url })),
        `${mention.file}: ${mention.method} ${mention.path} is not a route of ${candidates
          .map((a) => a.service)
          .join(' or ')}`,
      );
    }
  });

  it('every path they quote (`/v1/…`, `/health/…`) is a route or a prefix of one', () => {
    for (const file of ROUTE_DOCS) {
      for (const token of backticked(withoutFences(read(file)))) {
        if (!/^\/(v1|health|metrics|docs)\b/.test(token) || /\s/.test(token)) continue;
        const path = asFastifyPath(token).replace(/\/$/, '');
        const ok = apis.some((api) =>
          api.routes.some((r) => r.path === path || r.path.startsWith(`${path}/`)),
        );
        assert.ok(ok, `${file}: \`${token}\` is not a route (or a prefix of one)`);
      }
    }
  });

  it('mention every public /v1 route of each API as METHOD /path', () => {
    const named = new Set(mentions.map((m) => `${m.method} ${asFastifyPath(m.path)}`));
    for (const api of apis) {
      const publicRoutes = api.routes.filter(
        (r) => r.path.startsWith('/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS',
      );
      assert.ok(publicRoutes.length > 0, `${api.service} has /v1 routes`);
      const missing = publicRoutes
        .map((r) => `${r.method} ${asDocPath(r.path)}`)
        .filter((route) => ![...named].some((n) => asDocPath(n) === route));
      assert.deepEqual(missing, [], `${api.service} routes the docs do not mention`);
    }
  });

  it("the command API's OpenAPI text asks clients to send back only what the query API takes", () => {
    const openApi = (service: string) => {
      const api = apis.find((a) => a.service === service);
      const withOpenApi = api?.app as (FastifyInstance & { swagger?: () => unknown }) | undefined;
      assert.ok(withOpenApi?.swagger, `${service} has an OpenAPI document`);
      return withOpenApi.swagger();
    };
    // The headers and query parameters of every query API route (x-min-version, minVersion, …).
    const taken = new Set(
      nodesOf(openApi('query-api'))
        .filter((n) => n.in === 'header' || n.in === 'query')
        .map((n) => String(n.name).toLowerCase()),
    );
    assert.ok(taken.has('x-min-version'), 'the query API takes X-Min-Version');
    const described = nodesOf(openApi('command-api')).flatMap((n) =>
      Object.entries((n.properties ?? {}) as Record<string, { description?: unknown }>)
        .map(([property, schema]) => ({ property, text: String(schema?.description ?? '') }))
        .filter(({ text }) => /query API/i.test(text)),
    );
    assert.ok(described.length > 0, 'a command response tells clients how to read their writes');
    const problems = described.flatMap(({ property, text }) => [
      ...(/\b(pass|send) it\b/i.test(text) &&
      ![...taken].some((name) => name.includes(property.toLowerCase()))
        ? [`${property}: "${text}", but the query API takes no ${property}`]
        : []),
      ...(text.match(/\bX-[A-Za-z-]+/g) ?? [])
        .filter((header) => !taken.has(header.toLowerCase()))
        .map((header) => `${property}: the query API takes no ${header}`),
    ]);
    assert.deepEqual([...new Set(problems)], []);
  });
});

/** Every object in a JSON document, depth first. */
function nodesOf(node: unknown): Record<string, unknown>[] {
  if (Array.isArray(node)) return node.flatMap(nodesOf);
  if (!node || typeof node !== 'object') return [];
  return [node as Record<string, unknown>, ...Object.values(node).flatMap(nodesOf)];
}

// ---------------------------------------------------------------------------------------------
// Review notes, links

describe('docs/README.md maps the 23 review notes', () => {
  const md = read('docs/README.md');
  const table = tablesIn(md).find((t) => t[0]?.[0] === '#');

  it('has one row per note, 1 to 23 in order, each linking to an existing page under docs/', () => {
    assert.ok(table, 'docs/README.md has a table whose first column is #');
    const rows = table.slice(1);
    assert.deepEqual(
      rows.map((r) => r[0]),
      Array.from({ length: 23 }, (_, i) => String(i + 1)),
    );
    for (const row of rows) {
      const links = linksIn('docs/README.md', row.slice(1).join(' | ')).filter(
        (l) => !isExternal(l.target),
      );
      assert.ok(links.length > 0, `note ${row[0]} links to where it is answered`);
      for (const link of links) {
        assert.equal(brokenLink(link), undefined, `note ${row[0]}: ${link.target}`);
        const target = resolve(ROOT, 'docs', link.target.split('#')[0] ?? '');
        assert.ok(target.startsWith(join(ROOT, 'docs')), `note ${row[0]}: ${link.target}`);
      }
    }
  });
});

describe('Markdown links', () => {
  it('every relative link in README.md and docs/ resolves to a file and heading', () => {
    const links = DOC_FILES.flatMap((file) => linksIn(file, read(file)));
    assert.ok(links.length > 50, 'links found');
    const broken = links.flatMap((link) => {
      const why = brokenLink(link);
      return why ? [`${link.file}:${link.line} (${link.target}): ${why}`] : [];
    });
    assert.deepEqual(broken, []);
  });

  it('every repository path quoted in code style (`command-api/src/app.ts`) exists', () => {
    const topLevel = new Set(readdirSync(ROOT));
    let seen = 0;
    const missing: string[] = [];
    for (const file of DOC_FILES) {
      for (const token of backticked(read(file))) {
        const path = token.replace(/\/$/, '');
        // Globs and placeholders (`schemas/avro/<context>/…`) are patterns, not paths.
        if (!path.includes('/') || /[\s*<>{}|…]/.test(path)) continue;
        if (!topLevel.has(path.split('/')[0] ?? '')) continue;
        seen++;
        if (!existsSync(join(ROOT, path))) missing.push(`${file}: ${token}`);
      }
    }
    assert.ok(seen > 20, 'the docs quote paths');
    assert.deepEqual(missing, []);
  });

  it('computes anchors as GitHub does', () => {
    const page = '# A `code` title\n## Containers and Kubernetes (planned)\n## Same\n## Same\n';
    assert.deepEqual(
      [...anchors(page)],
      ['a-code-title', 'containers-and-kubernetes-planned', 'same', 'same-1'],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL tables

/** A pool that answers every query with no rows and keeps the SQL. */
function recordingPool(): { pool: Pool; sql: string[] } {
  const sql: string[] = [];
  const client = {
    query: async (text: string) => {
      sql.push(text);
      return { rows: [] };
    },
    release: () => {},
  };
  return { pool: { ...client, connect: async () => client } as unknown as Pool, sql };
}

/** The files with DDL; the test runs each one's DDL against a recording pool. */
const DDL_FILES = [
  'platform/src/migrate.ts',
  'command-api/src/identity/store-schema.ts',
  'projectors/src/runtime/generations.ts',
  'projectors/src/read-models/users/projection.ts',
  'projectors/src/read-models/usage-daily/projection.ts',
];

/** Every table the code creates, with generation numbers written `_g<n>` as in the docs. */
async function tablesInCode(): Promise<Set<string>> {
  const { pool, sql } = recordingPool();
  await migrate(pool, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS);
  await ensureReadSchema(pool);
  for (const projection of PROJECTIONS) {
    if (projection.store !== 'postgres') continue;
    const generation = { projection: projection.name, number: 7, namespace: '' };
    await projection.prepare({ pool } as unknown as Stores, generation);
  }
  return new Set(
    sql
      .flatMap((s) => [...s.matchAll(/create table (?:if not exists )?([a-z_]+\.[a-z0-9_]+)/gi)])
      .map((m) => (m[1] ?? '').replace(/_g7$/, '_g<n>')),
  );
}

describe('PostgreSQL tables named in the docs', () => {
  let tables = new Set<string>();
  before(async () => {
    tables = await tablesInCode();
  });

  it('finds every table the code creates', () => {
    for (const file of SERVICE_SOURCES) {
      if (/create table/i.test(read(file))) {
        assert.ok(DDL_FILES.includes(file), `${file} creates tables; add its DDL to this test`);
      }
    }
    for (const table of ['identity.accounts', 'identity.migrations', 'read.generations']) {
      assert.ok(tables.has(table), `${table} among ${[...tables].join(', ')}`);
    }
    assert.ok(tables.has('read.users_g<n>'));
  });

  it('every schema.table in the docs exists', () => {
    const schemas = new Set([...tables].map((t) => t.split('.')[0]));
    const topics = new Set(
      topicCatalogue({ environment: 'dev', partitions: 1 }).map((t) => t.name),
    );
    let seen = 0;
    for (const file of DOC_FILES) {
      for (const m of read(file).matchAll(/\b([a-z_]+)\.([a-z0-9_]+(?:<n>)?)(?![\w-])/g)) {
        const name = `${m[1]}.${m[2]}`;
        if (!schemas.has(m[1]) || topics.has(name)) continue;
        seen++;
        assert.ok(tables.has(name), `${file}: ${name} is not a table the code creates`);
      }
    }
    assert.ok(seen > 5, 'the docs name tables');
  });

  it('each "table (schema `x`)" table lists exactly that schema\'s tables', () => {
    let seen = 0;
    for (const file of DOC_FILES) {
      for (const table of tablesIn(read(file))) {
        const schema = /^table \(schema `(\w+)`\)$/.exec(table[0]?.[0] ?? '')?.[1];
        if (!schema) continue;
        seen++;
        const listed = table.slice(1).map((row) => `${schema}.${backticked(row[0] ?? '')[0]}`);
        const inCode = [...tables].filter(
          (t) => t.startsWith(`${schema}.`) && t !== `${schema}.migrations`,
        );
        assert.deepEqual(listed.sort(), inCode.sort(), `${file}: tables of schema ${schema}`);
      }
    }
    assert.ok(seen > 0, 'architecture.md lists the identity tables');
  });
});

// ---------------------------------------------------------------------------------------------
// Claims in prose that the code decides

/**
 * The text of a page as blocks: each paragraph, list item and heading joined into one line, each
 * table cell on its own; fenced code left out.
 */
function blocksOf(md: string): string[] {
  const blocks: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length > 0) blocks.push(current.join(' '));
    current = [];
  };
  for (const raw of withoutFences(md).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('|')) {
      flush();
      blocks.push(...line.replace(/^\||\|$/g, '').split(/(?<!\\)\|/));
    } else if (line === '' || /^(#|[-*] |\d+\. )/.test(line)) {
      flush();
      if (line !== '') current.push(line);
    } else {
      current.push(line);
    }
  }
  flush();
  return blocks.map((b) => b.trim()).filter(Boolean);
}

/** Sentences of a page (table cells count as one each). */
const sentencesOf = (md: string) =>
  blocksOf(md).flatMap((block) => block.split(/(?<=[.!?])\s+(?=[A-Z`*(["])/));

/** Clauses: sentences cut at semicolons, so "built: a; planned: b" is two claims. */
const clausesOf = (md: string) => sentencesOf(md).flatMap((s) => s.split(/;\s+/));

const normalName = (text: string) => text.replace(/`/g, '').replace(/-/g, ' ').trim().toLowerCase();

/** Metric names registered with prom-client in the services. */
const METRICS = registeredMetricNames();
const METRIC_NAME = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:total|seconds|events|ratio|bytes|count)$/;

describe('Registration and the data key (command-api/src/auth/routes.ts)', () => {
  const PAGES = [
    'docs/architecture.md',
    'docs/adr/0010-postgresql-for-users-and-credentials.md',
    'docs/adr/0012-architecture-patterns.md',
    'docs/adr/0020-identity-and-security.md',
  ];

  it('the register route commits the data key before the account transaction, and drops it on failure', () => {
    const routes = read('command-api/src/auth/routes.ts');
    const handler = routes.slice(
      routes.indexOf("'/v1/auth/register'"),
      routes.indexOf("'/v1/auth/login'"),
    );
    const encrypt = handler.indexOf('cipher.encrypt(');
    assert.ok(encrypt > 0, 'the register route encrypts the personal fields');
    assert.ok(handler.indexOf("query('begin')") > encrypt, 'the key is made before begin');
    assert.doesNotMatch(handler, /cipher\.encrypt\([^)]*,[^)]*,/, 'outside the transaction');
    assert.match(handler, /cipher\.erase\(/, 'a failed registration deletes the key');
  });

  it('no page puts the data key in the transaction of the account', () => {
    const wrong = DOC_FILES.flatMap((file) =>
      sentencesOf(read(file))
        .filter((s) => /regist/i.test(s) && /transaction/i.test(s) && /data key/i.test(s))
        .filter((s) => !/\b(first|before|on its own|deleted?|deletes)\b/i.test(s))
        .map((s) => `${file}: ${s}`),
    );
    assert.deepEqual(wrong, []);
  });

  it('the pages on registration say the key commits first and is deleted when registration fails', () => {
    for (const file of PAGES) {
      const said = sentencesOf(read(file)).filter((s) => /regist/i.test(s) && /data key/i.test(s));
      assert.ok(
        said.some((s) => /\b(first|before)\b/i.test(s)),
        `${file}: the data key commits first`,
      );
      assert.ok(
        said.some((s) => /\bdelet/i.test(s)),
        `${file}: the key is deleted on failure`,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Benchmark figures

const RESULTS = new Map(
  readdirSync(join(ROOT, 'bench/results'))
    .filter((f) => f.endsWith('.json') && !f.endsWith('.tmp.json'))
    .map((f) => [
      f.replace(/\.json$/, ''),
      JSON.parse(read(`bench/results/${f}`)) as Record<string, unknown>,
    ]),
);

/** The value at `a.b[2].c` in a results file. */
function valueAt(data: unknown, path: string): unknown {
  let node = data;
  for (const part of path.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const FIGURE = /^(-?\d[\d,]*(?:\.\d+)?)(?:\s*(ms|MB))?$/;

/** A figure as written ("0.083", "6,582", "126 ms", "245 MB"), in the unit it is written in. */
function inWrittenUnit(written: string, actual: number): number {
  return FIGURE.exec(written.trim())?.[2] === 'MB' ? actual / 2 ** 20 : actual;
}

/** Why a written figure is not the JSON's value (rounded as written), or undefined. */
function figureProblem(where: string, key: string, written: string, actual: unknown) {
  const m = FIGURE.exec(written.trim());
  if (!m) return `${where}: cannot read '${written}' as the figure of ${key}`;
  if (typeof actual !== 'number') return `${where}: ${key} is not a number in the results`;
  const digits = m[1] ?? '';
  const decimals = (digits.split('.')[1] ?? '').length;
  const stated = Number(digits.replace(/,/g, ''));
  const value = inWrittenUnit(written, actual);
  return Math.abs(value - stated) <= 0.5 * 10 ** -decimals + 1e-9
    ? undefined
    : `${where}: ${key} is ${value}, the docs say ${written}`;
}

const KEY_AND_FIGURE = /`([A-Za-z][\w.[\]]*)`\s+(-?\d[\d,]*(?:\.\d+)?)(?![\d.])/g;

/** The figure rows of requirements.md (benchmark, figure, measured, target, met). */
function figureRows(): string[][] {
  const table = tablesIn(read('docs/requirements.md')).find(
    (t) => t[0]?.[0] === 'benchmark' && t[0].includes('measured'),
  );
  assert.ok(table, 'requirements.md has a table of measured figures');
  return table.slice(1);
}

/** Requirement rows by id, with the header of their table. */
function requirementRows(): Map<string, { cells: string[]; header: string[] }> {
  const rows = new Map<string, { cells: string[]; header: string[] }>();
  for (const table of tablesIn(read('docs/requirements.md'))) {
    const header = table[0] ?? [];
    if (header[0] !== 'id') continue;
    for (const cells of table.slice(1)) rows.set(cells[0] ?? '', { cells, header });
  }
  return rows;
}

const TARGET = /^`([<>]=?) (\d+(?:\.\d+)?)( MB)?`(?: \(([A-Z]+-[A-Z]+-\d+)\))?$/;

function meets(value: number, op: string, threshold: number): boolean {
  if (op === '<') return value < threshold;
  if (op === '<=') return value <= threshold;
  if (op === '>') return value > threshold;
  return value >= threshold;
}

/** What is wrong with one row of the measured figures. */
function figureRowProblems(cells: string[], requirements: ReturnType<typeof requirementRows>) {
  const [benchmark = '', figure = '', measured = '', target = '', met = ''] = cells;
  const data = RESULTS.get(benchmark);
  if (!data) return [`no bench/results/${benchmark}.json`];
  const key = backticked(figure)[0] ?? '';
  const where = `${benchmark}: ${key}`;
  const actual = valueAt(data, key);
  const problems = [figureProblem(where, key, measured, actual)];
  for (const m of figure.matchAll(KEY_AND_FIGURE)) {
    problems.push(figureProblem(where, m[1] ?? '', m[2] ?? '', valueAt(data, m[1] ?? '')));
  }
  if (target === 'none') {
    if (met !== '') problems.push(`${where}: no target, so nothing is met or not`);
    return problems;
  }
  const t = TARGET.exec(target);
  if (!t || typeof actual !== 'number') return [...problems, `${where}: cannot read '${target}'`];
  const [, op = '', threshold = '', unit = '', requirement] = t;
  const comparison = `${op} ${threshold}${unit}`;
  const targets = Object.values((data.targets ?? {}) as Record<string, unknown>).map(String);
  const row = requirement ? requirements.get(requirement)?.cells.join(' | ') : undefined;
  if (!targets.includes(comparison) && !row?.includes(`${threshold} ms`)) {
    problems.push(
      `${where}: '${comparison}' is neither in the file's targets nor in ${requirement}`,
    );
  }
  const expected = meets(inWrittenUnit(measured, actual), op, Number(threshold)) ? 'yes' : 'no';
  if (met !== expected) problems.push(`${where}: met is '${expected}', the docs say '${met}'`);
  return problems;
}

describe('Benchmark figures in the docs (bench/results/*.json)', () => {
  it('requirements.md quotes each figure, target and verdict as the results files have them', () => {
    const requirements = requirementRows();
    const rows = figureRows();
    assert.ok(rows.length >= 10, 'the table has the figures');
    const problems = rows.flatMap((cells) => figureRowProblems(cells, requirements));
    assert.deepEqual(problems.filter(Boolean), []);
  });

  it('requirements.md lists every ratio of each benchmark that has targets', () => {
    const listed = new Set(figureRows().map((r) => `${r[0]}: ${backticked(r[1] ?? '')[0]}`));
    for (const [benchmark, data] of RESULTS) {
      if (!data.targets) continue;
      for (const key of Object.keys(data).filter((k) => k.startsWith('ratio'))) {
        assert.ok(listed.has(`${benchmark}: ${key}`), `${benchmark}: ${key} is in the table`);
      }
    }
  });

  it('the status of each requirement the table measures says whether it is met', () => {
    const requirements = requirementRows();
    const verdicts = new Map<string, string[]>();
    for (const [, , , target = '', met = ''] of figureRows()) {
      const id = TARGET.exec(target)?.[4];
      if (id) verdicts.set(id, [...(verdicts.get(id) ?? []), met]);
    }
    assert.ok(verdicts.size >= 3, 'the table names the requirements it measures');
    for (const [id, mets] of verdicts) {
      const row = requirements.get(id);
      assert.ok(row, `${id} is a requirement`);
      const status = row.cells[row.header.indexOf('status')] ?? '';
      if (mets.every((m) => m === 'no')) assert.match(status, /\bnot met\b/, id);
      else if (mets.every((m) => m === 'yes')) assert.doesNotMatch(status, /not met|planned/, id);
      assert.match(status, /\bmet\b/, `${id}: the status says whether it is met`);
    }
  });

  it('every `key` figure quoted in the docs and bench/README.md is the one in the results', () => {
    // Top-level keys found in exactly one results file; the table above names its file per row.
    const owners = new Map<string, string[]>();
    for (const [benchmark, data] of RESULTS) {
      for (const key of Object.keys(data)) owners.set(key, [...(owners.get(key) ?? []), benchmark]);
    }
    let seen = 0;
    const problems: (string | undefined)[] = [];
    for (const file of [...DOC_FILES, 'bench/README.md']) {
      for (const m of read(file).matchAll(KEY_AND_FIGURE)) {
        const key = m[1] ?? '';
        const benchmark = owners.get(key);
        if (benchmark?.length !== 1) continue;
        seen++;
        const data = RESULTS.get(benchmark[0] ?? '');
        problems.push(figureProblem(file, key, m[2] ?? '', valueAt(data, key)));
      }
    }
    assert.ok(seen >= 3, 'the docs quote figures by key');
    assert.deepEqual(problems.filter(Boolean), []);
  });

  it('ADR 0017 quotes the figures of the queries and freshness benchmarks by key', () => {
    const quoted = [...read('docs/adr/0017-caching-and-performance.md').matchAll(KEY_AND_FIGURE)];
    for (const benchmark of ['queries', 'freshness']) {
      const keys = Object.keys(RESULTS.get(benchmark) ?? {});
      assert.ok(
        quoted.some((m) => keys.includes(m[1] ?? '')),
        `ADR 0017 quotes a figure of bench/results/${benchmark}.json`,
      );
    }
  });

  it('no page says the figures are missing while bench/results has them', () => {
    assert.ok(RESULTS.size >= 4, 'bench/results holds the committed runs');
    const missing =
      /\bno (committed )?figures\b|figures are not committed|no figures are committed|planned[^.]*\bbenchmark figures\b/i;
    const wrong = [...DOC_FILES, 'bench/README.md'].flatMap((file) =>
      sentencesOf(read(file))
        .filter((s) => missing.test(s))
        .map((s) => `${file}: ${s}`),
    );
    assert.deepEqual(wrong, []);
  });
});

// ---------------------------------------------------------------------------------------------
// Metrics, CORS, rate limits, indexes, services, delivery

describe('Prometheus metrics named in the docs', () => {
  it('finds the metrics the services register', () => {
    assert.ok(METRICS.has('http_request_duration_seconds'), [...METRICS].join(', '));
    assert.ok(METRICS.size >= 5);
  });

  it('every metric name quoted in the docs is registered in the code', () => {
    const unknown = DOC_FILES.flatMap((file) =>
      backticked(read(file))
        .filter((t) => METRIC_NAME.test(t) && !METRICS.has(t))
        .map((t) => `${file}: ${t}`),
    );
    assert.deepEqual(unknown, []);
  });

  it('ADR 0016 names every metric the code registers', () => {
    const quoted = new Set(
      backticked(read('docs/adr/0016-health-checks-and-failure-reporting.md')),
    );
    assert.deepEqual(
      [...METRICS].filter((m) => !quoted.has(m)),
      [],
    );
  });

  it('no clause that calls something planned names what the code has built', () => {
    // Metrics, and secrets read from <NAME>_FILE (platform/src/config.ts).
    const built = [...METRICS];
    if (/\$\{name\}_FILE/.test(read('platform/src/config.ts'))) built.push('<NAME>_FILE');
    const wrong = DOC_FILES.flatMap((file) =>
      clausesOf(read(file))
        .filter((c) => /\bplanned\b/i.test(c))
        .filter((c) => backticked(c).some((t) => built.includes(t)))
        .map((c) => `${file}: ${c}`),
    );
    assert.deepEqual(wrong, []);
  });

  it('NFR-OB-2 gives as built each measure the code has, and as planned the others', () => {
    const measures: Record<string, RegExp> = {
      'HTTP latency': /^http_request_duration/,
      'consumer lag': /lag/,
      'projection delay': /delay/,
      'DLQ counts': /dead_letter/,
      'breaker states': /breaker/,
    };
    const row = requirementRows().get('NFR-OB-2');
    assert.ok(row, 'requirements.md has NFR-OB-2');
    const cell = (name: string) => row.cells[row.header.indexOf(name)] ?? '';
    const claims = clausesOf(`${cell('acceptance measure')}.`).filter((c) => !/planned/i.test(c));
    for (const [measure, pattern] of Object.entries(measures)) {
      assert.ok(cell('requirement').includes(measure), `NFR-OB-2 asks for ${measure}`);
      const metrics = [...METRICS].filter((m) => pattern.test(m));
      if (metrics.length === 0) {
        assert.match(cell('status'), /planned/, `${measure}: no metric yet, so planned`);
        continue;
      }
      assert.match(cell('status'), /built/, measure);
      assert.ok(
        claims.some((c) => backticked(c).some((t) => metrics.includes(t))),
        `${measure}: NFR-OB-2 quotes ${metrics.join(' or ')} as built`,
      );
    }
  });
});

describe('HTTP edge', () => {
  it('ADR 0019 names every service that answers CORS for the origins in CORS_ORIGINS', () => {
    const services = SERVICE_SOURCES.filter((f) =>
      /corsOrigins:\s*config\.CORS_ORIGINS/.test(read(f)),
    ).map((f) => f.split('/')[0] ?? '');
    assert.ok(services.length > 0, 'some service passes CORS_ORIGINS to createHttpServer');
    const said = sentencesOf(read('docs/adr/0019-cdn-edge-and-ingress.md')).filter((s) =>
      s.includes('`CORS_ORIGINS`'),
    );
    assert.ok(said.length > 0, 'ADR 0019 says who answers CORS');
    for (const service of services) {
      assert.ok(
        said.some((s) => s.includes(service)),
        `ADR 0019 names ${service}: ${said.join(' ')}`,
      );
    }
  });

  it('the docs call the read rate limit one budget per user over all read routes', () => {
    assert.match(
      read('query-api/src/http/access.ts'),
      /perUserRateLimit\(maxPerMinute, '[\w-]+'\)/,
      'reads share a group',
    );
    const ownLimits = [...walk('query-api/src')].filter(
      (f) => f !== 'query-api/src/http/access.ts' && /\brateLimit:/.test(read(f)),
    );
    assert.deepEqual(ownLimits, [], 'every read route takes its limit from perUserRateLimit');
    const about =
      /READ_RATE_LIMIT_PER_MINUTE|reads (are rate-limited )?per user|read rate limit|per-user read limit/i;
    const claims = DOC_FILES.flatMap((file) =>
      sentencesOf(read(file))
        .filter((s) => about.test(s))
        .map((s) => `${file}: ${s}`),
    );
    assert.ok(claims.length >= 3, 'the docs describe the read rate limit');
    assert.deepEqual(
      claims.filter((c) => /per[- ]route|\(and route\)|and per route|each route/i.test(c)),
      [],
    );
  });
});

describe('MongoDB indexes (projectors/src/read-models/conversations/projection.ts)', () => {
  it('ADR 0008 names the indexes the conversations projection creates, per collection', () => {
    const created = new Map<string, string[]>();
    for (const m of read('projectors/src/read-models/conversations/projection.ts').matchAll(
      /(\w+)\.createIndex\((\{[^}]*\})/g,
    )) {
      const collection = m[1] ?? '';
      created.set(collection, [
        ...(created.get(collection) ?? []),
        (m[2] ?? '').replace(/\s/g, ''),
      ]);
    }
    assert.ok(created.size >= 2, 'the projection creates indexes');
    const bullets = read('docs/adr/0008-mongodb-for-conversations.md').split(/\n(?=- )/);
    for (const [collection, specs] of created) {
      const bullet = bullets.find((b) => b.startsWith(`- \`${collection}\``));
      assert.ok(bullet, `ADR 0008 has a bullet for \`${collection}\``);
      const named = backticked(bullet)
        .filter((t) => t.startsWith('{'))
        .map((t) => t.replace(/\s/g, ''));
      assert.deepEqual(named.sort(), specs.sort(), `the indexes of ${collection}`);
    }
  });
});

describe('Services, the ADR index and delivery', () => {
  const libSh = read('scripts/lib.sh');
  const shellMap = (name: string) =>
    new Map(
      [
        ...(new RegExp(`declare -A ${name}=\\(([^)]*)\\)`).exec(libSh)?.[1] ?? '').matchAll(
          /\[([\w-]+)\]=(\S+)/g,
        ),
      ].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
  const ports = shellMap('APP_PORTS');
  const entries = shellMap('APP_ENTRIES');

  it('README.md lists every service npm start runs (scripts/lib.sh APP_PORTS), with its port', () => {
    assert.ok(ports.size >= 4, 'scripts/lib.sh declares APP_PORTS');
    const table = tablesIn(read('README.md')).find((t) => t[0]?.[1] === 'address');
    assert.ok(table, 'README.md has the table of what npm start starts');
    for (const [service, port] of ports) {
      const row = table.find((r) => normalName(r[0] ?? '') === normalName(service));
      assert.ok(row, `README.md has a row for ${service}`);
      assert.match(row[1] ?? '', new RegExp(`127\\.0\\.0\\.1:${port}\\b`), service);
    }
  });

  it('ADR 0011 gives each of those services its entry point and port', () => {
    const table = tablesIn(read('docs/adr/0011-service-boundaries.md')).find(
      (t) => t[0]?.[0] === 'deployable',
    );
    assert.ok(table, 'ADR 0011 has the table of deployables');
    for (const [service, port] of ports) {
      const row: string[] | undefined = table.find(
        (r) => normalName(r[0] ?? '') === normalName(service),
      );
      assert.ok(row, `ADR 0011 has a row for ${service}`);
      assert.deepEqual([backticked(row[1] ?? '')[0], row[2]], [entries.get(service), port]);
    }
  });

  it('the ADR index lists every record, and ADR 0029 names the MongoDB-wire server mongo.sh builds', () => {
    const index = read('docs/adr/README.md');
    const records = readdirSync(join(ROOT, 'docs/adr')).filter((f) => /^\d{4}-.*\.md$/.test(f));
    for (const record of records) assert.ok(index.includes(`(${record})`), record);
    const env = read('infra/local/stack.env');
    const setting = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(env)?.[1] ?? '';
    const launcher = read('infra/local/lib/mongo.sh');
    assert.match(launcher, /cargo install secantus-mdb/);
    assert.match(launcher, /SecantusDB==\$SECANTUS_PY_VERSION/);
    const adr = read('docs/adr/0029-secantusdb-local-mongodb-wire-server.md');
    for (const name of ['SECANTUS_VERSION', 'SECANTUS_RUST', 'SECANTUS_PY_VERSION']) {
      assert.ok(
        setting(name) && adr.includes(setting(name)),
        `ADR 0029 names ${name}=${setting(name)}`,
      );
    }
  });

  it('delivery.md and charts/README.md agree with what charts/, .github and the tree hold', () => {
    const delivery = read('docs/delivery.md');
    const charts = read('charts/README.md');
    // Every file of the chart and every workflow is named in the docs that describe them.
    for (const file of [...walk('charts/parley')].filter((f) => !f.endsWith('.tpl'))) {
      const name = file.replace('charts/parley/', '');
      assert.ok(charts.includes(name), `charts/README.md names ${name}`);
    }
    for (const file of [...walk('.github')]) {
      assert.ok(delivery.includes(file.replace('.github/workflows/', '')), `delivery.md: ${file}`);
    }
    // And every repository path they quote exists.
    for (const text of [delivery, charts]) {
      for (const m of text.matchAll(/`((?:charts|\.github|scripts|tests|infra)\/[\w./-]+)`/g)) {
        assert.ok(existsSync(join(ROOT, m[1] ?? '')), `${m[1]} exists`);
      }
    }
    assert.ok(existsSync(join(ROOT, 'Dockerfile')) && delivery.includes('`Dockerfile`'));
    assert.ok(!/\bplanned\b/i.test(charts), 'charts/README.md describes what is built');
  });
});

describe('Markdown tables', () => {
  it('every row has as many cells as its header (an unescaped | in code splits a cell)', () => {
    const problems = DOC_FILES.flatMap((file) =>
      tablesIn(read(file)).flatMap((table) =>
        table
          .slice(1)
          .filter((row) => row.length !== table[0]?.length)
          .map(
            (row) => `${file}: '${row[0]}' has ${row.length} cells, the header ${table[0]?.length}`,
          ),
      ),
    );
    assert.deepEqual(problems, []);
  });
});
