// Response actions across the scale-out roles: one `vigil ingest` and one `vigil api` as separate processes on
// NATS JetStream (a private namespace on the shared server), the ClickHouse HTTP fixture and a fresh PostgreSQL
// database, and a real Agent with the response executor connected to the ingest process. The API role's
// dispatcher publishes on `ir.<tenant>.<host>`, the ingest process writes the command down the agent's stream,
// and results, artefact chunks and "connected" come back on `ir-reports.<tenant>.<host>`: list_processes,
// kill_process (a `sleep` started here, by PID and entity id), get_file (the bytes and their digest, through the
// reverse path), and a command for an offline agent delivered when it connects (to a second ingest process), not
// run twice. Last, `vigil server` (every role in one process) runs a command the same way, and serves the
// artefact the first API process stored (artefacts are in PostgreSQL, not in a process's directory).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.ts';
import { ResponseExecutor } from '../../src/agent/response/executor.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { splitHostPort } from '../../src/server/embedded.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { quiet, SilentSensor, until } from '../response/helpers.ts';
import { SCHED_IDLE, threadPolicies } from '../../src/util/thread-priority.ts';
import { INGEST_NODE_FLAGS } from '../../src/cli/node-flags.ts';

const NATS = 'nats://127.0.0.1:4222';
const namespace = `irt${randomBytes(4).toString('hex')}`;
let db: TempDatabase;

let dir: string;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
let ingest: RoleProcess;
let otherIngest: RoleProcess | undefined;
let api: RoleProcess;
let server: RoleProcess | undefined;
let apiKey: string;
let caPem: string;
let agent: Agent | undefined;
let agentId: string;
let fetched: { id: string; sha256: string } | undefined; // the get_file artefact, stored through the first API process
const children = new Set<ChildProcess>();

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env, VIGIL_NATS_URL: NATS, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(256 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url, VIGIL_POSTGRES_URL: db.url,
    VIGIL_PKI_DIR: join(dir, 'pki'), VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn',
  };
}

async function call(path: string, body?: unknown, via: RoleProcess = api): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`http://${via.addresses.http}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function reaches(id: string, statuses: string[], via: RoleProcess = api): Promise<any> {
  return until(`${id} to be ${statuses.join('|')}`, async () => {
    const r = await call(`/ir/actions/${id}`, undefined, via);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, 15_000);
}

/** A real agent with the response executor on the ingest process (enrolled on first start; same data dir after). */
async function startAgent(via: RoleProcess, enrollmentToken?: string): Promise<Agent> {
  const dataDir = join(dir, 'agent');
  const executor = new ResponseExecutor({ dataDir, log: quiet, management: splitHostPort(via.addresses.grpc) });
  await executor.start();
  const a = new Agent({
    ...executor.agentOptions(), dataDir, server: via.addresses.grpc, caPem, log: quiet, enrollmentToken,
    sensor: new SilentSensor(), heartbeatMs: 60_000,
  });
  executor.attach(a);
  await a.start();
  await until('agent connected', () => a.connected || undefined, 15_000);
  return a;
}

/** The audit ledger's actions for one command, in order (the API role is the only writer). */
async function auditedActions(id: string): Promise<string[]> {
  const r = await call('/ledger/entries?limit=1000');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.entries.filter((e: any) => JSON.stringify(e).includes(id)).map((e: any) => e.event?.action ?? e.action);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-scale-ir-'));
  db = await createTempDatabase('ir');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  caPem = (await loadOrCreateCa(join(dir, 'pki'))).certPem;
  ingest = await spawnRole(['ingest', '--grpc', `127.0.0.1:${await freePort()}`], env());
  api = await spawnRole(['api', '--http', '127.0.0.1:0'], env());
  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  apiKey = (await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'ir', role: 'admin', createdBy: 'test' })).key;
  await identity.close();
  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  agent = await startAgent(ingest, token);
  agentId = agent.agentId;
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await agent?.stop();
  for (const p of [ingest, otherIngest, api, server]) if (p) await stopProcess(p.child, 'SIGKILL');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a process running the ingest role without workers schedules its main thread ahead where allowed', async () => {
  const metrics = await (await fetch(`http://${ingest.addresses.health}/metrics`, { headers: metricsHeaders })).text();
  const expected = process.getuid?.() === 0 ? -10 : 0; // as root (CI); elsewhere it keeps its nice value and logs why
  assert.equal(Number(/^vigil_ingest_thread_nice (-?\d+)$/m.exec(metrics)?.[1]), expected);
  assert.match(metrics, /^vigil_ingest_thread_loop_delay_seconds\{quantile="0.99"\} [\d.e+-]+$/m, 'its event-loop delay is reported');
  const stat = readFileSync(`/proc/${ingest.child.pid}/stat`, 'utf8');
  assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]), expected, 'the main thread\'s nice value');
});

test('an ingest process re-executes itself (same pid) under its V8 flags; VIGIL_INGEST_NODE_FLAGS replaces them or turns them off', async () => {
  const nodeFlags = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.startsWith('--max-semi-space-size'));
  assert.deepEqual(nodeFlags(ingest.child.pid!), INGEST_NODE_FLAGS);
  for (const [setting, expected] of [['off', []], ['--max-semi-space-size=8', ['--max-semi-space-size=8']]] as const) {
    const other = await spawnRole(['ingest', '--grpc', `127.0.0.1:${await freePort()}`], { ...env(), VIGIL_INGEST_NODE_FLAGS: setting });
    children.add(other.child);
    try {
      assert.deepEqual(nodeFlags(other.child.pid!), expected, `VIGIL_INGEST_NODE_FLAGS=${setting}`);
    } finally {
      await stopProcess(other.child, 'SIGTERM');
    }
  }
});

test('a process running the worker role without ingest runs every thread under SCHED_IDLE, or at its nice value without', async () => {
  for (const [setting, idle] of [[undefined, 1], ['0', 0]] as const) {
    const worker = await spawnRole(['worker'], { ...env(), VIGIL_WORKER_IDLE_SCHEDULING: setting });
    children.add(worker.child);
    try {
      const metrics = await (await fetch(`http://${worker.addresses.health}/metrics`, { headers: metricsHeaders })).text();
      assert.equal(Number(/^vigil_worker_idle_scheduling (\d+)$/m.exec(metrics)?.[1]), idle);
      assert.equal(Number(/^vigil_worker_nice (\d+)$/m.exec(metrics)?.[1]), 5);
      const policies = threadPolicies(worker.child.pid);
      assert.ok(policies.length > 1 && policies.every((p) => p === (idle ? SCHED_IDLE : 0)), `threads' policies: ${policies.join(',')}`);
    } finally {
      await stopProcess(worker.child, 'SIGTERM');
    }
  }
});

test('list_processes then kill_process by PID and entity id, through the API role and the ingest process', { timeout: 60_000 }, async () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.add(sleeper);
  const exited = once(sleeper, 'exit');

  const list = await call(`/hosts/${agentId}/list-processes`, {});
  assert.equal(list.status, 202, JSON.stringify(list.body));
  const listed = await reaches(list.body.id, ['succeeded', 'failed']);
  assert.equal(listed.status, 'succeeded', listed.error);
  // 1, or 2 when the agent's "connected" report reached the API role just after the request: a redelivery the
  // agent answers from its journal.
  assert.ok(listed.deliveries >= 1);
  const target = listed.result.processes.find((p: any) => p.pid === sleeper.pid);
  assert.ok(target?.entity_id, 'the sleep is listed with its entity id');

  const kill = await call(`/hosts/${agentId}/kill-process`, { pid: sleeper.pid, entity_id: target.entity_id, signal: 'SIGKILL', reason: 'scale test: kill the sleeper' });
  assert.equal(kill.status, 202, JSON.stringify(kill.body));
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL');
  const killed = await reaches(kill.body.id, ['succeeded', 'failed']);
  assert.equal(killed.status, 'succeeded', killed.error);
  assert.equal(killed.result.pid, sleeper.pid);
  assert.equal(killed.result.exited, true);
  assert.deepEqual((await auditedActions(kill.body.id)).filter((a) => a.startsWith('ir.')), ['ir.requested', 'ir.delivered', 'ir.running', 'ir.succeeded']);
});

test('get_file: the artefact comes back chunk by chunk through the reports stream, digest checked', { timeout: 60_000 }, async () => {
  const file = join(dir, 'evidence.bin');
  const bytes = randomBytes(300 * 1024); // several 64 KiB chunks, each acknowledged through the relay
  writeFileSync(file, bytes);
  const r = await call(`/hosts/${agentId}/get-file`, { path: file, reason: 'scale test: fetch the evidence' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await reaches(r.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', done.error);
  const digest = createHash('sha256').update(bytes).digest('hex');
  assert.equal(done.result.sha256, digest);
  const dl = await call(`/ir/artifacts/${done.artifact_id}`);
  assert.equal(dl.status, 200);
  assert.equal(createHash('sha256').update(dl.body).digest('hex'), digest);
  fetched = { id: done.artifact_id, sha256: digest };
});

test('a command for an offline agent waits, is delivered when it connects to another ingest process, and runs once', { timeout: 60_000 }, async () => {
  otherIngest = await spawnRole(['ingest', '--grpc', `127.0.0.1:${await freePort()}`], env());
  await agent!.stop();
  agent = undefined;
  const r = await call(`/hosts/${agentId}/list-processes`, { limit: 1 });
  assert.equal(r.status, 202);
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal((await call(`/ir/actions/${r.body.id}`)).body.status, 'pending', 'nobody holds the agent: not delivered');
  agent = await startAgent(otherIngest);
  const done = await reaches(r.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', done.error);
  assert.equal(done.deliveries, 1);
  assert.deepEqual((await auditedActions(r.body.id)).filter((a) => a.startsWith('ir.')), ['ir.requested', 'ir.delivered', 'ir.running', 'ir.succeeded']);
});

test('`vigil server` (every role in one process) relays too', { timeout: 60_000 }, async () => {
  await agent!.stop();
  agent = undefined;
  for (const p of [ingest, otherIngest!, api]) await stopProcess(p.child, 'SIGTERM');
  server = await spawnRole(['server', '--grpc', `127.0.0.1:${await freePort()}`, '--http', '127.0.0.1:0'], env());
  agent = await startAgent(server);
  const r = await call(`/hosts/${agentId}/list-processes`, { limit: 1 }, server);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await reaches(r.body.id, ['succeeded', 'failed'], server);
  assert.equal(done.status, 'succeeded', done.error);
  // An artefact stored through the other API process (now stopped) downloads here: artefacts are in PostgreSQL.
  assert.ok(fetched, 'the get_file test ran');
  const dl = await call(`/ir/artifacts/${fetched.id}`, undefined, server);
  assert.equal(dl.status, 200);
  assert.equal(createHash('sha256').update(dl.body).digest('hex'), fetched.sha256);
});

test('rules through the API role: a rule naming a response needs ir:execute; a write is owned by, and audited with, its writer and tenant', { timeout: 60_000 }, async () => {
  // Automated response does not run in the scale-out roles (no responder is wired there), but the rule routes and
  // the shared rule state in PostgreSQL are the same: the rules it would run carry their owner.
  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  const analyst = (await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'rules', role: 'analyst', createdBy: 'test' })).key;
  await identity.close();
  const via = server ?? api; // the API role of `vigil server` after the test before, else the `vigil api` process
  const as = async (key: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://${via.addresses.http}/api/v1${path}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    });
    return { status: res.status, body: await res.json() as any };
  };
  const id = '5e1d7a30-bbbb-4c2d-9e0f-000000000017';
  const text = `title: scale respond\nid: ${id}\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '/vigil-scale-tool'\n  condition: sel\nlevel: critical\nresponse:\n  action: kill_process\n`;
  const refused = await as(analyst, 'POST', '/rules', { yaml: text });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal((await as(analyst, 'GET', `/rules/${id}`)).status, 404);
  const created = await as(apiKey, 'POST', '/rules', { yaml: text });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const shown = (await as(analyst, 'GET', `/rules/${id}`)).body;
  assert.deepEqual([shown.response, shown.owner], ['kill_process', { kind: 'tenant', tenant_id: 'default' }]);
  const { default: pg } = await import('pg');
  const client = new pg.Client(db.config);
  await client.connect();
  const stored = (await client.query('SELECT tenant_id, updated_by FROM uploaded_rules WHERE text LIKE $1', [`%${id}%`]).finally(() => client.end())).rows;
  assert.equal(stored.length, 1);
  assert.equal(stored[0].tenant_id, 'default');
  assert.match(stored[0].updated_by, /^apikey:/);
  const audited = (await call('/ledger/entries?limit=1000', undefined, via)).body.entries.filter((e: any) => e.action === 'rules.create' && e.details.ids.includes(id));
  assert.equal(audited.length, 1);
  assert.deepEqual([audited[0].tenant_id, audited[0].actor, audited[0].details.owner_tenant], ['default', stored[0].updated_by, 'default']);
});
