// Test support for response actions: a real embedded server (real gRPC, SQLite, ledger replaced by an in-memory
// audit sink so transitions can be asserted) and a real Agent with a silent sensor and the response executor.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { ResponseExecutor, type ExecutorOptions } from '../../src/agent/response/executor.ts';
import type { Sensor } from '../../src/agent/sensor.ts';
import { canonicalize } from '../../src/ledger/canonical.ts';
import { validateEvent } from '../../src/ledger/entry.ts';
import { auditEventOf, type AuditRecord, type AuditSink } from '../../src/ledger/sink.ts';
import type { ResponseConfig } from '../../src/response/dispatcher.ts';
import { splitHostPort, startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';

export const quiet = pino({ level: 'silent' });

/** Keeps records in memory, refusing what the real ledger refuses (invalid events, values that are not JSON). */
export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  async record(r: AuditRecord): Promise<void> {
    const event = auditEventOf(r);
    validateEvent(event);
    canonicalize(event);
    this.records.push(r);
  }
  actionsFor(target: string): string[] {
    return this.records.filter((r) => r.target === target).map((r) => r.action);
  }
}

export class SilentSensor implements Sensor {
  readonly mode = 'proc' as const;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  health() { return { mode: 'proc' as const, drops: 0, restarts: 0 }; }
}

export interface TestServer {
  server: RunningServer;
  dir: string;
  audit: MemoryAudit;
  adminKey: string;
  api(path: string, init?: RequestInit & { key?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestServer(response: ResponseConfig = {}, audit = new MemoryAudit()): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-response-'));
  const server = await startEmbeddedServer({ dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: quiet, response, audit });
  const adminKey = readFileSync(server.adminKeyPath, 'utf8').trim();
  return {
    server, dir, audit, adminKey,
    async api(path, init = {}) {
      const res = await fetch(`${server.httpUrl}/api/v1${path}`, {
        ...init, headers: { authorization: `Bearer ${init.key ?? adminKey}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
      });
      const type = res.headers.get('content-type') ?? '';
      const body = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
      return { status: res.status, body, headers: res.headers };
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestAgent { agent: Agent; executor: ResponseExecutor; dataDir: string }

/** A real agent with the response executor, enrolled on first start (pass the same dataDir to restart it). */
export async function startTestAgent(t: TestServer, dataDir: string, extra: Partial<ExecutorOptions> = {}): Promise<TestAgent> {
  const executor = new ResponseExecutor({ dataDir, log: quiet, management: splitHostPort(t.server.grpcAddress), ...extra });
  await executor.start();
  const agent = new Agent({
    ...executor.agentOptions(), dataDir, server: t.server.grpcAddress, caPem: t.server.caPem, log: quiet,
    enrollmentToken: await t.server.createEnrollmentToken(), sensor: new SilentSensor(), heartbeatMs: 60_000,
  });
  executor.attach(agent);
  await agent.start();
  return { agent, executor, dataDir };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until a response action reaches one of `statuses` and returns its view. */
export function actionReaches(t: TestServer, id: string, statuses: string[], timeoutMs?: number): Promise<any> {
  return until(`${id} to be ${statuses.join('|')}`, async () => {
    const r = await t.api(`/ir/actions/${id}`);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, timeoutMs);
}
