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

test('an exited process is packed and given back with the fields it had, entity id and start time included', () => {
  const c = new ProcessCache('h');
  const plain = c.upsert({ pid: 20, ppid: 1, startTimeMs: 1_765_000_000_123.9, executable: '/usr/bin/true', args: ['true', 'x-1'], cwd: '/tmp', uid: 1000, user: 'ann', argsTruncated: false });
  const quoted = c.upsert({ pid: 21, ppid: 20, startTimeMs: 1_765_000_000_200, args: ['sh', '-c', "echo 'a b'", ''], argsTruncated: true });
  const bare = c.upsert({ pid: 22, ppid: 20, startTimeMs: 1_765_000_000_300 });
  const before = [plain, quoted, bare].map((p) => ({ ...p, args: [...p.args], exited: true }));
  for (const p of [plain, quoted, bare]) c.markExited(p.pid, p.startTimeMs, 1_765_000_001_000);
  const after = [20, 21, 22].map((pid) => c.get(pid)!);
  assert.deepEqual(after.map((p) => ({ ...p })), before);
  assert.equal(after[0].entityId, processEntityId('h', 20, 1_765_000_000_123));
  assert.equal(after[0].startIso, new Date(1_765_000_000_123).toISOString());
  assert.equal(c.get(20), after[0], 'made once, then the same object');
  assert.equal(c.parentOf({ ppid: 20, startTimeMs: 1_765_000_000_200 }), after[0]);
  assert.equal(c.get(21, 1_765_000_000_999), undefined, 'another start time is another process');
});

test('an exited parent keeps its object, and the frozen parent fields made for its children', () => {
  const c = new ProcessCache('h');
  const parent = c.upsert(rec(30, 1, 1000));
  parent.asParent = Object.freeze({ pid: 30 });
  c.markExited(30, 1000, 2000);
  assert.equal(c.parentOf({ ppid: 30, startTimeMs: 1500 }), parent);
  assert.equal(parent.asParent?.pid, 30);
});

// The cache as it was before exited processes were packed: the reference for the randomised test below.
class ReferenceCache {
  byPid = new Map<number, { start: number; exe: string; args: string[]; exited: boolean }>();
  exited = new Map<number, number>();
  evictions = 0;
  readonly max: number;
  readonly ttl: number;
  constructor(max: number, ttl: number) {
    this.max = max;
    this.ttl = ttl;
  }
  upsert(pid: number, start: number, exe: string, args: string[]): void {
    const p = this.byPid.get(pid);
    if (p && p.start === start) return void Object.assign(p, { exe, args });
    if (p) this.#remove(pid);
    while (!p && this.byPid.size >= this.max) {
      const [victim] = this.exited.size ? this.exited.keys() : this.byPid.keys();
      this.#remove(victim);
      this.evictions++;
    }
    this.byPid.set(pid, { start, exe, args, exited: false });
  }
  markExited(pid: number, start: number, at: number): void {
    for (const [p, t] of this.exited) if (at - t >= this.ttl) this.#remove(p); else break;
    const p = this.byPid.get(pid);
    if (!p || p.start !== start || p.exited) return;
    p.exited = true;
    this.exited.set(pid, at);
  }
  #remove(pid: number): void {
    this.byPid.delete(pid);
    this.exited.delete(pid);
  }
}

test('randomised: starts, execs, exits, PID reuse, expiry and eviction agree with the reference through the packed ring growing and shrinking', () => {
  let seed = 42;
  const random = (n: number) => { // mulberry32
    let t = (seed = (seed + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const c = new ProcessCache('h', { maxEntries: 6000, exitedTtlMs: 5000 });
  const ref = new ReferenceCache(6000, 5000);
  const pids = 20_000;
  const recent: number[] = []; // pids started lately: most exits are theirs
  let now = 1_000_000;
  const check = (pid: number) => {
    const want = ref.byPid.get(pid);
    const got = c.get(pid);
    assert.deepEqual(got && { start: got.startTimeMs, exe: got.executable, args: got.args, exited: got.exited }, want, `pid ${pid} at ${now}`);
  };
  for (let op = 0; op < 100_000; op++) {
    now += random(3000) === 0 ? 6000 : 1; // now and then a quiet spell longer than the TTL
    const r = random(10);
    if (r < 5) {
      const pid = random(pids);
      const args = random(4) === 0 ? ['sh', '-c', `echo ${op}`] : ['true', `m-${op}`];
      c.upsert({ pid, ppid: 1, startTimeMs: now, executable: `/bin/e${op % 7}`, args });
      ref.upsert(pid, now, `/bin/e${op % 7}`, args);
      recent[op % 2000] = pid;
    } else if (r < 9) {
      const pid = random(3) === 0 ? random(pids) : recent[random(recent.length)];
      const start = c.get(pid)?.startTimeMs ?? now;
      c.markExited(pid, start, now);
      ref.markExited(pid, start, now);
    } else {
      const pid = random(pids);
      const p = ref.byPid.get(pid);
      if (p) {
        c.upsert({ pid, ppid: 1, startTimeMs: p.start, executable: '/bin/exec', args: ['exec', String(op)] });
        ref.upsert(pid, p.start, '/bin/exec', ['exec', String(op)]);
      }
    }
    if (op % 10_000 === 9999) for (let p = 0; p < pids; p++) check(p);
    assert.equal(c.size, ref.byPid.size);
  }
  assert.equal(c.evictions, ref.evictions);
  assert.ok(c.evictions > 0);
});
