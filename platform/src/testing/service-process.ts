/**
 * A service entrypoint as a real child process on a free port (for kill -9 and SIGTERM tests and
 * for benchmarks), logging to .data/logs/<logName>.log for when something fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { freePort } from './fixtures.ts';

const opened = new Set<string>();

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves once /health/ready answers 200. */
  ready(timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  /** The most memory the process has held (VmHWM), while it runs. */
  peakRssBytes(): number;
  /** CPU time (user + system) the process has used so far, in seconds. */
  cpuSeconds(): number;
  kill9(): Promise<void>;
}

const LIFELINE = new URL('./lifeline.ts', import.meta.url).href;

export async function startService(
  /** Path of the entry module, run from source. */
  entry: string,
  env: Record<string, string>,
  logName: string,
  /** Extra Node options, e.g. --cpu-prof. */
  nodeArgs: readonly string[] = [],
): Promise<ServiceProcess> {
  const port = await freePort();
  const service = entry.split('/').slice(-3).join('/');
  const logDir = new URL('../../../.data/logs/', import.meta.url).pathname;
  mkdirSync(logDir, { recursive: true });
  // One log per test run: the first process truncates it, restarts append.
  const log = openSync(`${logDir}${logName}.log`, opened.has(logName) ? 'a' : 'w');
  opened.add(logName);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--conditions=parley-source', '--import', 'tsx', '--import', LIFELINE, entry],
    {
      env: { ...process.env, ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) },
      // stdin stays open while this process lives: the lifeline ends the service when it closes.
      stdio: ['pipe', log, log],
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    name: service,
    child,
    port,
    url,
    exited,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}`);
        const status = await fetch(`${url}/health/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) return;
        if (Date.now() > deadline) throw new Error(`${service} not ready in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    signal(signal) {
      child.kill(signal);
    },
    cpuSeconds() {
      // Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses.
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    peakRssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kib ? Number(kib) * 1024 : 0;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
