// The agent's executable hasher (src/agent/enrichment/hashing.ts) on real files: digests equal sha256sum,
// sha1sum and md5sum; one read per (device, inode, mtime, size) however many ask; the byte budget paces reads;
// the size bound, a file changed since the exec and an unreadable one; the bounded queue; and hashExec, which
// attaches a known hash to the exec and emits a process_hash observation for an unknown one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ExecutableHasher, hashExec, identityKey, type HashResult } from '../../src/agent/enrichment/hashing.ts';
import type { ExecutableFile, Observation } from '../../src/agent/sensor.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-hash-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): { path: string; identity: ExecutableFile } {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const st = statSync(path, { bigint: true });
  return { path, identity: { device: Number(st.dev), inode: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs } };
}

const sum = (tool: string, path: string) => execFileSync(tool, [path], { encoding: 'utf8' }).split(' ')[0];
const hashOf = (h: ExecutableHasher, req: Parameters<ExecutableHasher['request']>[0]) =>
  new Promise<HashResult>((resolve, reject) => { if (!h.request(req, resolve)) reject(new Error('refused')); });

test('digests equal sha256sum, sha1sum and md5sum; the result is cached by (device, inode, mtime, size)', async () => {
  const f = file('a.bin', randomBytes(700_000)); // several chunks, the last one partial
  const h = new ExecutableHasher({ enabled: true, bytesPerSecond: 1024 ** 3, maxFileBytes: 1024 ** 3 });
  const r = await hashOf(h, { path: f.path, pid: 0x7fffffff, file: f.identity }); // no such pid: the path is read
  assert.equal(r.outcome, 'hashed');
  assert.deepEqual(r.hash, { sha256: sum('sha256sum', f.path), sha1: sum('sha1sum', f.path), md5: sum('md5sum', f.path) });
  assert.deepEqual(r.file, f.identity);
  assert.equal(h.lookup(f.identity), r);
  assert.equal(h.counters.bytesRead, 700_000);
});

test('requests for one file share one read; a request without identity finds the cached result once opened', async () => {
  const f = file('b.bin', randomBytes(10_000));
  const h = new ExecutableHasher();
  const [a, b] = await Promise.all([hashOf(h, { path: f.path, pid: 1, file: f.identity }), hashOf(h, { path: f.path, pid: 1, file: f.identity })]);
  assert.equal(a, b);
  assert.equal(h.counters.hashed, 1);
  const c = await hashOf(h, { path: f.path, pid: 1 });
  assert.equal(c, a);
  assert.equal(h.counters.hashed, 1);
  assert.equal(h.counters.bytesRead, 10_000);
});

test('the byte budget paces the reads: 1 MiB at 512 KiB/s takes about 2 s (the first 256 KiB chunk is the burst)', async () => {
  const f = file('c.bin', randomBytes(1024 * 1024));
  const h = new ExecutableHasher({ enabled: true, bytesPerSecond: 512 * 1024, maxFileBytes: 1024 ** 3 });
  const t0 = performance.now();
  await hashOf(h, { path: f.path, pid: 1, file: f.identity });
  const s = (performance.now() - t0) / 1000;
  assert.ok(s >= 1.4 && s < 4, `${s} s`);
});

test('too large, changed since the exec and unreadable files are not hashed, and say why', async () => {
  const big = file('big.bin', Buffer.alloc(2 * 1024 * 1024 + 1));
  const h = new ExecutableHasher({ enabled: true, bytesPerSecond: 1024 ** 3, maxFileBytes: 2 * 1024 * 1024 });
  const tooLarge = await hashOf(h, { path: big.path, pid: 1, file: big.identity });
  assert.deepEqual([tooLarge.outcome, tooLarge.hash, tooLarge.file.size], ['too_large', undefined, 2 * 1024 * 1024 + 1]);
  assert.equal(h.counters.bytesRead, 0);

  const changed = file('changed.bin', Buffer.from('one'));
  utimesSync(changed.path, new Date(), new Date(Date.now() + 5000)); // modified after the "exec"
  const r = await hashOf(h, { path: changed.path, pid: 1, file: changed.identity });
  assert.deepEqual([r.outcome, r.hash], ['changed', undefined]);
  assert.equal(h.lookup(changed.identity)?.outcome, 'changed', 'that identity cannot be read later either');

  const gone = await hashOf(h, { path: join(dir, 'nothing-here'), pid: 0x7fffffff });
  assert.equal(gone.outcome, 'unreadable');
});

test('the queue is bounded; hashing off refuses requests', async () => {
  const f = file('d.bin', randomBytes(1000));
  const h = new ExecutableHasher({ enabled: true, bytesPerSecond: 1024 ** 3, maxFileBytes: 1024 ** 3 }, { maxQueue: 2 });
  const accepted = [0, 1, 2, 3, 4].map((i) => h.request({ path: f.path, pid: i, file: { ...f.identity, inode: f.identity.inode + i + 1 } }, () => undefined));
  assert.deepEqual(accepted, [true, true, true, false, false]); // the first is being read, two wait
  assert.equal(h.counters.queueDrops, 2);
  h.configure({ enabled: false, bytesPerSecond: 1, maxFileBytes: 1 });
  assert.equal(h.request({ path: f.path, pid: 1 }, () => undefined), false);
});

test('hashExec: an unknown executable gets a process_hash observation later, a known one its digests on the exec', async () => {
  const f = file('e.bin', randomBytes(5000));
  const h = new ExecutableHasher();
  const exec = (): Observation => ({ type: 'process_start', timeMs: 1, pid: 0x7ffffff0, ppid: 1, startTimeMs: 1000, executable: f.path, executableFile: f.identity });
  const emitted: Observation[] = [];
  const first = exec();
  hashExec(h, first, (o) => emitted.push(o));
  assert.equal(first.hash, undefined);
  for (let i = 0; i < 100 && emitted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(emitted.length, 1);
  assert.deepEqual({ ...emitted[0], timeMs: 0 }, {
    type: 'process_hash', timeMs: 0, pid: 0x7ffffff0, ppid: 1, startTimeMs: 1000, executable: f.path, executableFile: f.identity,
    hash: { sha256: sum('sha256sum', f.path), sha1: sum('sha1sum', f.path), md5: sum('md5sum', f.path) }, hashOutcome: 'hashed',
  });
  const second = exec();
  hashExec(h, second, () => assert.fail('no second hash'));
  assert.equal(second.hash?.sha256, sum('sha256sum', f.path));
  assert.equal(identityKey(f.identity), `${f.identity.device}:${f.identity.inode}:${f.identity.mtimeNs}:${f.identity.size}`);
});
