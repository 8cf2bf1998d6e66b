// Response commands over the real stream: a real embedded server and a real Agent with the response executor.
// list_processes and kill_process (PID plus start time: a reused PID is never killed), delivery to an agent
// that was offline, expiry, idempotency by command id across an agent restart, two-person approval, tenant
// scoping and permissions, forged reports, and every transition in the audit ledger with the requesting principal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResponseExecutor } from '../../src/agent/response/executor.ts';
import { permissionsOf } from '../../src/identity/permissions.ts';
import { ProcReader } from '../../src/agent/sensors/proc/reader.ts';
import { procStartTimeMs } from '../../src/agent/sensors/proc/parse.ts';
import { actionReaches, quiet, startTestAgent, startTestServer, until, type TestAgent, type TestServer } from './helpers.ts';

let t: TestServer;
let a: TestAgent;

before(async () => {
  t = await startTestServer({ requireIsolationApproval: true, expirySweepMs: 100 });
  a = await startTestAgent(t, join(t.dir, 'agent'));
  await until('agent connected', () => a.agent.connected || undefined);
});

/** Waits until the server holds `n` agent streams. */
async function connectedAgents(n: number): Promise<void> {
  const line = new RegExp(`^vigil_connected_agents ${n}$`, 'm');
  await until(`${n} agents connected`, async () => line.test(await (await fetch(`${t.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.server.metricsToken}` } })).text()) || undefined);
}

/** Stops the agent and waits until the server has seen its stream close. */
async function stopAgent(): Promise<void> {
  await a.agent.stop();
  await connectedAgents(0);
}

after(async () => {
  await a.agent.stop();
  await t.stop();
});

/** An API key with `role` in `tenantId`, made by that tenant's (test) administrator. */
async function newKey(role: string, tenantId = 'default'): Promise<string> {
  await t.server.metadata.ensureTenant(tenantId, tenantId);
  const admin = { kind: 'user' as const, subject: 'test-admin', tenantId, role: 'admin' as const, permissions: permissionsOf('admin'), tokenId: 'test' };
  return (await t.server.security.auth.createApiKey(admin, { name: role, role })).key;
}

function startTimeOf(pid: number): number {
  const r = new ProcReader();
  return procStartTimeMs(r.stat(pid)!.startTicks, r.bootInfo().btimeS);
}

test('list_processes returns this host\'s processes with entity ids', async () => {
  const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: '{}' });
  assert.equal(r.status, 202);
  const done = await actionReaches(t, r.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', done.error);
  const self = done.result.processes.find((p: any) => p.pid === process.pid);
  assert.ok(self, 'the test process is listed');
  assert.match(self.entity_id, /^[A-Za-z0-9_-]{22}$/);
});

test('kill_process kills the process with that start time; the exit carries the signal', async () => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await until('child in /proc', () => new ProcReader().stat(child.pid!));
  const r = await t.api(`/hosts/${a.agent.agentId}/kill-process`, {
    method: 'POST', body: JSON.stringify({ pid: child.pid, start_time: new Date(startTimeOf(child.pid!)).toISOString(), signal: 'SIGKILL', reason: 'test: kill the sleeper' }),
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const [code, signal] = await exited;
  assert.equal(code, null);
  assert.equal(signal, 'SIGKILL');
  const done = await actionReaches(t, r.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', done.error);
  assert.equal(done.result.pid, child.pid);
  assert.equal(done.result.exited, true);
  assert.deepEqual(t.audit.actionsFor(r.body.id), ['ir.requested', 'ir.delivered', 'ir.running', 'ir.succeeded']);
  assert.ok(t.audit.records.filter((x) => x.target === r.body.id).every((x) => x.actor.startsWith('apikey:')), 'audited with the requester');
});

test('kill_process for a PID whose start time differs is refused and nothing is signalled', async () => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await until('child in /proc', () => new ProcReader().stat(child.pid!));
  try {
    const wrongStart = startTimeOf(child.pid!) - 60_000; // the PID as it was used by an earlier process
    const r = await t.api(`/hosts/${a.agent.agentId}/kill-process`, { method: 'POST', body: JSON.stringify({ pid: child.pid, start_time: wrongStart, reason: 'test: wrong start time' }) });
    const done = await actionReaches(t, r.body.id, ['succeeded', 'failed']);
    assert.equal(done.status, 'failed');
    assert.match(done.error, /PID was reused/);
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
    const byEntity = await t.api(`/hosts/${a.agent.agentId}/kill-process`, { method: 'POST', body: JSON.stringify({ pid: child.pid, entity_id: 'AAAAAAAAAAAAAAAAAAAAAA', reason: 'test: wrong entity' }) });
    assert.match((await actionReaches(t, byEntity.body.id, ['failed'])).error, /PID was reused/);
    assert.equal(child.signalCode, null);
  } finally {
    child.kill('SIGKILL');
  }
});

test('kill_process without a start time or entity id is refused at the API', async () => {
  const r = await t.api(`/hosts/${a.agent.agentId}/kill-process`, { method: 'POST', body: JSON.stringify({ pid: 1234, reason: 'test: pid alone' }) });
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /start_time or entity_id/);
});

test('reasons: required for kill, file, triage, isolation and release; bounded; kept on the command, in GET /ir/actions and in ir.requested', async () => {
  const host = `/hosts/${a.agent.agentId}`;
  for (const [path, body] of [['kill-process', { pid: 1234, entity_id: 'E' }], ['get-file', { path: '/etc/hostname' }], ['collect', { paths: ['/tmp'] }],
    ['isolate', {}], ['release', {}]] as const) {
    const r = await t.api(`${host}/${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.deepEqual([r.status, /reason/.test(JSON.stringify(r.body))], [400, true], `${path} without a reason`);
  }
  for (const reason of ['', '   ', 'x'.repeat(1001)]) {
    const r = await t.api(`${host}/get-file`, { method: 'POST', body: JSON.stringify({ path: '/etc/hostname', reason }) });
    assert.equal(r.status, 400, `reason ${JSON.stringify(reason).slice(0, 20)}`);
  }
  const reason = 'IR-7: copy of the dropper seen in alert 9f2c — ünïcode kept';
  const r = await t.api(`${host}/get-file`, { method: 'POST', body: JSON.stringify({ path: '/etc/hostname', reason, expires_in_s: 60 }) });
  assert.equal(r.status, 202);
  assert.equal(r.body.reason, reason);
  const listed = (await t.api(`/ir/actions?host_id=${a.agent.agentId}`)).body.actions.find((x: { id: string }) => x.id === r.body.id);
  assert.equal(listed.reason, reason, 'GET /ir/actions shows it');
  assert.equal((await t.api(`/ir/actions/${r.body.id}`)).body.reason, reason);
  const requested = t.audit.records.find((x) => x.target === r.body.id && x.action === 'ir.requested');
  assert.equal((requested?.detail as { reason?: string }).reason, reason, 'the ledger records it');
  const list = await t.api(`${host}/list-processes`, { method: 'POST', body: JSON.stringify({ limit: 1 }) });
  assert.deepEqual([list.status, list.body.reason], [202, null], 'listing processes needs no reason');
  await actionReaches(t, r.body.id, ['succeeded', 'failed']);
  await actionReaches(t, list.body.id, ['succeeded']);
});

test('a command for an offline agent waits, is delivered when the agent reconnects, and is not run twice', async () => {
  await stopAgent();
  const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: JSON.stringify({ limit: 5 }) });
  assert.equal(r.status, 202);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal((await t.api(`/ir/actions/${r.body.id}`)).body.status, 'pending');
  a = await startTestAgent(t, a.dataDir);
  const done = await actionReaches(t, r.body.id, ['succeeded']);
  assert.equal(done.result.count, 5);
  assert.equal(done.deliveries, 1);
  // Reconnecting again re-sends nothing terminal; the journal keeps the answer for a re-delivered id.
  await stopAgent();
  a = await startTestAgent(t, a.dataDir);
  await until('agent connected', () => a.agent.connected || undefined);
  assert.equal((await t.api(`/ir/actions/${r.body.id}`)).body.status, 'succeeded');
});

test('an agent answers a command id it already ran from its journal', async () => {
  const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: JSON.stringify({ limit: 1 }) });
  const first = await actionReaches(t, r.body.id, ['succeeded']);
  let sent: any;
  const link = { agentId: a.agent.agentId, sendCommandResult: (x: any) => { sent = x; return true; }, sendArtifactChunk: () => true, heartbeat() {} };
  a.executor.attach(link);
  try {
    a.executor.handle({ id: r.body.id, action: 'list_processes', params_json: '{"limit":1}' });
    await until('journal answer', () => sent);
    assert.equal(sent.status, 'succeeded');
    assert.deepEqual(JSON.parse(sent.result_json), first.result);
  } finally {
    a.executor.attach(a.agent);
  }
});

test('a command for an agent that never comes back expires', async () => {
  await stopAgent();
  const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: JSON.stringify({ expires_in_s: 1 }) });
  const done = await actionReaches(t, r.body.id, ['expired'], 5000);
  assert.match(done.error, /expired/);
  assert.deepEqual(t.audit.actionsFor(r.body.id), ['ir.requested', 'ir.expired']);
  a = await startTestAgent(t, a.dataDir);
  await until('agent connected', () => a.agent.connected || undefined);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal((await t.api(`/ir/actions/${r.body.id}`)).body.status, 'expired', 'an expired command is never delivered');
});

test('isolation needs a second, different principal when two-person approval is on', async () => {
  const r = await t.api(`/hosts/${a.agent.agentId}/isolate`, { method: 'POST', body: JSON.stringify({ reason: 'test' }) });
  assert.equal(r.status, 202);
  assert.equal(r.body.status, 'awaiting_approval');
  const self = await t.api(`/ir/actions/${r.body.id}/approve`, { method: 'POST' });
  assert.equal(self.status, 409);
  assert.match(self.body.detail, /different principal/);
  const viewer = await newKey('viewer');
  assert.equal((await t.api(`/ir/actions/${r.body.id}/approve`, { method: 'POST', key: viewer })).status, 403);
  // Expire it rather than isolate the test host for real (isolation itself is tested in namespaces).
  const list = await t.api(`/ir/actions?status=awaiting_approval`);
  assert.ok(list.body.actions.some((x: any) => x.id === r.body.id));
});

test('a responder approves another principal\'s isolation request; then it is delivered', async () => {
  let applied = 0;
  await stopAgent();
  a = await startTestAgent(t, a.dataDir, { nft: async () => { applied++; } });
  await until('agent connected', () => a.agent.connected || undefined);
  const r = await t.api(`/hosts/${a.agent.agentId}/isolate`, { method: 'POST', body: JSON.stringify({ dns: ['127.0.0.53'], reason: 'two-person test' }) });
  const responder = await newKey('responder');
  const ok = await t.api(`/ir/actions/${r.body.id}/approve`, { method: 'POST', key: responder });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const done = await actionReaches(t, r.body.id, ['succeeded', 'failed']);
  assert.equal(done.status, 'succeeded', done.error);
  assert.equal(applied, 1);
  assert.match(done.approved_by, /^apikey:/);
  assert.notEqual(done.approved_by, done.requested_by);
  assert.deepEqual(t.audit.actionsFor(r.body.id), ['ir.requested', 'ir.approved', 'ir.delivered', 'ir.running', 'ir.succeeded']);
  const host = await until('heartbeat says isolated', async () => (await t.api(`/hosts/${a.agent.agentId}`)).body.health?.isolated || undefined);
  assert.equal(host, true);
  const rel = await t.api(`/hosts/${a.agent.agentId}/release`, { method: 'POST', body: '{"reason":"done"}' });
  assert.equal((await actionReaches(t, rel.body.id, ['succeeded', 'failed'])).status, 'succeeded');
});

test('another tenant sees none of this tenant\'s hosts or actions; a viewer cannot act', async () => {
  const other = await newKey('admin', 'tenant-b');
  assert.equal((await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: '{}', key: other })).status, 404);
  const mine = await t.api(`/ir/actions?limit=1`);
  const id = mine.body.actions[0].id;
  assert.equal((await t.api(`/ir/actions/${id}`, { key: other })).status, 404);
  assert.deepEqual((await t.api(`/ir/actions`, { key: other })).body.actions, []);
  const viewer = await newKey('viewer');
  assert.equal((await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: '{}', key: viewer })).status, 403);
  assert.equal((await t.api(`/ir/actions/${id}`, { key: viewer })).status, 200);
});

async function refusedReports(reason: string): Promise<number> {
  const text = await (await fetch(`${t.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${t.server.metricsToken}` } })).text();
  return Number(new RegExp(`^vigil_ir_refused_reports_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

test('an agent cannot report on another agent\'s command, nor upload for a command that expects no upload', async () => {
  await stopAgent();
  const b = await startTestAgent(t, join(t.dir, 'agent-b'));
  try {
    await connectedAgents(1);
    const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: '{}' });
    const unknownBefore = await refusedReports('unknown_command');
    assert.ok(b.agent.sendCommandResult({ id: r.body.id, status: 'succeeded', result_json: '{"forged":true}' }));
    await until('refusal counted', async () => (await refusedReports('unknown_command')) > unknownBefore || undefined);
    assert.equal((await t.api(`/ir/actions/${r.body.id}`)).body.status, 'pending', 'the forged result changed nothing');

    const own = await t.api(`/hosts/${b.agent.agentId}/list-processes`, { method: 'POST', body: '{"limit":1}' });
    await actionReaches(t, own.body.id, ['succeeded']);
    const unexpectedBefore = await refusedReports('artifact_unexpected');
    assert.ok(b.agent.sendArtifactChunk({ command_id: own.body.id, seq: 0, data: Buffer.from('x'), last: true, sha256: 'x' }));
    await until('refusal counted', async () => (await refusedReports('artifact_unexpected')) > unexpectedBefore || undefined);
    assert.equal((await t.api(`/ir/actions/${own.body.id}`)).body.artifact_id, null);
  } finally {
    await b.agent.stop();
    a = await startTestAgent(t, a.dataDir);
  }
});

test('a command that was running when the agent stopped is reported failed, not run again', async () => {
  let sent: any;
  const link = { agentId: a.agent.agentId, sendCommandResult: (x: any) => { sent = x; return true; }, sendArtifactChunk: () => true, heartbeat() {} };
  const executor = new ResponseExecutor({ dataDir: a.dataDir, log: quiet, management: { host: '127.0.0.1', port: 1 } });
  executor.attach(link);
  writeFileSync(join(a.dataDir, 'response', 'commands', 'ir-interrupted.json'), JSON.stringify({ id: 'ir-interrupted', status: 'running' }));
  executor.handle({ id: 'ir-interrupted', action: 'kill_process', params_json: JSON.stringify({ pid: process.pid, entity_id: 'x' }) });
  await until('answer', () => sent);
  assert.deepEqual(sent, { id: 'ir-interrupted', status: 'failed', error: 'the agent stopped while the command ran' });
});

test('listing refuses a malformed time and an unknown status', async () => {
  assert.equal((await t.api('/ir/actions?before=yesterday')).status, 400);
  assert.equal((await t.api('/ir/actions?status=done')).status, 400);
  assert.equal((await t.api(`/hosts/${a.agent.agentId}/collect`, { method: 'POST', body: JSON.stringify({ paths: ['/tmp'], expires_in_s: 'soon', reason: 'r' }) })).status, 400);
  assert.equal((await t.api(`/hosts/${a.agent.agentId}/collect`, { method: 'POST', body: JSON.stringify({ paths: ['/tmp'], expires_in_s: 1e9, reason: 'r' }) })).status, 400);
});
