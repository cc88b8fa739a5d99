import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, env, loadConfig } from '../src/config.ts';

const spec = {
  HTTP_PORT: env.port({ default: 3000 }),
  KAFKA_BROKERS: env.hostPorts({ default: { dev: ['127.0.0.1:19092'] } }),
  LOG_LEVEL: env.oneOf(['info', 'debug'] as const, { default: { dev: 'debug', prod: 'info' } }),
  DB_PASSWORD: env.secret({ default: { dev: '' } }),
  FEATURE: env.bool({ default: false }),
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the dev defaults when nothing is set, and test inherits them', () => {
    const dev = loadConfig(spec, { source: {} });
    assert.equal(dev.environment, 'dev');
    assert.equal(dev.HTTP_PORT, 3000);
    assert.deepEqual(dev.KAFKA_BROKERS, ['127.0.0.1:19092']);
    assert.equal(dev.LOG_LEVEL, 'debug');
    const test = loadConfig(spec, { source: { PARLEY_ENV: 'test' } });
    assert.deepEqual(test.KAFKA_BROKERS, ['127.0.0.1:19092']);
  });

  it('parses values from the environment', () => {
    const config = loadConfig(spec, {
      source: { HTTP_PORT: '8080', KAFKA_BROKERS: 'a:1, b.example:9092', FEATURE: 'yes' },
    });
    assert.equal(config.HTTP_PORT, 8080);
    assert.deepEqual(config.KAFKA_BROKERS, ['a:1', 'b.example:9092']);
    assert.equal(config.FEATURE, true);
  });

  it('rejects a non-numeric port with a message naming the variable', () => {
    const problems = problemsOf(() => loadConfig(spec, { source: { HTTP_PORT: 'abc' } }));
    assert.deepEqual(problems, ["HTTP_PORT: expected an integer, got 'abc'"]);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, { source: { HTTP_PORT: '70000', KAFKA_BROKERS: 'nope', FEATURE: 'maybe' } }),
    );
    assert.equal(problems.length, 3);
    assert.match(problems[0] ?? '', /^HTTP_PORT: expected an integer from 1 to 65535, got 70000/);
    assert.match(problems[1] ?? '', /^KAFKA_BROKERS: expected host:port, got 'nope'/);
    assert.match(problems[2] ?? '', /^FEATURE: expected true or false/);
  });

  it('requires in prod what only has a dev default, naming the _FILE form for secrets', () => {
    const problems = problemsOf(() => loadConfig(spec, { source: { PARLEY_ENV: 'prod' } }));
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['DB_PASSWORD', 'KAFKA_BROKERS']);
    assert.match(problems.find((p) => p.startsWith('DB_PASSWORD')) ?? '', /DB_PASSWORD_FILE/);
  });

  it('applies per-environment defaults', () => {
    const config = loadConfig(spec, {
      source: { PARLEY_ENV: 'prod', KAFKA_BROKERS: 'k:9092', DB_PASSWORD: 's3cret' },
    });
    assert.equal(config.LOG_LEVEL, 'info');
  });

  it('reads a secret from the file named by <NAME>_FILE', () => {
    const config = loadConfig(spec, {
      source: {
        PARLEY_ENV: 'stage',
        KAFKA_BROKERS: 'k:9092',
        LOG_LEVEL: 'info',
        DB_PASSWORD_FILE: '/run/secrets/db',
      },
      readFile: (path) => {
        assert.equal(path, '/run/secrets/db');
        return 'from-file\n';
      },
    });
    assert.equal(config.DB_PASSWORD, 'from-file');
  });

  it('names the variable when the secret file cannot be read, without its content', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, {
        source: { DB_PASSWORD_FILE: '/missing' },
        readFile: () => {
          throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        },
      }),
    );
    assert.deepEqual(problems, ["DB_PASSWORD: could not read DB_PASSWORD_FILE '/missing': ENOENT"]);
  });

  it('rejects an unknown PARLEY_ENV', () => {
    const problems = problemsOf(() => loadConfig(spec, { source: { PARLEY_ENV: 'production' } }));
    assert.match(problems[0] ?? '', /^PARLEY_ENV: expected one of dev, test, stage, prod/);
  });

  it('hides a URL password in errors', () => {
    const urlSpec = { DB_URL: env.url(['postgres'], { default: 'postgres://x@h/db' }) };
    const problems = problemsOf(() =>
      loadConfig(urlSpec, { source: { DB_URL: 'mysql://user:hunter2@host/db' } }),
    );
    assert.equal(problems.length, 1);
    assert.doesNotMatch(problems[0] ?? '', /hunter2/);
  });
});

describe('env.addressRanges', () => {
  const rangesSpec = { TRUST_PROXY: env.addressRanges({ default: { dev: [] } }) };
  const load = (source: NodeJS.ProcessEnv) => loadConfig(rangesSpec, { source }).TRUST_PROXY;

  it('reads addresses, CIDR ranges and named ranges; `none` is the empty list', () => {
    assert.deepEqual(load({ TRUST_PROXY: '10.0.0.0/20, 10.0.16.7,fd00::/8,loopback' }), [
      '10.0.0.0/20',
      '10.0.16.7',
      'fd00::/8',
      'loopback',
    ]);
    assert.deepEqual(load({ TRUST_PROXY: 'none' }), []);
    assert.deepEqual(load({}), []);
  });

  it('refuses what is not an address or a range, naming it; prod must say', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0', 'lb.internal', '10.0.0.1/8/1', '']) {
      const problems = problemsOf(() => load({ TRUST_PROXY: `10.1.0.0/16,${bad}` }));
      assert.match(problems[0] ?? '', /^TRUST_PROXY: expected an IP address or CIDR range/);
    }
    const problems = problemsOf(() => load({ PARLEY_ENV: 'prod' }));
    assert.match(problems[0] ?? '', /^TRUST_PROXY: required in prod/);
  });
});
