/** Every service's entry module, run from source, for the system tests that start them all. */
import { ENTRIES } from '../command-api/test/processor-fixture.ts';

export const SERVICE_ENTRIES = {
  ...ENTRIES,
  projectors: new URL('../projectors/src/server.ts', import.meta.url).pathname,
  'query-api': new URL('../query-api/src/server.ts', import.meta.url).pathname,
  assistant: new URL('../assistant/src/server.ts', import.meta.url).pathname,
};
