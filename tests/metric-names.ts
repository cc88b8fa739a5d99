/** The Prometheus metric names the services register with prom-client, read from their sources. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../', import.meta.url).pathname;
const WORKSPACES = ['platform', 'schemas', 'command-api', 'projectors', 'query-api', 'assistant'];

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(ts|mts|mjs)$/.test(entry.name)) yield path;
  }
}

export function registeredMetricNames(): Set<string> {
  return new Set(
    WORKSPACES.flatMap((workspace) => [...sources(`${workspace}/src`)]).flatMap((file) =>
      [
        ...readFileSync(join(ROOT, file), 'utf8').matchAll(
          /new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-z0-9_]+)'/g,
        ),
      ].map((m) => m[1] ?? ''),
    ),
  );
}
