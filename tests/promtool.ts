/** promtool: from `npm test`'s set-up (scripts/lib.sh: ensure_promtool, PROMTOOL), its cache, or PATH. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function promtoolPath(): string {
  const cache =
    process.env.PARLEY_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'parley');
  for (const candidate of [process.env.PROMTOOL, join(cache, 'bin/promtool')]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    assert.fail('promtool not found: run `npm test` once (it fetches it) or put it on PATH');
  }
}
