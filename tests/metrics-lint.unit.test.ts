// Every service's registry (platform/src/metrics.ts) with its default process metrics passes
// `promtool check metrics`; the e2e test (tests/assistant.e2e.test.ts) lints each running
// service's /metrics the same way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { Counter, createMetricsRegistry } from '@parley/platform/metrics';
import { promtoolPath } from './promtool.ts';

const lint = (text: string) => spawnSync(promtoolPath(), ['check', 'metrics'], { input: text });

it('serves default metrics that `promtool check metrics` accepts', async () => {
  const registry = createMetricsRegistry('lint-test');
  const text = await registry.metrics();
  assert.match(text, /^nodejs_active_resources\{/m, 'the active resources, by type');
  const checked = lint(text);
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
});

it('is the lint that refuses a counter without _total (so the check above can fail)', async () => {
  const registry = createMetricsRegistry('lint-test');
  new Counter({ name: 'parley_things', help: 'Things', registers: [registry] }).inc();
  const checked = lint(await registry.metrics());
  assert.notEqual(checked.status, 0);
  assert.match(
    `${checked.stdout}${checked.stderr}`,
    /parley_things counter metrics should have "_total" suffix/,
  );
});
