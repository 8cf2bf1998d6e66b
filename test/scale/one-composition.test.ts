// The features that once existed only embedded, through separate `vigil ingest` and `vigil api` processes (one
// composition: src/server/assembly.ts): policy push (the latest versions when an agent's stream opens, a new
// version to the connected agents at once, the agent's acknowledgement recorded), the immediate cut of a revoked
// agent's open stream (across processes, through the control bus), two-person approval of isolation and the
// expiry of response actions (`--ir-two-person`, `--ir-expiry`). NATS JetStream in a private namespace, the
// ClickHouse HTTP fixture, a fresh PostgreSQL database, a real Agent.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { quiet, SilentSensor, until } from '../response/helpers.ts';

const NATS = 'nats://127.0.0.1:4222';
const namespace = `one${randomBytes(4).toString('hex')}`;
let db: TempDatabase;
let dir: string;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
let ingest: RoleProcess;
let api: RoleProcess;
let apiKey: string;
let caPem: string;
let agent: Agent | undefined;

const env = (): NodeJS.ProcessEnv => ({
  ...process.env, VIGIL_NATS_URL: NATS, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(256 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url,
  VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'), VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn',
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://${api.addresses.http}/api/v1${path}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
  return { status: res.status, body: await res.json() };
}

const agentRow = async () => (await call('GET', '/agents')).body.agents.find((a: any) => a.id === agent!.agentId);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-scale-one-'));
  db = await createTempDatabase('one');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  caPem = (await loadOrCreateCa(join(dir, 'pki'))).certPem;
  ingest = await spawnRole(['ingest', '--grpc', `127.0.0.1:${await freePort()}`], env());
  // Flags, variables and the configuration file all reach the API role: expiry by flag, two-person approval by variable.
  api = await spawnRole(['api', '--http', '127.0.0.1:0', '--ir-expiry', '3'], { ...env(), VIGIL_IR_TWO_PERSON: '1' });
  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  apiKey = (await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'one', role: 'admin', createdBy: 'test' })).key;
  await identity.close();
});

after(async () => {
  await agent?.stop();
  for (const p of [ingest, api]) if (p) await stopProcess(p.child, 'SIGKILL');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('policies at scale: the latest version when the stream opens, a new one at once, both acknowledged', { timeout: 60_000 }, async () => {
  assert.equal((await call('PUT', '/policies/agent', { document: { heartbeat_ms: 7000 } })).status, 200);
  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  agent = new Agent({ dataDir: join(dir, 'agent'), server: ingest.addresses.grpc, caPem, log: quiet, enrollmentToken: token, sensor: new SilentSensor() });
  await agent.start();
  await until('the acknowledgement of version 1 (sent by the ingest process when the stream opened)', async () => (await agentRow())?.policy_versions.agent === 1 || undefined, 15_000);
  assert.equal(agent.settings.heartbeatMs, 7000);
  assert.equal((await call('PUT', '/policies/sensor', { document: { batch_events: 7 } })).status, 200);
  await until('the new version pushed from the API process through the ingest process and acknowledged', async () => (await agentRow())?.policy_versions.sensor === 1 || undefined, 15_000);
  assert.equal(agent.settings.batchEvents, 7);
});

test('response at scale: isolation awaits a second person (--ir-two-person); an action not done in time expires (--ir-expiry)', { timeout: 60_000 }, async () => {
  const r = await call('POST', `/hosts/${agent!.agentId}/isolate`, { reason: 'two-person at scale' });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.status, 'awaiting_approval');
  const expiresIn = Date.parse(r.body.expires_at) - Date.now();
  assert.ok(expiresIn > 0 && expiresIn <= 3_000, `expires in ${expiresIn} ms`);
  await until('the unapproved isolation expired', async () => (await call('GET', `/ir/actions/${r.body.id}`)).body.status === 'expired' || undefined, 15_000);
});

test('revoking an agent through the API process cuts its stream on the ingest process at once', { timeout: 60_000 }, async () => {
  assert.ok(agent!.connected);
  const started = Date.now();
  assert.equal((await call('POST', `/agents/${agent!.agentId}/revoke`)).status, 200);
  await until('the stream cut', () => !agent!.connected || undefined, 10_000);
  assert.ok(Date.now() - started < 5_000, 'cut at once, not at a reconnect');
  const metrics = await (await fetch(`http://${ingest.addresses.health}/metrics`, { headers: metricsHeaders })).text();
  assert.ok(Number(/vigil_streams_refused_total\{reason="agent certificate revoked"\} (\d+)/.exec(metrics)?.[1] ?? 0) >= 1, 'the open stream was cut as revoked');
});
