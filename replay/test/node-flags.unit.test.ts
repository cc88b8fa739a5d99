import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { REPLAY_NODE_FLAGS } from '../src/node-flags.ts';

it('runs every replay with the heap cap (npm run replay)', () => {
  const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const flag of REPLAY_NODE_FLAGS) {
    assert.ok(root.scripts.replay?.split(/\s+/).includes(flag), `npm run replay lacks ${flag}`);
  }
});
