// Automated response end to end: a rule that names `response: {action: kill_process}` fires on an event sent
// over the real ingest path, and the server files a kill of exactly the matching process (PID + entity id)
// as the rule, through the normal command lifecycle; a response the policy does not allow is not filed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer } from '../support/embedded-server.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let t: TestServer;

before(async () => { t = await TestServer.start('autoresp', { autoResponse: { enabled: true } }); });
after(() => t.stop());

const api = (method: string, path: string, body?: unknown) => t.api(method, path, body);

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
  const e = t.agent.syntheticEvents(1)[0];
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
