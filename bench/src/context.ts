import { loadConfig } from '@parley/platform/config';
import { stackSettings } from '@parley/platform/testing/fixtures';

export interface BenchContext {
  config: ReturnType<typeof loadConfig<typeof stackSettings>>;
  /** Overrides a benchmark's default event count (for a quick smoke run). */
  events?: number;
}

export function benchContext(events?: number): BenchContext {
  return { config: loadConfig(stackSettings), ...(events ? { events } : {}) };
}
