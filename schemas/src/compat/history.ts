/**
 * Earlier versions of every record schema, from git history: each commit that touched
 * schemas/avro is loaded as a whole (shared types included) into a temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AVRO_DIR, type AvroSchemaJson, loadSchemaSet } from '../avro/schema-set.ts';

export interface HistoricalSchema {
  source: string;
  schema: AvroSchemaJson;
}

function git(cwd: string, args: string[]): Buffer {
  return execFileSync('git', args, { cwd, maxBuffer: 64 * 2 ** 20 });
}

/** Record full name -> its schema at each commit that changed schemas/avro (newest first). */
export function schemaHistory(avroDir: string = AVRO_DIR): Map<string, HistoricalSchema[]> {
  const top = git(avroDir, ['rev-parse', '--show-toplevel']).toString().trim();
  const path = relative(top, avroDir) || '.';
  const commits = git(top, ['log', '--format=%H', '--', path])
    .toString()
    .split('\n')
    .filter(Boolean);
  const history = new Map<string, HistoricalSchema[]>();
  for (const commit of commits) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-schemas-'));
    try {
      const archive = git(top, ['archive', '--format=tar', commit, path]);
      execFileSync('tar', ['-x', '-C', dir], { input: archive });
      const set = loadSchemaSet(join(dir, path));
      for (const record of set.records) {
        const entries = history.get(record.fullName) ?? [];
        entries.push({ source: commit.slice(0, 12), schema: record.schema });
        history.set(record.fullName, entries);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return history;
}
