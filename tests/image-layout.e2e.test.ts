/**
 * What each image runs, without a container engine. The runtime file tree the Dockerfile
 * describes is assembled in a temporary directory by following the Dockerfile itself: its
 * manifests, its own production-dependencies `npm ci` command, and each COPY from the build (the
 * workspace's compiled dist/). Then, as in the chart, the bootstrap job's command creates this
 * test's topics, and each target's CMD runs with the target's ENV (and the stack's addresses):
 * every service must answer ready and a message must be answered by the assistant. Running from
 * source (tsx, all dependencies) hides what only the deployed tree shows, e.g. a dependency npm
 * nests under a workspace.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, testKafka, uniqueName } from '@parley/platform/testing/fixtures';
import { createSigningKey, serviceKeyEnv, signToken } from '@parley/platform/testing/tokens';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE =
  process.env.PARLEY_CACHE_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'parley');

interface Step {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly name: string;
  readonly from: string;
  readonly steps: Step[];
}

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function stagesOf(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op === 'FROM') {
      const m = /^(\S+) AS (\S+)$/.exec(args);
      assert.ok(m, `FROM with a stage name: ${line}`);
      stages.push({ from: m[1] ?? '', name: m[2] ?? '', steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op, args });
    }
  }
  return stages;
}

/** The stage and its ancestors within the Dockerfile, oldest first. */
function lineage(stages: Stage[], name: string): Stage[] {
  const stage = stages.find((s) => s.name === name);
  assert.ok(stage, `stage ${name}`);
  const parent = stages.find((s) => s.name === stage.from);
  return parent ? [...lineage(stages, parent.name), stage] : [stage];
}

/** `COPY [--from=stage] src... dest` into `root`, sources from the build context or a stage's tree. */
function copy(args: string, root: string, trees: Record<string, string>) {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const [dest = '', ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
  for (const source of sources.reverse()) {
    const base = from ? trees[from] : REPO;
    assert.ok(base, `COPY --from=${from}: a stage this test builds`);
    const path = join(base, from ? source.replace(/^\/app\/?/, '') : source);
    // As Docker does: a directory's contents go into dest, a file goes into a dest ending in /.
    const target =
      dest.endsWith('/') && !statSync(path).isDirectory()
        ? join(root, dest, source.split('/').at(-1) ?? '')
        : join(root, dest);
    mkdirSync(join(target, '..'), { recursive: true });
    cpSync(path, target, { recursive: true, verbatimSymlinks: true });
  }
}

function envOf(steps: Step[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of steps.filter((s) => s.op === 'ENV')) {
    for (const m of args.matchAll(/(\w+)=(\S+)/g)) env[m[1] ?? ''] = m[2] ?? '';
  }
  return env;
}

const dockerfile = stagesOf(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const TARGETS = dockerfile.filter((s) => s.from === 'runtime').map((s) => s.name);
const work = mkdtempSync(join(tmpdir(), 'parley-image-'));
const key = createSigningKey();
const prefix = `${uniqueName('img').replace(/-/g, '')}.`;
const children: ChildProcess[] = [];
const urls = new Map<string, string>();

/** The production-dependencies stage: its manifests, then its own RUN (npm ci --omit=dev ...). */
function productionDependencies(dir: string) {
  for (const stage of lineage(dockerfile, 'production-dependencies')) {
    for (const step of stage.steps) {
      if (step.op === 'COPY') copy(step.args, dir, {});
      if (step.op === 'RUN') {
        // A BuildKit cache mount is the image build's business; here npm's cache is the stack's.
        const command = step.args.replace(/--mount=\S+\s*/g, '');
        execFileSync('bash', ['-c', command], {
          cwd: dir,
          stdio: 'pipe',
          env: { ...process.env, npm_config_cache: join(CACHE, 'npm') },
        });
      }
    }
  }
}

function start(target: string, root: string, env: Record<string, string>): Promise<string> {
  const cmd = dockerfile.find((s) => s.name === target)?.steps.find((s) => s.op === 'CMD');
  const [command, ...args] = JSON.parse(cmd?.args ?? '[]') as string[];
  assert.equal(command, 'node', `${target} starts node directly`);
  mkdirSync(join(REPO, '.data/logs'), { recursive: true });
  const log = openSync(join(REPO, `.data/logs/image-layout.${target}.log`), 'w');
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', log, log] });
  children.push(child);
  const url = `http://127.0.0.1:${env.HTTP_PORT}`;
  return (async () => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      assert.equal(
        child.exitCode,
        null,
        `${target} exited (.data/logs/image-layout.${target}.log)`,
      );
      const status = await fetch(`${url}/health/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return url;
      assert.ok(Date.now() < deadline, `${target} ready (.data/logs/image-layout.${target}.log)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
}

before(async () => {
  // The build stage's tree is the repository after `npm run build` (what `npm test` runs first).
  execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'pipe' });
  const dependencies = join(work, 'production-dependencies');
  productionDependencies(dependencies);
  const trees = { 'production-dependencies': dependencies, build: REPO };
  const runtime = lineage(dockerfile, 'runtime');
  const environment = (target: string) => ({
    PATH: process.env.PATH ?? '',
    ...envOf([...runtime, ...lineage(dockerfile, target)].flatMap((s) => s.steps)),
    // The local stack's addresses (test defaults), this test's topics and groups, its keys.
    PARLEY_ENV: 'test',
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TOPIC_PREFIX: prefix,
    PROCESSOR_GROUP_ID: `${prefix}processor`,
    IDENTITY_SYNC_GROUP_ID: `${prefix}identity-store`,
    ASSISTANT_GROUP_ID: `${prefix}assistant`,
    ...serviceKeyEnv(key),
  });
  const roots = new Map<string, string>();
  for (const target of ['runtime', ...TARGETS]) {
    const root = join(work, target);
    if (target !== 'runtime')
      cpSync(join(work, 'runtime'), root, { recursive: true, verbatimSymlinks: true });
    const stage = dockerfile.find((s) => s.name === target);
    for (const step of stage?.steps ?? []) if (step.op === 'COPY') copy(step.args, root, trees);
    roots.set(target, root);
  }
  // The chart's bootstrap job: its command, in the command API's image.
  const job = readFileSync(join(REPO, 'charts/parley/templates/bootstrap-job.yaml'), 'utf8');
  const bootstrap = /command: \[node, ([^\]]+)\]/.exec(job)?.[1]?.split(/,\s*/) ?? [];
  assert.ok(bootstrap.length > 0, 'the bootstrap job runs node');
  execFileSync(process.execPath, bootstrap, {
    cwd: roots.get('command-api'),
    env: environment('command-api'),
    stdio: 'pipe',
  });
  await Promise.all(
    TARGETS.map(async (target) => {
      const env = { ...environment(target), HTTP_PORT: String(await freePort()) };
      urls.set(target, await start(target, roots.get(target) ?? '', env));
    }),
  );
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  const admin = testKafka().admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
});

describe('the images’ file trees (Dockerfile, without a container engine)', () => {
  it('has a target for every service', () => {
    assert.deepEqual([...TARGETS].sort(), [
      'assistant',
      'command-api',
      'command-processor',
      'projectors',
      'query-api',
    ]);
  });

  it('starts every service from dist/ with production dependencies only, ready and healthy', () => {
    assert.equal(urls.size, TARGETS.length);
    // The image's HEALTHCHECK command, as Docker runs it in each container.
    const check = lineage(dockerfile, 'runtime')
      .flatMap((s) => s.steps)
      .find((s) => s.op === 'HEALTHCHECK');
    const [command, ...args] = JSON.parse(/CMD (\[.*\])$/.exec(check?.args ?? '')?.[1] ?? '[]');
    assert.equal(command, 'node');
    for (const [target, url] of urls) {
      const env = { ...process.env, HTTP_PORT: new URL(url).port };
      assert.doesNotThrow(() => execFileSync(process.execPath, args, { env }), target);
    }
    const down = { ...process.env, HTTP_PORT: '1' };
    assert.throws(() => execFileSync(process.execPath, args, { env: down, stdio: 'pipe' }));
  });

  it('answers a message: command API, processor, projectors, assistant and query API together', async () => {
    const userId = crypto.randomUUID();
    const token = signToken(key, { sub: userId, roles: ['user'], expiresIn: 600 });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const post = async (path: string, body: object) => {
      const res = await fetch(`${urls.get('command-api')}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.ok(res.status < 300, `${path}: ${res.status} ${text}`);
      return JSON.parse(text) as { aggregateId: string };
    };
    const { aggregateId } = await post('/v1/conversations', { title: 'From the image' });
    await post(`/v1/conversations/${aggregateId}/messages`, { text: 'hello' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${urls.get('query-api')}/v1/conversations/${aggregateId}/messages`, {
        headers,
      });
      const items =
        res.status === 200 ? ((await res.json()) as { items: { role: string }[] }).items : [];
      if (items.some((m) => m.role === 'assistant')) break;
      assert.ok(Date.now() < deadline, `an answer (${res.status}, ${items.length} messages)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});
