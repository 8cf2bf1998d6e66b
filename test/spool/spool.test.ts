import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../src/spool/spool.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const batch = (n: number, size = 100) => new Uint8Array(size).fill(n % 251);
const drain = (s: Spool) => [...s.unacked()].map((b) => ({ seq: b.seq, first: b.batch[0], len: b.batch.length }));
const segmentFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('seg-')).sort();

test('appends get increasing sequence numbers and come back in order; acks are cumulative', async (t) => {
  const s = await Spool.open(tempDir(t));
  const seqs = await Promise.all([1, 2, 3, 4, 5].map((n) => s.append(batch(n, n * 10))));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.deepEqual(drain(s), seqs.map((seq) => ({ seq, first: seq, len: seq * 10 })));
  s.ack(3);
  assert.deepEqual(drain(s).map((b) => b.seq), [4, 5]);
  s.ack(2); // an older ack changes nothing
  assert.deepEqual(drain(s).map((b) => b.seq), [4, 5]);
  assert.equal(s.stats().unacked, 2);
  await s.close();
});

test('survives a restart: unacked batches kept, sequence numbers never reused', async (t) => {
  const dir = tempDir(t);
  let s = await Spool.open(dir, { maxBytes: 64 * 1024 });
  for (let i = 1; i <= 200; i++) await s.append(batch(i));
  s.ack(150);
  await s.close();
  s = await Spool.open(dir, { maxBytes: 64 * 1024 });
  assert.deepEqual(drain(s).map((b) => b.seq), Array.from({ length: 50 }, (_, i) => 151 + i));
  assert.equal(await s.append(batch(1)), 201);
  s.ack(201);
  await s.close();
  s = await Spool.open(dir, { maxBytes: 64 * 1024 });
  assert.deepEqual(drain(s), []);
  assert.equal(await s.append(batch(2)), 202, 'everything acked and deleted: still no reuse');
  await s.close();
});

test('acknowledged segments are deleted from disk', async (t) => {
  const dir = tempDir(t);
  const s = await Spool.open(dir, { segmentBytes: 1024 });
  for (let i = 1; i <= 50; i++) await s.append(batch(i));
  assert.ok(segmentFiles(dir).length > 3);
  s.ack(50);
  await s.append(batch(51)); // rolls on into a fresh segment eventually; acked ones are being deleted
  for (let i = 0; i < 100 && segmentFiles(dir).length > 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(segmentFiles(dir).length <= 2, String(segmentFiles(dir)));
  assert.deepEqual(drain(s).map((b) => b.seq), [51]);
  await s.close();
});

test('bounded in bytes: the oldest batches are dropped and counted, the newest kept', async (t) => {
  const dir = tempDir(t);
  const maxBytes = 32 * 1024;
  const s = await Spool.open(dir, { maxBytes });
  for (let i = 1; i <= 1000; i++) await s.append(batch(i, 200));
  const st = s.stats();
  assert.ok(st.bytes <= maxBytes, `${st.bytes} > ${maxBytes}`);
  const total = segmentFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  assert.ok(total <= maxBytes);
  const kept = drain(s).map((b) => b.seq);
  assert.equal(kept.at(-1), 1000);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => kept[0] + i), 'contiguous newest');
  assert.equal(st.dropped, 1000 - kept.length);
  assert.ok(st.dropped > 0);
  await s.close();
  const again = await Spool.open(dir, { maxBytes });
  assert.equal(again.stats().dropped, st.dropped, 'drop count persists');
  await assert.rejects(again.append(new Uint8Array(maxBytes)), RangeError);
  await again.close();
});

test('a torn or corrupt tail record is cut off and counted, the rest survives', async (t) => {
  const dir = tempDir(t);
  let s = await Spool.open(dir);
  for (let i = 1; i <= 10; i++) await s.append(batch(i));
  await s.close();
  const [seg] = segmentFiles(dir);
  const path = join(dir, seg);
  truncateSync(path, statSync(path).size - 30); // torn write of record 10
  s = await Spool.open(dir);
  assert.deepEqual(drain(s).map((b) => b.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(s.stats().corrupt, 1);
  assert.equal(await s.append(batch(10)), 10);
  await s.close();

  const data = readFileSync(path);
  data[data.length - 5] ^= 0xff; // flip a payload byte of the last record
  writeFileSync(path, data);
  appendFileSync(path, Buffer.from('garbage after the damage'));
  s = await Spool.open(dir);
  assert.deepEqual(drain(s).map((b) => b.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(s.stats().corrupt, 2);
  await s.close();
});

test('a corrupt state file does not prevent opening', async (t) => {
  const dir = tempDir(t);
  let s = await Spool.open(dir);
  await s.append(batch(1));
  await s.close();
  writeFileSync(join(dir, 'state'), 'not a state file at all, really not');
  s = await Spool.open(dir);
  assert.deepEqual(drain(s).map((b) => b.seq), [1]);
  assert.equal(s.stats().corrupt, 1);
  await s.close();
});

test('concurrent appends are committed together, in order, and all durable', async (t) => {
  const dir = tempDir(t);
  const s = await Spool.open(dir);
  const payload = new Uint8Array(500 * 300); // 500 events of ~300 bytes
  const seqs = await Promise.all(Array.from({ length: 200 }, () => s.append(payload)));
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  await s.close();
  const again = await Spool.open(dir);
  assert.equal(again.stats().unacked, 200);
  await again.close();
});

test('syncIntervalMs: appends resolve once written and one fdatasync covers a burst', async (t) => {
  const dir = tempDir(t);
  const s = await Spool.open(dir, { syncIntervalMs: 100 });
  for (let i = 1; i <= 10; i++) await s.append(batch(i)); // each resolves without a sync of its own
  assert.equal(s.stats().syncs, 0, 'no sync before the interval');
  // A process that dies now loses nothing: the records are in the file (the page cache), read by a second opener.
  const other = await Spool.open(dir);
  assert.deepEqual(drain(other).map((b) => b.seq), Array.from({ length: 10 }, (_, i) => i + 1));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(s.stats().syncs, 1, 'one sync for the whole burst, within the interval');
  await s.close();
  assert.equal(s.stats().syncs, 1, 'nothing left to sync at close');
  await other.close();
});

test('syncIntervalMs: a segment is synced before it is closed, and close syncs the rest', async (t) => {
  const dir = tempDir(t);
  const s = await Spool.open(dir, { syncIntervalMs: 3_600_000, segmentBytes: 4096 }); // the timer never fires here
  for (let i = 1; i <= 60; i++) await s.append(batch(i)); // 116 bytes a record: rolls once past 4 KiB
  assert.equal(s.stats().segments, 2);
  assert.equal(s.stats().syncs, 1, 'the full segment was synced when it rolled');
  await s.close();
  assert.equal(s.stats().syncs, 2, 'close synced the new segment');
  const again = await Spool.open(dir);
  assert.equal(drain(again).length, 60);
  await again.close();
});

test('without syncIntervalMs every group commit is synced before its appends resolve', async (t) => {
  const s = await Spool.open(tempDir(t));
  await s.append(batch(1));
  assert.equal(s.stats().syncs, 1);
  await Promise.all([2, 3, 4].map((n) => s.append(batch(n))));
  assert.equal(s.stats().syncs, 2, 'appends of one tick share one sync');
  await s.close();
});
