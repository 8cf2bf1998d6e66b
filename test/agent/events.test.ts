import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, createBuildContext, eventId, isoTime, joinCommandLine } from '../../src/agent/events.ts';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import { processEntityId } from '../../src/tree/entity.ts';
import { validateEvent } from '../../src/schema/validate.ts';

function context(cache = new ProcessCache('host-9')) {
  return createBuildContext({
    hostId: 'host-9',
    agent: { id: 'agent-1', hostname: 'box', tenantId: 't1', version: '0.1.0' },
    host: { os: { platform: 'linux' } },
    cache,
    userName: (uid) => (uid === 1000 ? 'jim' : undefined),
  });
}

test('joinCommandLine quotes args a shell would split or interpret', () => {
  assert.equal(joinCommandLine(['ls', '-l', '/tmp']), 'ls -l /tmp');
  assert.equal(joinCommandLine(['echo', 'a b', '', "it's", '$HOME']), `echo 'a b' '' 'it'\\''s' '$HOME'`);
});

test('isoTime is Date#toISOString, across seconds, in any order, for fractional and pre-1970 times', () => {
  const times = [1_795_440_000_000, 1_795_440_000_999, 1_795_440_001_000, 1_795_440_000_005, 1_795_440_000_042.7, -1, 0, 999.9,
    253_402_300_800_000 /* year 10000 */, 1_795_440_000_000 + 86_400_000];
  for (const t of times) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
  assert.throws(() => isoTime(Number.NaN), RangeError);
});

test('event ids are UUIDv7-shaped and unique', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) ids.add(eventId());
  assert.equal(ids.size, 5000);
  for (const id of [...ids].slice(0, 10)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('process_start fills process, parent from the cache, user, host and a valid event', () => {
  const ctx = context();
  ctx.cache.upsert({ pid: 50, ppid: 1, startTimeMs: 1_000, executable: '/bin/bash', args: ['bash', '-i'] });
  const ev = buildEvent(
    {
      type: 'process_start',
      timeMs: Date.UTC(2026, 1, 15, 12, 0, 0, 5),
      pid: 51,
      ppid: 50,
      uid: 1000,
      startTimeMs: 2_000,
      executable: '/usr/bin/ip',
      args: ['ip', 'addr', 'show dev'],
      cwd: '/home/jim',
    },
    ctx,
  );
  assert.equal(ev['@timestamp'], '2026-02-15T12:00:00.005Z');
  assert.deepEqual(ev.agent, { id: 'agent-1', hostname: 'box', tenant_id: 't1', version: '0.1.0' });
  assert.equal(ev.event.type, 'process_start');
  assert.equal(ev.event.category, 'process');
  assert.equal(ev.event.action, 'exec');
  assert.equal(ev.event.sequence, 1);
  assert.equal(ev.process!.entity_id, processEntityId('host-9', 51, 2_000));
  assert.equal(ev.process!.name, 'ip');
  assert.equal(ev.process!.command_line, "ip addr 'show dev'");
  assert.equal(ev.process!.working_directory, '/home/jim');
  assert.deepEqual(ev.process!.parent, {
    pid: 50,
    entity_id: processEntityId('host-9', 50, 1_000),
    executable: '/bin/bash',
    command_line: 'bash -i',
    name: 'bash',
    start: new Date(1_000).toISOString(),
  });
  assert.deepEqual(ev.user, { id: '1000', name: 'jim' });
  assert.deepEqual(ev.host, { id: 'host-9', hostname: 'box', os: { platform: 'linux' } });
  assert.equal(ctx.cache.get(51)?.executable, '/usr/bin/ip', 'the cache learned the new process');
  const v = validateEvent(structuredClone(ev));
  assert.ok(v.ok, v.ok ? '' : v.error);
});

test('events naming only a pid are enriched from the cache; process_end marks it exited', () => {
  const ctx = context();
  ctx.cache.upsert({ pid: 60, ppid: 1, startTimeMs: 500, executable: '/usr/bin/curl', args: ['curl', 'x'], uid: 1000 });
  const net = buildEvent(
    {
      type: 'network_connection',
      timeMs: 1_000,
      pid: 60,
      transport: 'tcp',
      family: 'ipv6',
      direction: 'outbound',
      srcIp: '::1',
      srcPort: 40000,
      dstIp: '2001:db8::1',
      dstPort: 443,
    },
    ctx,
  );
  assert.equal(net.process!.executable, '/usr/bin/curl');
  assert.equal(net.process!.command_line, 'curl x');
  assert.equal(net.process!.entity_id, processEntityId('host-9', 60, 500));
  assert.deepEqual(net.destination, { ip: '2001:db8::1', port: 443 });
  assert.deepEqual(net.source, { ip: '::1', port: 40000 });
  assert.deepEqual(net.network, { transport: 'tcp', type: 'ipv6', direction: 'outbound' });
  assert.equal(net.user!.name, 'jim');
  const end = buildEvent({ type: 'process_end', timeMs: 2_000, pid: 60, exitCode: 3 }, ctx);
  assert.equal(end.process!.exit_code, 3);
  assert.equal(end.process!.name, 'curl');
  assert.equal(end.event.sequence, 2);
  assert.equal(ctx.cache.get(60)!.exited, true);
});

test('process_fork inherits the parent image; file events carry file fields', () => {
  const ctx = createBuildContext({
    hostId: 'host-9', agent: { id: 'agent-1', hostname: 'box', tenantId: 't1', version: '0.1.0' }, cache: new ProcessCache('host-9'),
    userName: (uid) => ({ 0: 'root', 1000: 'jim' } as Record<number, string>)[uid], groupName: (gid) => (gid === 27 ? 'sudo' : undefined),
  });
  ctx.cache.upsert({ pid: 70, ppid: 1, startTimeMs: 100, executable: '/usr/sbin/sshd', args: ['sshd'] });
  const fork = buildEvent({ type: 'process_fork', timeMs: 300, pid: 71, ppid: 70, startTimeMs: 300 }, ctx);
  assert.equal(fork.process!.executable, '/usr/sbin/sshd');
  assert.equal(fork.process!.parent!.pid, 70);
  const chmod = buildEvent({ type: 'file_chmod', timeMs: 400, pid: 71, path: '/tmp/x', mode: 0o4755 }, ctx);
  assert.deepEqual(chmod.file, { path: '/tmp/x', mode: '4755' });
  assert.equal(chmod.process!.entity_id, fork.process!.entity_id);
});

test('an unattributed observation (pid 0) has no process section', () => {
  const ev = buildEvent({ type: 'network_accept', timeMs: 1, pid: 0, uid: 0, dstPort: 22 }, context());
  assert.equal(ev.process, undefined);
  assert.deepEqual(ev.user, { id: '0' });
});

test('eBPF observations: a precise action overrides the default, truncated paths are flagged, ptrace keeps its target', () => {
  const ctx = context();
  const base = { timeMs: Date.UTC(2026, 1, 15), pid: 70, ppid: 1, uid: 0, startTimeMs: 3_000 };
  const setres = buildEvent({ ...base, type: 'privilege_change', action: 'setresuid', newUid: 0, result: 0 }, ctx);
  assert.equal(setres.event.action, 'setresuid');
  assert.equal(setres.event.outcome, 'success');
  const ptrace = buildEvent({ ...base, type: 'ptrace', action: 'ptrace_attach', targetPid: 71, result: -1 }, ctx);
  assert.deepEqual([ptrace.event.action, ptrace.labels?.['target.pid'], ptrace.event.outcome], ['ptrace_attach', '71', 'failure']);
  const write = buildEvent({ ...base, type: 'file_write', path: '/deep/x', pathTruncated: true }, ctx);
  assert.deepEqual(write.event.truncated, ['file.path']);
  assert.equal(buildEvent({ ...base, type: 'file_write', path: '/x' }, ctx).event.action, 'write');
  for (const ev of [setres, ptrace, write]) assert.equal(validateEvent(ev).ok, true);
});

test('the start-up snapshot reports every running process parents first, and Vigil\'s own processes are labelled', async () => {
  const { snapshotObservations } = await import('../../src/agent/events.ts');
  const cache = new ProcessCache('host-9', { selfPids: [40] });
  cache.seed([
    { pid: 41, ppid: 40, startTimeMs: 3_000, executable: '/usr/sbin/nft', args: ['nft', 'list'] },
    { pid: 1, ppid: 0, startTimeMs: 1_000, executable: '/sbin/init', args: ['init'] },
    { pid: 40, ppid: 1, startTimeMs: 2_000, executable: '/usr/bin/node', args: ['node', 'vigil', 'up'], uid: 1000 },
    { pid: 50, ppid: 1, startTimeMs: 2_500, executable: '/bin/bash', args: ['bash'], uid: 1000 },
  ]);
  const ctx = context(cache);
  const events = snapshotObservations(cache, 9_000).map((o) => buildEvent(o, ctx));
  assert.deepEqual(events.map((e) => e.process?.pid), [1, 40, 50, 41], 'in start order, so parents come first');
  for (const e of events) {
    assert.equal(e.event.type, 'process_start');
    assert.equal(e.event.action, 'snapshot');
    assert.equal(validateEvent(structuredClone(e)).ok, true);
  }
  const byPid = new Map(events.map((e) => [e.process!.pid, e]));
  assert.equal(byPid.get(40)!.labels?.['vigil.self'], 'true');
  assert.equal(byPid.get(41)!.labels?.['vigil.self'], 'true', 'a child of Vigil is Vigil\'s');
  assert.equal(byPid.get(50)!.labels?.['vigil.self'], undefined);
  assert.equal(byPid.get(50)!.user?.name, 'jim', 'uids are named');
  assert.equal(byPid.get(50)!.process?.parent?.entity_id, processEntityId('host-9', 1, 1_000));

  // A process Vigil forks and execs later is Vigil's too, also once it has exited.
  buildEvent({ type: 'process_fork', timeMs: 10_000, pid: 60, ppid: 40, startTimeMs: 10_000 }, ctx);
  const exec = buildEvent({ type: 'process_start', timeMs: 10_001, pid: 60, ppid: 40, startTimeMs: 10_000, executable: '/usr/bin/chrt', args: ['chrt'] }, ctx);
  const exit = buildEvent({ type: 'process_end', timeMs: 10_002, pid: 60, startTimeMs: 10_000, exitCode: 0 }, ctx);
  const late = buildEvent({ type: 'file_write', timeMs: 10_003, pid: 60, startTimeMs: 10_000, path: '/tmp/x' }, ctx);
  assert.deepEqual([exec, exit, late].map((e) => e.labels?.['vigil.self']), ['true', 'true', 'true']);
  const other = buildEvent({ type: 'process_start', timeMs: 10_004, pid: 61, ppid: 50, startTimeMs: 10_004, executable: '/bin/ls', args: ['ls'] }, ctx);
  assert.equal(other.labels, undefined);
});

test('the second read of /proc, once the sensor runs, ends the snapshot processes that are gone and reports those that started unseen', async () => {
  const { reconcileObservations } = await import('../../src/agent/events.ts');
  const cache = new ProcessCache('host-9', { selfPids: [] });
  cache.seed([
    { pid: 1, ppid: 0, startTimeMs: 1_000, executable: '/sbin/init', args: ['init'] },
    { pid: 7, ppid: 1, startTimeMs: 2_000, executable: '/bin/short', args: ['short'] }, // exits before the sensor runs
    { pid: 8, ppid: 1, startTimeMs: 2_100, executable: '/bin/old', args: ['old'] }, // exits, and its pid is reused
  ]);
  const ctx = context(cache);
  const running = [
    { pid: 1, ppid: 0, startTimeMs: 1_000, executable: '/sbin/init', args: ['init'] },
    { pid: 9, ppid: 8, startTimeMs: 2_600, executable: '/usr/bin/vigil-sensor', args: ['vigil-sensor'] }, // a child of the new pid 8
    { pid: 8, ppid: 1, startTimeMs: 2_500, executable: '/bin/new', args: ['new'] },
  ];
  const events = reconcileObservations(cache, running, 5_000).map((o) => buildEvent(o, ctx));
  assert.deepEqual(events.map((e) => [e.event.type, e.event.action, e.process?.pid, e.process?.executable]), [
    ['process_end', 'exit', 7, '/bin/short'],
    ['process_end', 'exit', 8, '/bin/old'],
    ['process_start', 'snapshot', 8, '/bin/new'],
    ['process_start', 'snapshot', 9, '/usr/bin/vigil-sensor'],
  ]);
  assert.equal(events[3].process?.parent?.entity_id, processEntityId('host-9', 8, 2_500), 'parents first, so the child finds the new pid 8');
  assert.deepEqual(reconcileObservations(cache, running, 6_000), [], 'nothing left to reconcile');
});

test('the effective user and the group are named too (a setuid to root says root)', () => {
  const ctx = createBuildContext({
    hostId: 'host-9', agent: { id: 'agent-1', hostname: 'box', tenantId: 't1', version: '0.1.0' }, cache: new ProcessCache('host-9'),
    userName: (uid) => ({ 0: 'root', 1000: 'jim' } as Record<number, string>)[uid], groupName: (gid) => (gid === 27 ? 'sudo' : undefined),
  });
  ctx.cache.upsert({ pid: 70, ppid: 1, startTimeMs: 1_000, executable: '/usr/bin/sudo', args: ['sudo', 'id'], uid: 1000 });
  const ev = buildEvent({ type: 'privilege_change', timeMs: 2_000, pid: 70, startTimeMs: 1_000, uid: 1000, euid: 1000, newUid: 0, gid: 1000, newGid: 27 }, ctx);
  assert.deepEqual(ev.user, { id: '1000', name: 'jim', effective: { id: '0', name: 'root' }, group: { id: '27', name: 'sudo' } });
  assert.equal(validateEvent(structuredClone(ev)).ok, true);
});
