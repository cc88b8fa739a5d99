/** `npm run schemas:generate`: rewrites src/generated/records.ts from the .avsc files. */
import { writeFileSync } from 'node:fs';
import { loadSchemaSet } from './schema-set.ts';
import { generateTypeScript } from './typescript.ts';

export const GENERATED_FILE = new URL('../generated/records.ts', import.meta.url).pathname;

writeFileSync(GENERATED_FILE, generateTypeScript(loadSchemaSet()));
process.stdout.write(`wrote ${GENERATED_FILE}\n`);
