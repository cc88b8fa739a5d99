// Every workspace declares the packages it imports: installed alone (a container image, a
// deployment of one service) it must not rely on another workspace having pulled them in.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** The root's own tools (TypeScript, tsx, Node's types) serve every workspace. */
const shared = new Set(Object.keys(rootPackage.devDependencies ?? {}));
const builtins = new Set(builtinModules);

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

/** The package a bare specifier names: `@scope/name` or `name`. */
const packageOf = (specifier: string) =>
  specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : (specifier.split('/')[0] ?? '');

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)'([^'./][^']*)'/g;

it('declares in each workspace every package its code imports', () => {
  const missing: string[] = [];
  for (const workspace of rootPackage.workspaces as string[]) {
    const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8'));
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.devDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    for (const file of sources(join(root, workspace))) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        if (!specifier || specifier.startsWith('node:') || builtins.has(specifier)) continue;
        const name = packageOf(specifier);
        if (name === manifest.name || declared.has(name) || shared.has(name)) continue;
        missing.push(`${workspace} imports ${name} (${file.slice(root.length)})`);
      }
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});
