// Policies end to end, with the real embedded server and a real Agent: the latest version of each policy goes
// down the stream when it opens and every new version to the tenant's connected agents; the agent stores it in
// its data dir, honours the documented keys (batch_events, batch_interval_ms, heartbeat_ms,
// sensor.ignore_comms) and acknowledges the version, which GET /agents and /policies/{name}/acks show. Then
// revocation cuts the agent's open stream at once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Observation, Sensor } from '../../src/agent/sensor.ts';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';

const quiet = pino({ level: 'silent' });

/** A sensor the test drives: every `emit` is an observation the agent receives. */
class ScriptedSensor implements Sensor {
  readonly mode = 'proc' as const;
  private sink: ((o: Observation) => void) | undefined;
  async start(emit: (o: Observation) => void): Promise<void> { this.sink = emit; }
  async stop(): Promise<void> { this.sink = undefined; }
  health() { return { mode: 'proc' as const, drops: 0, restarts: 0 }; }
  exec(pid: number, executable: string): void {
    const comm = executable.slice(executable.lastIndexOf('/') + 1);
    this.sink!({ type: 'process_start', timeMs: Date.now(), pid, ppid: 1, uid: 0, comm, executable, args: [executable], startTimeMs: Date.now() });
  }
}

let server: RunningServer;
let dir: string;
let adminKey: string;
let agent: Agent;
const sensor = new ScriptedSensor();

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.httpUrl}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as any };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const agentRow = async () => (await api('GET', '/agents')).body.agents.find((a: any) => a.id === agent.agentId);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
  server = await startEmbeddedServer({ dataDir: join(dir, 'server'), http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: quiet });
  adminKey = readFileSync(server.adminKeyPath, 'utf8').trim();
});

after(async () => {
  await agent?.stop();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the latest version of each policy reaches an agent when it connects; it stores, applies and acknowledges it', async () => {
  assert.equal((await api('PUT', '/policies/agent', { document: { heartbeat_ms: 5000, batch_interval_ms: 60_000 } })).status, 200);
  assert.equal((await api('PUT', '/policies/agent', { document: { heartbeat_ms: 7000, batch_interval_ms: 60_000, future_key: true } })).body.version, 2);
  agent = new Agent({
    dataDir: join(dir, 'agent'), server: server.grpcAddress, caPem: server.caPem, log: quiet, sensor,
    enrollmentToken: await server.createEnrollmentToken(),
  });
  await agent.start();

  const row = await until('the acknowledgement of version 2', async () => { const r = await agentRow(); return r?.policy_versions.agent === 2 && r; });
  assert.deepEqual(row.policy_versions, { agent: 2 });
  assert.equal(agent.settings.heartbeatMs, 7000);
  assert.equal(agent.settings.batchIntervalMs, 60_000);
  assert.equal(agent.settings.batchEvents, 100, 'keys the policy does not set keep the option');
  const stored = JSON.parse(readFileSync(join(dir, 'agent', 'policies', 'agent.json'), 'utf8'));
  assert.deepEqual(stored, { name: 'agent', version: 2, document: { heartbeat_ms: 7000, batch_interval_ms: 60_000, future_key: true } });
  const acks = (await api('GET', '/policies/agent/acks')).body;
  assert.deepEqual(acks.agents.map((a: any) => [a.agent_id, a.version, a.current]), [[agent.agentId, 2, true]]);
});

test('a new version goes to the connected agent at once: batch_events and sensor.ignore_comms take effect', async () => {
  const put = await api('PUT', '/policies/sensor', { document: { batch_events: 2, sensor: { ignore_comms: ['noisy'] } } });
  assert.equal(put.status, 200);
  await until('the acknowledgement of the sensor policy', async () => (await agentRow())?.policy_versions.sensor === 1);
  assert.deepEqual((await agentRow()).policy_versions, { agent: 2, sensor: 1 });
  assert.deepEqual([...agent.settings.ignoreComms], ['noisy']);

  // batch_interval_ms is 60 s: only batch_events = 2 can send these. The ignored process never counts.
  const sent = agent.counters.eventsSent;
  sensor.exec(4001, '/usr/bin/noisy');
  sensor.exec(4002, '/usr/bin/curl');
  sensor.exec(4003, '/opt/x/noisy');
  sensor.exec(4004, '/usr/bin/wget');
  await until('a batch of two events acknowledged', () => agent.counters.eventsSent === sent + 2);
  sensor.exec(4005, '/usr/bin/noisy');
  agent.flush();
  sensor.exec(4006, '/usr/bin/id');
  agent.flush();
  await until('the flushed event acknowledged', () => agent.counters.eventsSent === sent + 3);
});

test('a document value the agent cannot use is refused by the agent and not recorded as applied', async () => {
  assert.equal((await api('PUT', '/policies/sensor', { document: { batch_events: 0 } })).body.version, 2);
  const metrics = async () => (await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text());
  await until('the refused acknowledgement counted', async () => /vigil_policy_acks_total\{outcome="agent_error"\} 1/.test(await metrics()));
  assert.equal((await agentRow()).policy_versions.sensor, 1);
  assert.equal(agent.settings.batchEvents, 100, 'the bad value is not applied');
});

test('revoking the agent cuts its open stream at once and refuses its reconnection', async () => {
  assert.ok(agent.connected);
  const revoked = await api('POST', `/agents/${agent.agentId}/revoke`);
  assert.equal(revoked.status, 200);
  await until('the stream cut', () => !agent.connected);
  const refusals = async () => Number(/vigil_streams_refused_total\{reason="agent certificate revoked"\} (\d+)/.exec(await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text())?.[1] ?? 0);
  assert.ok(await refusals() >= 1, 'the open stream was cut');
  await until('a reconnection refused', async () => (await refusals()) >= 2);
  assert.equal((await agentRow()).certificate.revoked, true);
  assert.ok(existsSync(join(dir, 'agent', 'policies', 'sensor.json')), 'the agent keeps its policies');
});
