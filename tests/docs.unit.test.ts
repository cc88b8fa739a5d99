// The docs make claims about the code: environment variables, HTTP routes, PostgreSQL tables,
// links between pages, and where each review note is answered (issue 8). These tests hold the
// names that can be checked to the code itself, without any running service. The topic catalogue
// has its own check in schemas/test/docs.unit.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { authSettings } from '@parley/platform/auth';
import { type Field, loadConfig, type Spec } from '@parley/platform/config';
import { kafkaSettings } from '@parley/platform/kafka';
import { createLogger } from '@parley/platform/logger';
import { createMetricsRegistry } from '@parley/platform/metrics';
import { migrate } from '@parley/platform/migrate';
import { mongoSettings } from '@parley/platform/mongo';
import { personalDataSettings } from '@parley/platform/personal-data';
import { type Pool, postgresSettings } from '@parley/platform/postgres';
import { redisSettings } from '@parley/platform/redis';
import { schemaRegistrySettings } from '@parley/platform/schema-registry';
import { serviceSettings } from '@parley/platform/service';
import { topicCatalogue, topicSettings } from '@parley/schemas/topics/catalogue';
import type { FastifyInstance } from 'fastify';
import { accessTokenSettings } from '../command-api/src/auth/access-tokens.ts';
import { settings as commandApiSettings } from '../command-api/src/config.ts';
import { IDENTITY_MIGRATIONS, IDENTITY_SCHEMA } from '../command-api/src/identity/store-schema.ts';
import { settings as projectorSettings } from '../projectors/src/config.ts';
import { PROJECTIONS } from '../projectors/src/projections/index.ts';
import { ensureReadSchema } from '../projectors/src/runtime/generations.ts';
import type { Stores } from '../projectors/src/runtime/projection.ts';
import { settings as queryApiSettings } from '../query-api/src/config.ts';

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

const processorSpec = parseSettings('command-api/src/processor/main.ts', 'settings');
const bootstrapSpec = parseSettings('schemas/src/bootstrap/cli.ts', 'bootstrapSettings');
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
  bootstrap: { names: bootstrapSpec.names, parsed: bootstrapSpec, service: false, complete: true },
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
] as Spec[]) {
  for (const [name, field] of Object.entries(spec)) if (!FIELDS.has(name)) FIELDS.set(name, field);
}

const SERVICE_SOURCES = ['platform', 'schemas', 'command-api', 'projectors', 'query-api'].flatMap(
  (workspace) => [...walk(`${workspace}/src`)].filter((f) => /\.(ts|mts|mjs)$/.test(f)),
);

/** Variables read directly rather than through a settings object (e.g. PARLEY_ENV). */
const DIRECT_READS = new Set(
  SERVICE_SOURCES.flatMap((file) =>
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
      'command-api/src/processor/main.ts:settings',
      'projectors/src/config.ts:settings',
      'query-api/src/config.ts:settings',
      'schemas/src/bootstrap/cli.ts:bootstrapSettings',
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
const PLANNED_NAMES = new Set([
  'ASSISTANT_PROVIDER', // ADR 0014: the assistant worker is planned
  'ASSISTANT_MODEL', // ADR 0014
]);

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
];

interface BuiltApi {
  readonly service: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** Every route, method and path as Fastify has them (`/v1/users/:id`). */
  readonly routes: { method: string; path: string }[];
}

/** Routes from Fastify's own route tree (printRoutes without common prefixes). */
function routesOf(app: FastifyInstance): { method: string; path: string }[] {
  const stack: string[] = [];
  const routes: { method: string; path: string }[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) {
      routes.push({ method, path: stack.join('') });
    }
  }
  return routes;
}

interface AppModule {
  buildApp: (context: {
    config: unknown;
    log: unknown;
    metrics: unknown;
    deps: unknown;
  }) => FastifyInstance | Promise<FastifyInstance>;
}

async function buildApi(service: string, port: number): Promise<BuiltApi> {
  const { buildApp } = (await import(`../${service}/src/app.ts`)) as AppModule;
  const { settings } = (await import(`../${service}/src/config.ts`)) as { settings: Spec };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const config = loadConfig(settings, {
    source: {
      PARLEY_ENV: 'test',
      JWT_PUBLIC_KEYS: JSON.stringify({ docs: publicKey.export({ type: 'spki', format: 'pem' }) }),
      JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      PII_MASTER_KEY: randomBytes(32).toString('base64'),
    },
  });
  const app = await buildApp({
    config,
    log: createLogger({ service, level: 'silent', environment: 'test' }),
    metrics: createMetricsRegistry(service),
    // Route handlers use their dependencies only when called; none is called here.
    deps: { checks: [], resources: [] },
  });
  await app.ready();
  return { service, port, app, routes: routesOf(app) };
}

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
});

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
  'projectors/src/projections/users.ts',
  'projectors/src/projections/usage-daily.ts',
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
