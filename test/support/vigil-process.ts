// Runs `vigil` as a real child process for end-to-end tests: starts it, waits for the lines that say
// where it listens, and stops it with a signal. Also an authenticated fetch for its API.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VIGIL_BIN = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));

export interface VigilProcess {
  child: ChildProcess;
  apiUrl: string; // http://host:port (without /api/v1)
  grpcAddress: string;
  apiKey: string;
  /** The Bearer token of its /metrics (<data-dir>/metrics-token). */
  metricsToken: string;
  output(): string;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** VIGIL_CHILD_NODE_ARGS: extra node flags for the `vigil` children, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
export function childNodeArgs(): string[] {
  return (process.env.VIGIL_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

export async function startVigil(args: string[], dataDir: string, timeoutMs = 60_000): Promise<VigilProcess> {
  const child = spawn(process.execPath, [...childNodeArgs(), VIGIL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' } });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const until = Date.now() + timeoutMs;
  let api: RegExpExecArray | null = null;
  let grpc: RegExpExecArray | null = null;
  while (!(api && grpc)) {
    if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > until) { child.kill('SIGKILL'); throw new Error(`vigil did not start in time:\n${out}`); }
    await new Promise((r) => setTimeout(r, 50));
    api = /API listening on (http:\/\/\S+)\/api\/v1/.exec(out);
    grpc = /agents connect to (\S+)/.exec(out);
  }
  return {
    child, apiUrl: api[1], grpcAddress: grpc[1],
    apiKey: readFileSync(`${dataDir}/admin-api-key`, 'utf8').trim(),
    metricsToken: readFileSync(`${dataDir}/metrics-token`, 'utf8').trim(),
    output: () => out,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function apiGet(v: VigilProcess, path: string): Promise<any> {
  const res = await fetch(`${v.apiUrl}${path}`, { headers: { authorization: `Bearer ${v.apiKey}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Polls `probe` until it returns a value other than undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
