/** Measuring helpers shared by benchmarks: percentiles, rates, peak memory, the result file. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1) ?? 0),
  };
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit,
  };
}

export function writeResult(name: string, result: Record<string, unknown>): string {
  const path = new URL(`../results/${name}.json`, import.meta.url).pathname;
  writeFileSync(
    path,
    `${JSON.stringify({ name, ranAt: new Date().toISOString(), machine: machine(), ...result }, null, 2)}\n`,
  );
  return path;
}

/** A progress line that rewrites itself in a terminal and prints plain lines otherwise. */
export function progress(label: string) {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(done: number, total: number) {
      const now = Date.now();
      if (now - last < 250 && done < total) return;
      last = now;
      const line = `${label}: ${done}/${total} (${Math.round((done / total) * 100)}%)`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** Cores each process kept busy from now until `read()`, plus this process as `bench`. */
export function coresBusy(processes: Record<string, { cpuSeconds(): number }>) {
  const started = performance.now();
  const before = Object.entries(processes).map(([name, p]) => [name, p.cpuSeconds()] as const);
  const own = process.cpuUsage();
  return {
    read(): Record<string, number> {
      const seconds = (performance.now() - started) / 1000;
      const round = (n: number) => Math.round((n / seconds) * 100) / 100;
      const used = process.cpuUsage(own);
      return {
        ...Object.fromEntries(
          before.map(([name, cpu]) => [name, round((processes[name]?.cpuSeconds() ?? cpu) - cpu)]),
        ),
        bench: round((used.user + used.system) / 1e6),
      };
    },
  };
}
