// docs/architecture.md names the topics and record types; they must be the ones in the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { loadSchemaSet } from '../src/avro/schema-set.ts';
import { topicCatalogue } from '../src/topics/catalogue.ts';

const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

it('architecture.md lists every catalogue topic and no other', () => {
  const catalogue = topicCatalogue({ environment: 'dev', partitions: 12 }).map((t) => t.name);
  const documented = [
    ...new Set([...doc.matchAll(/^\| `([a-z-]+\.[a-z-]+)`\s*\|/gm)].map((m) => m[1])),
  ];
  for (const topic of catalogue) assert.ok(documented.includes(topic), `${topic} documented`);
  for (const topic of documented)
    assert.ok(topic && catalogue.includes(topic), `${topic} is in the catalogue`);
});

it('architecture.md lists every record type on its topic', () => {
  const lines = doc.split('\n');
  for (const record of loadSchemaSet().records) {
    const rows = lines.filter((line) => line.startsWith(`| \`${record.topic}\``));
    assert.ok(
      rows.some((row) => row.split(/[\s,|]+/).includes(record.name)),
      `${record.name} listed for ${record.topic}`,
    );
  }
});
