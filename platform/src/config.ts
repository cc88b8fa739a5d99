/**
 * Typed configuration from environment variables.
 *
 * A service declares a spec (one field per variable: how to parse it and its default per
 * environment) and calls `loadConfig(spec)` once at start-up. Every problem is collected and
 * reported together, each naming its variable; nothing starts on bad config.
 *
 * Defaults exist for local development (`dev`, which `test` inherits). A field without a default
 * for `stage` or `prod` is required there, so production never runs on a laptop's settings.
 * Secrets come from the variable itself or from `<NAME>_FILE` (a mounted file), never from the repo.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const ENVIRONMENTS = ['dev', 'test', 'stage', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

type PerEnvironment<T> = Partial<Record<Environment, T>>;

export interface Field<T> {
  readonly describe: string;
  readonly parse: (raw: string) => T;
  readonly defaults: PerEnvironment<T>;
  readonly secret: boolean;
}

export type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = {
  readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never;
};

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

class ParseError extends Error {}

interface FieldOptions<T> {
  /** One default for every environment, or one per environment. */
  default?: T | PerEnvironment<T>;
}

function isPerEnvironment<T>(value: T | PerEnvironment<T>): value is PerEnvironment<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.keys(value).every((k) => (ENVIRONMENTS as readonly string[]).includes(k))
  );
}

function field<T>(
  describe: string,
  parse: (raw: string) => T,
  options: FieldOptions<T> = {},
  secret = false,
): Field<T> {
  const { default: def } = options;
  let defaults: PerEnvironment<T> = {};
  if (def !== undefined) {
    defaults = isPerEnvironment(def)
      ? def
      : { dev: def as T, test: def as T, stage: def as T, prod: def as T };
  }
  return { describe, parse, defaults, secret };
}

function parseInteger(raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ParseError(`expected an integer, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ParseError(`expected an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export const env = {
  string: (options?: FieldOptions<string>) =>
    field(
      'a non-empty string',
      (raw) => {
        if (raw.trim() === '') throw new ParseError('must not be empty');
        return raw.trim();
      },
      options,
    ),

  /** A string matching a pattern (which may allow the empty string). */
  matching: (pattern: RegExp, describe: string, options?: FieldOptions<string>) =>
    field(
      describe,
      (raw) => {
        if (!pattern.test(raw)) throw new ParseError(`expected ${describe}, got '${raw}'`);
        return raw;
      },
      options,
    ),

  int: (min: number, max: number, options?: FieldOptions<number>) =>
    field(`an integer from ${min} to ${max}`, (raw) => parseInteger(raw, min, max), options),

  port: (options?: FieldOptions<number>) =>
    field('a TCP port (1-65535)', (raw) => parseInteger(raw, 1, 65535), options),

  bool: (options?: FieldOptions<boolean>) =>
    field(
      'true or false',
      (raw) => {
        const v = raw.trim().toLowerCase();
        if (['true', '1', 'yes'].includes(v)) return true;
        if (['false', '0', 'no'].includes(v)) return false;
        throw new ParseError(`expected true or false, got '${raw}'`);
      },
      options,
    ),

  oneOf: <const T extends string>(values: readonly T[], options?: FieldOptions<T>) =>
    field(
      `one of ${values.join(', ')}`,
      (raw) => {
        const v = raw.trim();
        if (!(values as readonly string[]).includes(v)) {
          throw new ParseError(`expected one of ${values.join(', ')}, got '${raw}'`);
        }
        return v as T;
      },
      options,
    ),

  url: (protocols: readonly string[], options?: FieldOptions<string>) =>
    field(
      `a URL (${protocols.join(', ')})`,
      (raw) => {
        let url: URL;
        try {
          url = new URL(raw.trim());
        } catch {
          throw new ParseError(`expected a URL, got '${redactUrl(raw)}'`);
        }
        if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
          throw new ParseError(
            `expected a ${protocols.join(' or ')} URL, got '${url.protocol}' in '${redactUrl(raw)}'`,
          );
        }
        return raw.trim();
      },
      options,
    ),

  /** Comma-separated host:port pairs, e.g. Kafka bootstrap servers. */
  hostPorts: (options?: FieldOptions<string[]>) =>
    field(
      'comma-separated host:port pairs',
      (raw) => {
        const items = raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (items.length === 0) throw new ParseError('expected at least one host:port');
        for (const item of items) {
          const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d+)$/.exec(item);
          const port = match ? Number(match[2]) : 0;
          if (!match || port < 1 || port > 65535) {
            throw new ParseError(`expected host:port, got '${item}'`);
          }
        }
        return items;
      },
      options,
    ),

  /**
   * `none`, or comma-separated IP addresses and CIDR ranges (and the names `loopback`,
   * `linklocal`, `uniquelocal`): which peers to believe, e.g. the load balancer's subnets.
   */
  addressRanges: (options?: FieldOptions<string[]>) =>
    field(
      '`none`, or comma-separated IP addresses and CIDR ranges',
      (raw) => {
        if (raw.trim() === 'none') return [];
        const items = raw.split(',').map((s) => s.trim());
        for (const item of items) {
          if (!isAddressRange(item)) {
            throw new ParseError(`expected an IP address or CIDR range, got '${item}'`);
          }
        }
        return items;
      },
      options,
    ),

  /** A secret: from NAME, or from the file named by NAME_FILE (a mounted Kubernetes secret). */
  secret: (options?: FieldOptions<string>) =>
    field(
      'a secret (the value, or a file path in <NAME>_FILE)',
      (raw) => {
        if (raw === '') throw new ParseError('must not be empty');
        return raw;
      },
      options,
      true,
    ),
} as const;

const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressRange(item: string): boolean {
  if (NAMED_RANGES.includes(item)) return true;
  const [address = '', prefix, ...rest] = item.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

function readEnvironment(source: NodeJS.ProcessEnv): Environment {
  const raw = source.PARLEY_ENV ?? 'dev';
  if (!(ENVIRONMENTS as readonly string[]).includes(raw)) {
    throw new ConfigError([`PARLEY_ENV: expected one of ${ENVIRONMENTS.join(', ')}, got '${raw}'`]);
  }
  return raw as Environment;
}

function defaultFor<T>(f: Field<T>, environment: Environment): T | undefined {
  return f.defaults[environment] ?? (environment === 'test' ? f.defaults.dev : undefined);
}

function rawValue(
  name: string,
  f: Field<unknown>,
  source: NodeJS.ProcessEnv,
  readFile: (path: string) => string,
): string | undefined {
  const direct = source[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = f.secret ? source[`${name}_FILE`] : undefined;
  if (file) {
    try {
      return readFile(file).trim();
    } catch (error) {
      throw new ParseError(
        `could not read ${name}_FILE '${file}': ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  return undefined;
}

export interface LoadOptions {
  source?: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
}

export type Loaded<S extends Spec> = ConfigOf<S> & { readonly environment: Environment };

/** Parses every field of `spec` from the environment; throws one ConfigError naming every bad variable. */
export function loadConfig<S extends Spec>(spec: S, options: LoadOptions = {}): Loaded<S> {
  const source = options.source ?? process.env;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const environment = readEnvironment(source);
  const problems: string[] = [];
  const result: Record<string, unknown> = { environment };

  for (const [name, f] of Object.entries(spec)) {
    try {
      const raw = rawValue(name, f, source, readFile);
      if (raw === undefined) {
        const def = defaultFor(f, environment);
        if (def === undefined) {
          problems.push(
            `${name}: required in ${environment} (${f.describe})${f.secret ? `; set ${name} or ${name}_FILE` : ''}`,
          );
        } else {
          result[name] = def;
        }
        continue;
      }
      result[name] = f.parse(raw);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      problems.push(`${name}: ${error.message}`);
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result) as Loaded<S>;
}

/** The names of secret fields, so logs and diagnostics can leave them out. */
export function secretNames(spec: Spec): string[] {
  return Object.entries(spec)
    .filter(([, f]) => f.secret)
    .map(([name]) => name);
}
