// The live process index: starts add, exits remove, PID reuse keeps two processes apart, bounds hold.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveProcessIndex } from '../../src/tree/live-index.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { processEntityId } from '../../src/tree/entity.ts';

function ev(type: 'process_start' | 'process_end', pid: number, startMs: number, host = 'h1'): VigilEvent {
  return {
    '@timestamp': new Date(startMs + (type === 'process_end' ? 1000 : 0)).toISOString(),
    agent: { id: host, tenant_id: 't1', hostname: host, version: 'x' },
    event: { id: `${type}-${pid}-${startMs}`, type, category: 'process' },
    host: { id: host },
    process: { pid, entity_id: processEntityId(host, pid, startMs), executable: '/bin/x', command_line: `x ${pid}`, start: new Date(startMs).toISOString() },
  } as VigilEvent;
}

test('starts add, exits remove, and a reused PID is another process', () => {
  const idx = new LiveProcessIndex();
  assert.equal(idx.nodes('t1', 'h1'), undefined, 'an unknown host has no answer (the store is asked)');
  idx.apply([ev('process_start', 10, 1000), ev('process_start', 11, 1000)]);
  idx.apply([ev('process_end', 10, 1000), ev('process_start', 10, 5000)]);
  const nodes = idx.nodes('t1', 'h1')!;
  assert.deepEqual(nodes.map((n) => [n.pid, n.start_ts]).sort(), [[10, new Date(5000).toISOString()], [11, new Date(1000).toISOString()]]);
  assert.deepEqual(idx.nodes('t2', 'h1'), undefined, 'tenants are apart');
});

test('seeded processes are kept until they exit, and each host is bounded', () => {
  const idx = new LiveProcessIndex(3);
  idx.seed('t1', 'h1', []);
  assert.deepEqual(idx.nodes('t1', 'h1'), [], 'a seeded host with nothing alive answers empty');
  idx.apply([1, 2, 3, 4, 5].map((p) => ev('process_start', p, 1000)));
  assert.deepEqual(idx.nodes('t1', 'h1')!.map((n) => n.pid), [3, 4, 5]);
});

test('past its bound a host forgets the least recently started tenth of it at once, and keeps the rest in order', () => {
  const idx = new LiveProcessIndex(1000);
  const pids = Array.from({ length: 5_432 }, (_, i) => i + 1);
  idx.apply(pids.map((p) => ev('process_start', p, 1000)));
  const live = idx.nodes('t1', 'h1')!.map((n) => n.pid);
  assert.ok(live.length > 900 && live.length <= 1000, `${live.length} live`);
  assert.deepEqual(live, pids.slice(-live.length), 'the most recently started, in start order');
  idx.apply([ev('process_end', 5_432, 1000), ev('process_start', 9_999, 2000)]);
  assert.deepEqual(idx.nodes('t1', 'h1')!.map((n) => n.pid).slice(-2), [5_431, 9_999]);
});

function child(type: 'process_start' | 'process_end' | 'process_fork', pid: number, startMs: number, parent: { pid: number; startMs: number } | undefined, exe = '/bin/x', at = startMs): VigilEvent {
  const e = ev(type === 'process_end' ? 'process_end' : 'process_start', pid, startMs);
  e.event.type = type;
  e['@timestamp'] = new Date(at).toISOString();
  e.event.id = `${type}-${pid}-${startMs}-${at}`;
  e.process!.executable = exe;
  e.process!.command_line = `${exe} ${pid}`;
  if (parent) e.process!.parent = { pid: parent.pid, entity_id: processEntityId('h1', parent.pid, parent.startMs) };
  return e;
}

test('lineage runs root first through exited ancestors, forks and a later exec of a process', () => {
  const idx = new LiveProcessIndex();
  idx.apply([
    child('process_start', 1, 100, undefined, '/sbin/init'),
    child('process_start', 20, 200, { pid: 1, startMs: 100 }, '/bin/bash'),
    child('process_fork', 30, 300, { pid: 20, startMs: 200 }, '/bin/bash'), // a subshell that never execs
    child('process_start', 40, 400, { pid: 30, startMs: 300 }, '/bin/sh'),
    child('process_start', 40, 400, { pid: 30, startMs: 300 }, '/dev/shm/payload', 450), // sh execs a second image
    child('process_end', 30, 300, undefined, '/bin/bash', 500), // its parent has exited before the alert is made
  ]);
  const l = idx.lineage('t1', 'h1', processEntityId('h1', 40, 400))!;
  assert.equal(l.process.executable, '/dev/shm/payload', 'the image it runs now');
  assert.deepEqual(l.ancestors.map((a) => [a.pid, a.executable]), [[1, '/sbin/init'], [20, '/bin/bash'], [30, '/bin/bash']]);
  assert.notEqual(l.ancestors[2].exit, null, 'an exited ancestor says when it exited');
  assert.equal(idx.lineage('t2', 'h1', processEntityId('h1', 40, 400)), undefined, 'tenants are apart');
  assert.deepEqual(idx.nodes('t1', 'h1')!.map((n) => n.pid).sort((a, b) => a - b), [1, 20, 40], 'exited processes are not live');
});

test('exited processes are bounded per host', () => {
  const idx = new LiveProcessIndex(1000, 10);
  for (let p = 2; p < 100; p++) idx.apply([child('process_start', p, p, { pid: 1, startMs: 1 }), child('process_end', p, p, undefined, '/bin/x', p + 1)]);
  assert.equal(idx.node('t1', 'h1', processEntityId('h1', 2, 2)), undefined, 'the oldest exits are forgotten');
  assert.ok(idx.node('t1', 'h1', processEntityId('h1', 99, 99)), 'the latest exits are kept');
});
