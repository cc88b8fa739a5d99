import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { PROJECTOR_NODE_FLAGS } from '../src/node-flags.ts';

const repo = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, repo), 'utf8');

it('starts every projector process with the same heap cap (npm start, the CLI, the package)', () => {
  const root = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const own = JSON.parse(read('projectors/package.json')) as { scripts: Record<string, string> };
  const libFlags = read('scripts/lib.sh').match(/APP_NODE_FLAGS=\(.*\[projectors\]="([^"]*)"/)?.[1];
  const starts = {
    'npm run projector': root.scripts.projector,
    'projectors start': own.scripts.start,
    'projectors dev': own.scripts.dev,
    'npm start (scripts/lib.sh)': libFlags,
  };
  for (const [where, command] of Object.entries(starts)) {
    for (const flag of PROJECTOR_NODE_FLAGS) {
      assert.ok(command?.split(/\s+/).includes(flag), `${where} lacks ${flag}: ${command}`);
    }
  }
});
