import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import { processEntityId } from '../../src/tree/entity.ts';

const rec = (pid: number, ppid: number, startTimeMs: number, exe = `/bin/p${pid}`) => ({
  pid,
  ppid,
  startTimeMs,
  executable: exe,
  args: [exe, 'arg with space'],
});

test('upsert computes entity id and quoted command line', () => {
  const c = new ProcessCache('host-1');
  const p = c.upsert(rec(10, 1, 1000));
  assert.equal(p.entityId, processEntityId('host-1', 10, 1000));
  assert.equal(p.commandLine, "/bin/p10 'arg with space'");
  assert.equal(p.exited, false);
  assert.equal(c.get(10), p);
});

test('when full, exited entries are evicted first, then the oldest', () => {
  const c = new ProcessCache('h', { maxEntries: 3 });
  c.upsert(rec(1, 0, 100));
  c.upsert(rec(2, 1, 200));
  c.upsert(rec(3, 1, 300));
  c.markExited(2, undefined, 350);
  c.upsert(rec(4, 1, 400)); // evicts exited 2, although 1 is older
  assert.equal(c.get(2), undefined);
  assert.ok(c.get(1));
  c.upsert(rec(5, 1, 500)); // nothing exited: evicts the oldest, 1
  assert.equal(c.get(1), undefined);
  assert.deepEqual([3, 4, 5].map((p) => c.get(p)?.pid), [3, 4, 5]);
  assert.equal(c.size, 3);
  assert.equal(c.evictions, 2);
});

test('PID reuse: a different start time replaces the entry and changes the entity id', () => {
  const c = new ProcessCache('h');
  const old = c.upsert(rec(42, 1, 1000, '/bin/old'));
  c.markExited(42, 1000, 2000);
  const reused = c.upsert(rec(42, 1, 5000, '/bin/new'));
  assert.notEqual(reused.entityId, old.entityId);
  assert.equal(c.get(42, 1000), undefined);
  assert.equal(c.get(42, 5000)?.executable, '/bin/new');
  assert.equal(c.get(42)!.exited, false);
  assert.equal(c.markExited(42, 1000, 6000), undefined, 'exit of the old incarnation does not touch the new one');
  assert.equal(c.get(42)!.exited, false);
});

test('same pid and start time updates in place (exec) without losing known fields', () => {
  const c = new ProcessCache('h');
  const a = c.upsert({ pid: 7, ppid: 1, startTimeMs: 10, executable: '/bin/sh', args: ['sh'], uid: 1000 });
  const b = c.upsert({ pid: 7, ppid: 1, startTimeMs: 10, executable: '/usr/bin/ls', args: ['ls', '-l'] });
  assert.equal(a, b);
  assert.equal(b.executable, '/usr/bin/ls');
  assert.equal(b.commandLine, 'ls -l');
  assert.equal(b.uid, 1000);
});

test('parent lookup by ppid, refusing a parent pid reused after the child started', () => {
  const c = new ProcessCache('h');
  c.upsert(rec(100, 1, 1000));
  const child = c.upsert(rec(200, 100, 2000));
  assert.equal(c.parentOf(child)?.pid, 100);
  c.markExited(100, undefined, 2500);
  assert.equal(c.parentOf(child)?.pid, 100, 'exited parents stay for lookups');
  c.upsert(rec(100, 1, 3000)); // pid 100 reused by a younger process
  assert.equal(c.parentOf(child), undefined);
  assert.equal(c.parentOf({ ppid: 999 }), undefined);
});

test('seed loads a snapshot in start order so the oldest is evicted first', () => {
  const c = new ProcessCache('h', { maxEntries: 2 });
  c.seed([rec(3, 1, 300), rec(1, 0, 100), rec(2, 1, 200)]);
  assert.equal(c.get(1), undefined);
  assert.ok(c.get(2) && c.get(3));
});

test('an exited process expires a TTL after its exit, counted by later exits; a live one never does', () => {
  const c = new ProcessCache('h', { exitedTtlMs: 1000 });
  c.upsert(rec(1, 0, 100)); // lives on
  for (const pid of [10, 11, 12]) c.upsert(rec(pid, 1, 200));
  c.markExited(10, undefined, 1000);
  c.markExited(11, undefined, 1500);
  assert.ok(c.get(10), 'within its TTL it stays for the events that still name it');
  c.markExited(12, undefined, 2100); // the clock: 10 exited 1.1 s ago, 11 only 0.6 s ago
  assert.equal(c.get(10), undefined);
  assert.equal(c.get(11)?.exited, true);
  c.upsert(rec(13, 1, 2200));
  c.markExited(13, undefined, 9000);
  assert.deepEqual([1, 11, 12, 13].map((pid) => c.get(pid)?.pid), [1, undefined, undefined, 13]);
  assert.equal(c.size, 2);
  assert.equal(c.evictions, 0, 'expiry is not eviction for room');
});
