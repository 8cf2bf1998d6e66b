// Test support for the API: a real embedded server (real SQLite, chdb, ledger) with cheap argon2 and a 1 s hunt
// time limit, credentials of every role in the default tenant, a super-admin, and an admin of a second tenant.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { startEmbeddedServer, type RunningServer, type ServerOptions } from '../../src/server/embedded.ts';

export const PASSWORD = 'correct horse battery staple';
export const FOREIGN_TENANT = 'other';
export const ROLES = ['viewer', 'analyst', 'responder', 'admin'] as const;

export interface Fixture {
  server: RunningServer;
  dir: string;
  adminKey: string;
  /** Access tokens by role in the default tenant, plus 'super' (super-admin) and 'foreign' (admin of another tenant). */
  tokens: Record<string, string>;
  agents: SimulatedAgent[];
  stop(): Promise<void>;
}

export async function call(f: Fixture, method: string, path: string, o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined || o.raw !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${f.server.httpUrl}/api/v1${path}`, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

export async function login(f: Fixture, email: string, tenant?: string) {
  const r = await call(f, 'POST', '/auth/login', { body: { email, password: PASSWORD, ...(tenant ? { tenant } : {}) } });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { access_token: string; refresh_token: string };
}

export async function startFixture(extra: Partial<ServerOptions> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  const server = await startEmbeddedServer({
    dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: process.env.VIGIL_TEST_LOG ?? 'silent' }),
    hunt: { maxExecutionSeconds: 1 }, ...extra,
    security: { passwordParams: { memoryKiB: 64, passes: 1, parallelism: 1, tagLength: 32 }, ...extra.security },
  });
  const f: Fixture = { server, dir, adminKey: readFileSync(server.adminKeyPath, 'utf8').trim(), tokens: {}, agents: [], stop: async () => {} };
  for (const role of ROLES) {
    const r = await call(f, 'POST', '/users', { token: f.adminKey, body: { email: `${role}@default.test`, password: PASSWORD, role } });
    if (r.status !== 201) throw new Error(`create ${role}: ${r.status} ${JSON.stringify(r.body)}`);
    f.tokens[role] = (await login(f, `${role}@default.test`)).access_token;
  }
  await server.security.users.bootstrapSuperAdmin('root@platform.test', PASSWORD);
  f.tokens.super = (await login(f, 'root@platform.test', '_platform')).access_token;
  const t = await call(f, 'POST', '/tenants', { token: f.tokens.super, body: { id: FOREIGN_TENANT, name: 'Other', admin: { email: 'admin@other.test', password: PASSWORD } } });
  if (t.status !== 201) throw new Error(`create tenant: ${t.status} ${JSON.stringify(t.body)}`);
  f.tokens.foreign = (await login(f, 'admin@other.test', FOREIGN_TENANT)).access_token;
  for (const [tenant, name] of [['default', 'own-host'], [FOREIGN_TENANT, 'foreign-host']]) {
    const { token } = await issueEnrollmentToken(server.metadata, tenant, 60_000, 1);
    const agent = await SimulatedAgent.enroll(server.grpcAddress, server.caPem, token, name);
    agent.connect();
    await agent.send(agent.syntheticEvents(20));
    f.agents.push(agent);
  }
  f.stop = async () => {
    for (const a of f.agents) a.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return f;
}

/** Waits until the pipeline has stored every acknowledged batch. */
export async function drained(f: Fixture): Promise<void> {
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    if (/^vigil_bus_backlog_messages 0$/m.test(await (await fetch(`${f.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${f.server.metricsToken}` } })).text())) return;
  }
  throw new Error('the pipeline did not catch up');
}
