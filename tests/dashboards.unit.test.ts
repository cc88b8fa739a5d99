/**
 * The Grafana dashboards (infra/grafana/dashboards) as Grafana provisions them: each a dashboard
 * model with a uid, a title and panels on the grid, each panel's queries on the provisioned
 * Prometheus data source and naming only metrics the services register; the provisioning file
 * and the compose stack load them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registeredMetricNames } from './metric-names.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const DIR = 'infra/grafana/dashboards';
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
}

const files = readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.json'));
const dashboards = files.map((f) => [f, JSON.parse(read(`${DIR}/${f}`)) as Dashboard] as const);
/** Functions, keywords and label names that a query may hold besides metric names. */
const NOT_METRICS = new Set([
  'sum',
  'max',
  'min',
  'rate',
  'increase',
  'by',
  'histogram_quantile',
  'time',
  'le',
  'service',
  // The scrape target, which Prometheus adds to every series.
  'instance',
  'group',
  'topic',
  'partition',
  'projection',
  'generation',
  'route',
  'status',
  'consumer',
  'dependency',
  'outcome',
  'direction',
  'command',
  'result',
  'code',
]);

describe('Grafana dashboards (infra/grafana/dashboards)', () => {
  it('has the overview, consumer lag, projections and assistant dashboards', () => {
    assert.deepEqual(files.sort(), [
      'assistant.json',
      'consumer-lag.json',
      'overview.json',
      'projections.json',
    ]);
    const uids = dashboards.map(([, d]) => d.uid);
    assert.equal(new Set(uids).size, uids.length, 'uids are unique');
  });

  it('are dashboard models Grafana provisions: uid, title, panels on a 24-column grid', () => {
    for (const [file, d] of dashboards) {
      assert.match(d.uid, /^[a-z0-9-]{1,40}$/, file);
      assert.ok(d.title.startsWith('Parley: '), file);
      assert.ok(d.schemaVersion >= 30, file);
      assert.ok(d.panels.length >= 4, `${file} has panels`);
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
      for (const p of d.panels) {
        const { x, y, w, h } = p.gridPos;
        assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${file}: ${p.title} fits`);
        assert.ok(p.targets.length > 0, `${file}: ${p.title} has queries`);
      }
    }
  });

  it('query the provisioned Prometheus data source, and only metrics the services register', () => {
    const datasources = read('infra/grafana/provisioning/datasources/prometheus.yml');
    const uid = /uid: (\S+)/.exec(datasources)?.[1];
    assert.ok(uid, 'the data source has a uid');
    const known = registeredMetricNames();
    for (const [file, d] of dashboards) {
      for (const p of d.panels) {
        for (const t of [p, ...p.targets])
          assert.equal(t.datasource.uid, uid, `${file}: ${p.title}`);
        for (const { expr } of p.targets) {
          const names = [
            ...expr.replace(/\{[^}]*\}|"[^"]*"|\[[^\]]*\]/g, '').matchAll(/\b[a-z_]+\b/g),
          ]
            .map((m) => m[0])
            .filter((n) => !NOT_METRICS.has(n));
          assert.ok(names.length > 0, `${file}: ${p.title}: ${expr}`);
          for (const name of names) {
            const base = name.replace(/_(bucket|count|sum)$/, '');
            assert.ok(known.has(base), `${file}: ${p.title}: ${name} is registered by a service`);
          }
        }
      }
    }
  });

  it('are loaded by the provisioning file from where the compose stack mounts them', () => {
    const provider = read('infra/grafana/provisioning/dashboards/parley.yml');
    const path = /path: (\S+)/.exec(provider)?.[1] ?? '';
    assert.ok(path, 'the provider names a path');
    assert.ok(
      read('infra/docker-compose.yml').includes(`./grafana/dashboards:${path}:ro`),
      'docker-compose mounts the dashboards there',
    );
  });
});
