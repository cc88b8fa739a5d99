import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ASSISTANT_NODE_FLAGS } from '../src/node-flags.ts';

const repo = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, repo), 'utf8');

it('starts the assistant with the same heap cap wherever it runs (npm start, the package, the benchmark)', () => {
  const own = JSON.parse(read('assistant/package.json')) as { scripts: Record<string, string> };
  const libFlags = read('scripts/lib.sh').match(/APP_NODE_FLAGS=\(.*\[assistant\]="([^"]*)"/)?.[1];
  const starts = {
    'assistant start': own.scripts.start,
    'assistant dev': own.scripts.dev,
    'npm start (scripts/lib.sh)': libFlags,
  };
  for (const [where, command] of Object.entries(starts)) {
    for (const flag of ASSISTANT_NODE_FLAGS) {
      assert.ok(command?.split(/\s+/).includes(flag), `${where} lacks ${flag}: ${command}`);
    }
  }
  assert.match(read('bench/src/parley.ts'), /ASSISTANT_NODE_FLAGS/);
});
