/**
 * The alert rules (infra/prometheus/rules): valid for Prometheus, each one unit-tested with series
 * that must and must not fire it (`promtool test rules`), each linked to its runbook section, and
 * each naming only metrics the services register. promtool comes from `npm test`'s set-up
 * (scripts/lib.sh: ensure_promtool) or PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registeredMetricNames } from './metric-names.ts';
import { promtoolPath } from './promtool.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RULES_DIR = join(ROOT, 'infra/prometheus/rules');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const run = (args: string[]) =>
  execFileSync(promtoolPath(), args, { cwd: RULES_DIR, encoding: 'utf8', stdio: 'pipe' });

const rules = read('infra/prometheus/rules/parley.rules.yml');
const ruleTests = read('infra/prometheus/rules/parley.rules.test.yml');
const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1] ?? '');

describe('alert rules (infra/prometheus/rules)', () => {
  it('are valid Prometheus rules', () => {
    assert.match(run(['check', 'rules', 'parley.rules.yml']), /SUCCESS: \d+ rules found/);
  });

  it('fire on the series that must fire them and stay silent on the others (promtool test rules)', () => {
    assert.match(run(['test', 'rules', 'parley.rules.test.yml']), /SUCCESS/);
  });

  it('has, for every alert, a case where it fires and one where it does not', () => {
    assert.ok(alerts.length >= 6, 'the rules file has its alerts');
    const cases = ruleTests.split(/\n\s+- eval_time: /).slice(1);
    for (const alert of alerts) {
      const own = cases.filter((c) => new RegExp(`alertname: ${alert}\\n`).test(c));
      assert.ok(
        own.some((c) => /exp_alerts:\s*\n\s+- exp_labels:/.test(c)),
        `${alert} fires in a case`,
      );
      assert.ok(
        own.some((c) => /exp_alerts: \[\]/.test(c)),
        `${alert} stays silent in a case`,
      );
    }
  });

  it('links every alert to its section of docs/runbooks/alerts.md', () => {
    const runbook = read('docs/runbooks/alerts.md');
    const sections = new Set(
      [...runbook.matchAll(/^## (\w+)$/gm)].map((m) => (m[1] ?? '').toLowerCase()),
    );
    for (const alert of alerts) {
      const block = rules.slice(rules.indexOf(`- alert: ${alert}\n`)).split(/\n\s+- alert: /)[0];
      assert.match(
        block ?? '',
        new RegExp(`runbook_url: "docs/runbooks/alerts.md#${alert.toLowerCase()}"`),
        alert,
      );
      assert.ok(sections.has(alert.toLowerCase()), `docs/runbooks/alerts.md has ## ${alert}`);
    }
    assert.deepEqual(
      [...sections].sort(),
      alerts.map((a) => a.toLowerCase()).sort(),
      'one runbook section per alert, no more',
    );
  });

  it('are loaded by the Prometheus config, which scrapes every service compose runs beside it', () => {
    const config = read('infra/prometheus/prometheus.yml');
    const dir = mkdtempSync(join(tmpdir(), 'parley-prometheus-'));
    try {
      // The config names the rules where the compose stack mounts them; here they are in the repo.
      const local = join(dir, 'prometheus.yml');
      writeFileSync(local, config.replaceAll('/etc/prometheus/rules/', `${RULES_DIR}/`));
      assert.match(run(['check', 'config', local]), /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const ports = /APP_PORTS=\(([^)]*)\)/.exec(read('scripts/lib.sh'))?.[1] ?? '';
    const each = [...ports.matchAll(/\[([a-z-]+)\]=(\d+)/g)];
    assert.ok(each.length >= 5, 'scripts/lib.sh lists the services');
    for (const [, service, port] of each) {
      assert.ok(config.includes(`- ${service}:${port}`), `${service} (${port}) is scraped`);
    }
  });

  it('names only metrics that the services register', () => {
    const known = registeredMetricNames();
    const exprs = [...rules.matchAll(/expr: (\|\n(?:\s{10}.*\n)+|.*)/g)].map((m) => m[1] ?? '');
    const used = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/\b([a-z_]+(?:_total|_seconds|_state|_up|_count))\b/g)].map(
          (m) => m[1] ?? '',
        ),
      ),
    );
    assert.ok(used.size >= 5, 'the rules name metrics');
    for (const name of used) {
      const base = name.replace(/_(count|sum|bucket)$/, '');
      assert.ok(known.has(base), `${name} is registered by a service`);
    }
  });
});
