// Automated response end to end: a rule that names `response: {action: kill_process}` fires on an event sent
// over the real ingest path, and the server files a kill of exactly the matching process (PID + entity id)
// as the rule, through the normal command lifecycle; a response the policy does not allow is not filed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let dir: string;
let server: RunningServer;
let key: string;
let agent: SimulatedAgent;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-autoresp-'));
  server = await startEmbeddedServer({ dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }), autoResponse: { enabled: true } });
  key = readFileSync(server.adminKeyPath, 'utf8').trim();
  agent = await SimulatedAgent.enroll(server.grpcAddress, server.caPem, await server.createEnrollmentToken(), 'auto-host');
  agent.connect();
});

after(async () => {
  agent.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.httpUrl}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const rule = (id: string, tool: string, action: string) => `title: Auto ${action} ${tool}
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
level: high
response:
  action: ${action}
`;

function start(exe: string): VigilEvent {
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
  await agent.send([ev]);
  const until = Date.now() + 15_000;
  let actions: any[] = [];
  while (actions.length === 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    actions = await actionsOn(agent.identity.agentId);
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
  const before = (await actionsOn(agent.identity.agentId)).length;
  const ev = start('/tmp/x/vigil-other-tool');
  await agent.send([ev]);
  const until = Date.now() + 10_000;
  for (;;) { // the alert is there, so detection ran
    const alerts = (await api('GET', '/api/v1/alerts?limit=1000')).body.alerts;
    if (alerts.some((a: any) => a.event_ids.includes(ev.event.id))) break;
    if (Date.now() > until) throw new Error('no alert');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await actionsOn(agent.identity.agentId)).length, before);
  assert.equal((await api('POST', '/api/v1/rules', { yaml: rule('7a0c1f52-aaaa-4b3c-8d9e-000000000003', 'x', 'reboot') })).status, 400, 'unknown actions are refused at upload');
});
