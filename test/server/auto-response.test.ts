// Automated response end to end: a rule that names `response: {action: kill_process}` fires on an event sent
// over the real ingest path, and the server files a kill of exactly the matching process (PID + entity id)
// as the rule, through the normal command lifecycle; a response the policy does not allow is not filed.
// Tenancy (issue 17): the rule set is shared by every tenant, its responses are not. An uploaded rule's response
// runs only on hosts of the tenant whose principal wrote it; a rule file's only in the tenants the operator names;
// an event naming another host acts on nothing but its own agent's host; writing or switching on a rule that
// responds needs ir:execute; every rule write is in the audit ledger with its writer and tenant.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { permissionsOf } from '../../src/identity/permissions.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { TestServer } from '../support/embedded-server.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let t: TestServer;
const ruleDir = mkdtempSync(join(tmpdir(), 'vigil-operator-rules-'));
const OPERATOR_RULE = '7a0c1f52-aaaa-4b3c-8d9e-0000000000f1';

before(async () => {
  // A rule file of the operator's that names a response (rule files are the operator's, not a tenant's).
  writeFileSync(join(ruleDir, 'operator.yml'), rule(OPERATOR_RULE, 'vigil-operator-tool', 'kill_process'));
  t = await TestServer.start('autoresp', { autoResponse: { enabled: true }, ruleDirs: [ruleDir] });
});
after(async () => {
  for (const a of foreignAgents) a.close();
  await t.stop();
  rmSync(ruleDir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown) => t.api(method, path, body);

function rule(id: string, tool: string, action: string, level = 'high'): string {
  return `title: Auto ${action} ${tool}
id: ${id}
status: experimental
author: Vigil tests
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/${tool}'
  condition: selection
level: ${level}
response:
  action: ${action}
`;
}

function start(exe: string, agent: SimulatedAgent = t.agent): VigilEvent {
  const e = agent.syntheticEvents(1)[0];
  e.process = { ...e.process!, executable: exe, name: exe.split('/').pop(), args: [exe], command_line: exe };
  return e;
}

async function actionsOn(host: string): Promise<any[]> {
  return (await api('GET', `/api/v1/ir/actions?host_id=${host}`)).body.actions;
}

test('a rule naming kill_process has the matching process killed, by PID and entity id, as the rule', async () => {
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000001';
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule(id, 'vigil-evil-miner', 'kill_process') })).status, 201);
  const ev = start('/tmp/x/vigil-evil-miner');
  await t.agent.send([ev]);
  const until = Date.now() + 15_000;
  let actions: any[] = [];
  while (actions.length === 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    actions = await actionsOn(t.agent.identity.agentId);
  }
  assert.equal(actions.length, 1, 'one command filed');
  assert.equal(actions[0].action, 'kill_process');
  assert.equal(actions[0].params.pid, ev.process!.pid);
  assert.equal(actions[0].params.entity_id, ev.process!.entity_id);
  assert.equal(actions[0].requested_by, `rule:${id}`);
});

test('a response the policy does not allow unattended (isolate) is not filed', async () => {
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000002';
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule(id, 'vigil-other-tool', 'isolate') })).status, 201);
  const before = (await actionsOn(t.agent.identity.agentId)).length;
  const ev = start('/tmp/x/vigil-other-tool');
  await t.agent.send([ev]);
  const until = Date.now() + 10_000;
  for (;;) { // the alert is there, so detection ran
    const alerts = (await api('GET', '/api/v1/alerts?limit=1000')).body.alerts;
    if (alerts.some((a: any) => a.event_ids.includes(ev.event.id))) break;
    if (Date.now() > until) throw new Error('no alert');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await actionsOn(t.agent.identity.agentId)).length, before);
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule('7a0c1f52-aaaa-4b3c-8d9e-000000000003', 'x', 'reboot') })).status, 400, 'unknown actions are refused at upload');
});

// ---- tenancy ----

const foreignAgents: SimulatedAgent[] = [];

/** An API key with `role` in `tenantId`, made by that tenant's (test) administrator. */
async function keyFor(role: 'admin' | 'analyst' | 'responder', tenantId = 'default'): Promise<string> {
  await t.server.metadata.ensureTenant(tenantId, tenantId);
  const admin = { kind: 'user' as const, subject: `test-admin-${tenantId}`, tenantId, role: 'admin' as const, permissions: permissionsOf('admin'), tokenId: 'test' };
  return (await t.server.security.auth.createApiKey(admin, { name: `${role}-${Date.now()}`, role })).key;
}

async function as(key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.server.httpUrl}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A simulated agent enrolled in `tenantId`, streaming. */
async function agentIn(tenantId: string, name: string): Promise<SimulatedAgent> {
  await t.server.metadata.ensureTenant(tenantId, tenantId);
  const { token } = await issueEnrollmentToken(t.server.metadata, tenantId, 60_000, 1);
  const agent = await SimulatedAgent.enroll(t.server.grpcAddress, t.server.caPem, token, name);
  agent.connect();
  foreignAgents.push(agent);
  return agent;
}

/** Waits for the alert of `ev` in the tenant of `key` (so detection, and the hook, ran). */
async function alertOf(key: string, ev: VigilEvent): Promise<any> {
  for (const until = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const alerts = (await as(key, 'GET', '/alerts?limit=1000')).body.alerts ?? [];
    const found = alerts.find((a: any) => a.event_ids.includes(ev.event.id));
    if (found) return found;
    if (Date.now() > until) throw new Error(`no alert for ${ev.event.id}`);
  }
}

/** The response actions of the tenant of `key` (all hosts). */
async function actionsOf(key: string): Promise<any[]> {
  return (await as(key, 'GET', '/ir/actions?limit=1000')).body.actions;
}

/** Waits until a command on `host` is filed by `ruleId` (in the tenant of `key`). */
async function commandBy(key: string, ruleId: string, host: string): Promise<any> {
  for (const until = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const found = (await actionsOf(key)).find((c) => c.requested_by === `rule:${ruleId}` && c.host_id === host);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no command by rule ${ruleId} on ${host}`);
  }
}

test('writing or switching on a rule that names a response needs ir:execute besides rules:write', async () => {
  const analyst = await keyFor('analyst'); // rules:write, no ir:execute
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000010';
  const refused = await as(analyst, 'POST', '/rules', { yaml: rule(id, 'vigil-analyst-tool', 'kill_process', 'critical') });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(refused.body.detail, /ir:execute/);
  assert.equal((await as(analyst, 'GET', `/rules/${id}`)).status, 404, 'nothing was loaded');
  const plain = rule(id, 'vigil-analyst-tool', 'kill_process').replace(/response:\n {2}action: kill_process\n/, '');
  assert.equal((await as(analyst, 'POST', '/rules', { yaml: plain })).status, 201, 'a rule without a response is the analyst\'s to write');
  assert.equal((await as(analyst, 'PUT', `/rules/${id}`, { yaml: rule(id, 'vigil-analyst-tool', 'kill_process') })).status, 403, 'nor may a replacement add one');
  assert.equal((await as(analyst, 'GET', `/rules/${id}`)).body.response, null);

  // A responder-capable admin writes it; the analyst may switch it off, not on again.
  assert.equal((await api('PUT', `/api/v1/rules/${id}`, { yaml: rule(id, 'vigil-analyst-tool', 'kill_process') })).status, 200);
  const written = (await api('GET', `/api/v1/rules/${id}`)).body;
  assert.equal(written.response, 'kill_process');
  assert.deepEqual(written.owner, { kind: 'tenant', tenant_id: 'default' });
  assert.equal((await as(analyst, 'POST', `/rules/${id}/disable`)).status, 200);
  assert.equal((await as(analyst, 'POST', `/rules/${id}/enable`)).status, 403);
  assert.equal((await as(analyst, 'GET', `/rules/${id}`)).body.enabled, false);
  assert.equal((await api('POST', `/api/v1/rules/${id}/enable`)).status, 200);
});

test('an uploaded rule\'s response never runs on a host of another tenant; on its owner\'s hosts it does', async () => {
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000020';
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule(id, 'vigil-cross-tenant', 'kill_process', 'critical') })).status, 201);
  const foreignAdmin = await keyFor('admin', 'tenant-other');
  const foreign = await agentIn('tenant-other', 'foreign-host');
  const theirs = start('/opt/x/vigil-cross-tenant', foreign);
  await foreign.send([theirs]);
  const alert = await alertOf(foreignAdmin, theirs);
  assert.equal(alert.tenant_id, 'tenant-other', 'the shared rule detects in every tenant');
  // The owner's own host, as a positive control: filed there…
  const ours = start('/opt/x/vigil-cross-tenant');
  await t.agent.send([ours]);
  await commandBy(await keyFor('admin'), id, t.agent.identity.agentId);
  // …and, by then, long since decided for the other tenant's alert: nothing filed in that tenant.
  assert.deepEqual((await actionsOf(foreignAdmin)).filter((c) => c.requested_by === `rule:${id}`), []);
});

test('a rule file\'s response runs only in the tenants the operator configured (default: the home tenant)', async () => {
  const foreignAdmin = await keyFor('admin', 'tenant-other');
  const foreign = foreignAgents[0] ?? await agentIn('tenant-other', 'foreign-host');
  const theirs = start('/opt/x/vigil-operator-tool', foreign);
  await foreign.send([theirs]);
  await alertOf(foreignAdmin, theirs);
  const ours = start('/opt/x/vigil-operator-tool');
  await t.agent.send([ours]);
  const filed = await commandBy(await keyFor('admin'), OPERATOR_RULE, t.agent.identity.agentId);
  assert.equal(filed.params.entity_id, ours.process!.entity_id);
  assert.deepEqual((await actionsOf(foreignAdmin)).filter((c) => c.requested_by === `rule:${OPERATOR_RULE}`), []);
});

test('an event that names another tenant\'s host raises its alert, and acts, on its own agent\'s host only', async () => {
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000030';
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule(id, 'vigil-spoofed-host', 'kill_process', 'critical') })).status, 201);
  // An agent of the owner's tenant names a host it is not: the other tenant's agent.
  const foreign = foreignAgents[0] ?? await agentIn('tenant-other', 'foreign-host');
  const sneaky = await agentIn('default', 'sneaky-host');
  const ev = start('/opt/x/vigil-spoofed-host', sneaky);
  ev.host = { ...ev.host, id: foreign.identity.agentId };
  await sneaky.send([ev]);
  const admin = await keyFor('admin');
  const alert = await alertOf(admin, ev);
  assert.equal(alert.host_id, sneaky.identity.agentId, 'the alert is the reporting agent\'s');
  const filed = await commandBy(admin, id, sneaky.identity.agentId);
  assert.equal(filed.host_id, sneaky.identity.agentId);
  assert.deepEqual((await actionsOf(admin)).filter((c) => c.host_id === foreign.identity.agentId), []);
  assert.deepEqual((await actionsOf(await keyFor('admin', 'tenant-other'))).filter((c) => c.requested_by === `rule:${id}`), []);
});

test('every rule write is in the audit ledger and the rule state with its writer and tenant', async () => {
  const id = '7a0c1f52-aaaa-4b3c-8d9e-000000000040';
  const admin = await keyFor('admin');
  const text = rule(id, 'vigil-audited', 'collect_triage');
  assert.equal((await as(admin, 'POST', '/rules', { yaml: text })).status, 201);
  assert.equal((await as(admin, 'POST', `/rules/${id}/disable`)).status, 200);
  assert.equal((await as(admin, 'DELETE', `/rules/${id}`)).status, 200);
  const entries: any[] = [];
  for (let from = 0; ;) {
    const page = (await as(admin, 'GET', `/ledger/entries?from=${from}&limit=1000`)).body;
    entries.push(...page.entries);
    if (page.next === null) break;
    from = page.next;
  }
  const mine = entries.filter((e) => e.action.startsWith('rules.') && e.details.ids?.includes(id));
  assert.deepEqual(mine.map((e) => e.action), ['rules.create', 'rules.disable', 'rules.delete']);
  const actor = mine[0].actor;
  assert.match(actor, /^apikey:/);
  for (const e of mine) {
    assert.equal(e.actor, actor);
    assert.equal(e.tenant_id, 'default');
    assert.equal(e.target, `rule:${id}`);
  }
  assert.equal(mine[0].details.owner_tenant, 'default');
  assert.deepEqual(mine[0].details.responses, [`${id}:collect_triage`]);
  assert.match(mine[0].details.sha256, /^[0-9a-f]{64}$/);
  // The stored upload and switch name their writer too.
  const stored = new DatabaseSync(join(t.dir, 'detection.db'), { readOnly: true });
  try {
    const switched = stored.prepare('SELECT tenant_id, updated_by FROM rule_switches WHERE rule_id = ?').get(id) as Record<string, string>;
    assert.deepEqual({ ...switched }, { tenant_id: 'default', updated_by: actor });
    const uploads = stored.prepare('SELECT tenant_id, updated_by FROM uploaded_rules WHERE tenant_id IS NOT NULL').all() as Record<string, string>[];
    assert.ok(uploads.length > 0 && uploads.every((u) => u.tenant_id === 'default' && /^apikey:/.test(u.updated_by)));
  } finally {
    stored.close();
  }
});
