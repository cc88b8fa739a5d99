import { loadConfig } from '@parley/platform/config';
import { stackSettings } from '@parley/platform/testing/fixtures';

export interface BenchContext {
  config: ReturnType<typeof loadConfig<typeof stackSettings>>;
  /** Overrides a benchmark's default event count (for a quick smoke run). */
  events?: number;
  /** Overrides how long a benchmark measures each step, in seconds (for a quick smoke run). */
  seconds?: number;
}

export function benchContext(events?: number, seconds?: number): BenchContext {
  return {
    config: loadConfig(stackSettings),
    ...(events ? { events } : {}),
    ...(seconds ? { seconds } : {}),
  };
}
