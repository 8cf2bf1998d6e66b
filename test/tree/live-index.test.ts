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
