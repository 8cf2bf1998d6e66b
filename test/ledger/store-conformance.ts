// The LedgerStore conformance suite, run against every implementation (sqlite.test.ts, postgres.test.ts):
// the store contract itself, the Ledger over it (batched appends, periodic and on-demand checkpoints, reopen),
// several Ledger writers on one store (as several API processes on one PostgreSQL ledger), and tamper detection
// by `vigil ledger verify` (flip a byte, delete, reorder, insert: the right first position).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as ledgerCli } from '../../src/cli/commands/ledger.ts';
import { verifyStoredLedger } from '../../src/stores/ledger/verify-stored.ts';
import { ledgerPaths } from '../../src/stores/ledger/key-file.ts';
import { encodeEntry, entryLeafHash, makeEntry } from '../../src/ledger/entry.ts';
import type { SignedCheckpoint } from '../../src/ledger/checkpoint.ts';
import type { Ledger } from '../../src/ledger/ledger.ts';
import { verifyConsistency, verifyInclusion } from '../../src/ledger/merkle.ts';
import type { StoredRow } from '../../src/ledger/store.ts';
import type { HarnessFactory, StoreHarness } from './harness.ts';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const row = (index: number, tenantId = 't1'): StoredRow => ({
  index, tenantId, entry: `{"index":${index}}`, leafHash: bytes(32, index), seal: bytes(32, 255 - index),
});
const event = (i: number, tenant = i % 2 ? 'tenant-b' : 'tenant-a') => ({
  actor: `user:${i}`, tenant_id: tenant, action: 'test.append', target: `thing-${i}`, outcome: 'success',
  request_id: `req-${i}`, details: { i },
});

/** The PostgreSQL URL of a harness's ledger, if it is in PostgreSQL. */
function postgresOf(h: StoreHarness): string | undefined {
  const at = h.cliArgs.indexOf('--postgres');
  return at < 0 ? undefined : h.cliArgs[at + 1];
}

async function harnessFor(t: TestContext, make: HarnessFactory): Promise<StoreHarness> {
  const h = await make();
  t.after(() => h.cleanup());
  return h;
}

/** Runs `vigil ledger …` in-process, capturing what it prints. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const saved = { log: console.log, write: process.stdout.write };
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  process.stdout.write = ((chunk: string) => { lines.push(chunk); return true; }) as typeof process.stdout.write;
  try {
    const code = await ledgerCli(args);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = saved.log;
    process.stdout.write = saved.write;
  }
}

/** A ledger of `size` entries with signed checkpoints at half and full size, closed. */
async function filledLedger(h: StoreHarness, size: number): Promise<void> {
  const ledger = await h.openLedger();
  await Promise.all(Array.from({ length: size / 2 }, (_, i) => ledger.append(event(i))));
  await ledger.checkpoint();
  await Promise.all(Array.from({ length: size / 2 }, (_, i) => ledger.append(event(size / 2 + i))));
  await ledger.close();
}

async function readRow(h: StoreHarness, index: number): Promise<{ entry: string; leaf_hash: Buffer; seal: Buffer }> {
  const [r] = await h.sql('SELECT entry, leaf_hash, seal FROM ledger_entries WHERE idx = ?', [index]);
  return { entry: String(r.entry), leaf_hash: Buffer.from(r.leaf_hash as Uint8Array), seal: Buffer.from(r.seal as Uint8Array) };
}

async function writeRow(h: StoreHarness, index: number, r: { entry: string; leaf_hash: Uint8Array; seal: Uint8Array }): Promise<void> {
  await h.sql('UPDATE ledger_entries SET entry = ?, leaf_hash = ?, seal = ? WHERE idx = ?',
    [r.entry, Buffer.from(r.leaf_hash), Buffer.from(r.seal), index]);
}

function flipOneByte(text: string): string {
  const at = text.indexOf('test.append') + 5;
  return `${text.slice(0, at)}${text[at] === 'a' ? 'b' : 'a'}${text.slice(at + 1)}`;
}

/** Tampering operations, each with the position `vigil ledger verify` must report first. */
const TAMPERINGS: { name: string; firstBad: number; apply(h: StoreHarness): Promise<void> }[] = [
  {
    name: 'flip a byte of an entry',
    firstBad: 7,
    apply: async (h) => {
      const r = await readRow(h, 7);
      await writeRow(h, 7, { ...r, entry: flipOneByte(r.entry) });
    },
  },
  {
    name: 'flip a byte of an entry and recompute its leaf hash',
    firstBad: 13,
    apply: async (h) => {
      const r = await readRow(h, 13);
      const entry = flipOneByte(r.entry);
      await writeRow(h, 13, { ...r, entry, leaf_hash: entryLeafHash(entry) });
    },
  },
  {
    name: 'delete an entry',
    firstBad: 5,
    apply: async (h) => { await h.sql('DELETE FROM ledger_entries WHERE idx = ?', [5]); },
  },
  {
    name: 'delete the last entry',
    firstBad: 19,
    apply: async (h) => { await h.sql('DELETE FROM ledger_entries WHERE idx = ?', [19]); },
  },
  {
    name: 'reorder two entries',
    firstBad: 3,
    apply: async (h) => {
      const [a, b] = [await readRow(h, 3), await readRow(h, 11)];
      await writeRow(h, 3, b);
      await writeRow(h, 11, a);
    },
  },
  {
    name: 'insert a forged entry',
    firstBad: 9,
    apply: async (h) => {
      await h.sql('UPDATE ledger_entries SET idx = -idx - 1 WHERE idx >= ?', [9]);
      await h.sql('UPDATE ledger_entries SET idx = -idx WHERE idx < 0');
      const entry = encodeEntry(makeEntry(event(9), 9, new Date().toISOString()));
      await h.sql('INSERT INTO ledger_entries (idx, tenant_id, entry, leaf_hash, seal) VALUES (?, ?, ?, ?, ?)',
        [9, 'tenant-b', entry, Buffer.from(entryLeafHash(entry)), randomBytes(32)]);
    },
  },
];

/**
 * Every column of both ledger tables, how to rewrite it, and what `vigil ledger verify` must then say. A column a
 * reader sees must be covered by the entry hash (or the signed note) or derived from covered data and checked, so
 * rewriting it fails verification; a new column without a line here fails the test until it is classified.
 */
const COLUMN_TAMPERINGS: Record<string, Record<string, { firstBad?: number; covered: boolean; apply(h: StoreHarness): Promise<void> }>> = {
  ledger_entries: {
    idx: { covered: true, firstBad: 4, apply: async (h) => { await h.sql('UPDATE ledger_entries SET idx = ? WHERE idx = ?', [100, 4]); } },
    tenant_id: { covered: true, firstBad: 6, apply: async (h) => { await h.sql('UPDATE ledger_entries SET tenant_id = ? WHERE idx = ?', ['tenant-z', 6]); } },
    entry: {
      covered: true, firstBad: 8, apply: async (h) => { // another actor, leaf hash recomputed (the seal needs the key)
        const r = await readRow(h, 8);
        const entry = r.entry.replace('"actor":"user:8"', '"actor":"user:0"');
        assert.notEqual(entry, r.entry);
        await writeRow(h, 8, { ...r, entry, leaf_hash: entryLeafHash(entry) });
      },
    },
    leaf_hash: { covered: true, firstBad: 10, apply: async (h) => { await h.sql('UPDATE ledger_entries SET leaf_hash = ? WHERE idx = ?', [randomBytes(32), 10]); } },
    seal: { covered: true, firstBad: 12, apply: async (h) => { await h.sql('UPDATE ledger_entries SET seal = ? WHERE idx = ?', [randomBytes(32), 12]); } },
  },
  ledger_checkpoints: {
    size: { covered: true, apply: async (h) => { await h.sql('UPDATE ledger_checkpoints SET size = ? WHERE size = ?', [15, 10]); } },
    root: { covered: true, apply: async (h) => { await h.sql('UPDATE ledger_checkpoints SET root = ? WHERE size = ?', [randomBytes(32), 10]); } },
    note: {
      covered: true, apply: async (h) => { // another validly signed note: the one of size 20
        const [latest] = await h.sql('SELECT note FROM ledger_checkpoints WHERE size = ?', [20]);
        await h.sql('UPDATE ledger_checkpoints SET note = ? WHERE size = ?', [latest.note, 10]);
      },
    },
    // When the row was stored: read by nothing (no API route, CLI output or check uses it), so not covered.
    issued_at: { covered: false, apply: async (h) => { await h.sql('UPDATE ledger_checkpoints SET issued_at = ?', ['1999-01-01T00:00:00.000Z']); } },
  },
};

export function ledgerStoreConformance(kind: string, make: HarnessFactory): void {
  test(`${kind}: an empty store`, async (t) => {
    const store = await (await harnessFor(t, make)).openStore();
    t.after(() => store.close());
    assert.equal(await store.nextIndex(), 0);
    assert.deepEqual(await store.rows({ from: 0, limit: 10 }), []);
    assert.deepEqual(await store.leafHashes(0, 10), []);
    assert.deepEqual(await store.checkpoints(), []);
    assert.equal(await store.latestCheckpoint(), undefined);
  });

  test(`${kind}: rows and leaf hashes round-trip, paged and filtered by tenant`, async (t) => {
    const store = await (await harnessFor(t, make)).openStore();
    t.after(() => store.close());
    const rows = [row(0, 'a'), row(1, 'b'), row(2, 'a'), row(3, 'a')];
    await store.append(0, () => rows.slice(0, 1));
    await store.append(1, () => rows.slice(1));
    assert.equal(await store.nextIndex(), 4);
    const got = await store.rows({ from: 0, limit: 10 });
    assert.deepEqual(got.map((r) => ({ ...r, leafHash: [...r.leafHash], seal: [...r.seal] })),
      rows.map((r) => ({ ...r, leafHash: [...r.leafHash], seal: [...r.seal] })));
    assert.deepEqual((await store.rows({ from: 1, limit: 2 })).map((r) => r.index), [1, 2]);
    assert.deepEqual((await store.rows({ from: 1, limit: 10, tenantId: 'a' })).map((r) => r.index), [2, 3]);
    assert.deepEqual((await store.leafHashes(2, 5)).map((h) => h[0]), [2, 3]);
    assert.deepEqual((await store.leafHashes(1, 3)).map((h) => h[0]), [1, 2]);
  });

  test(`${kind}: a batch is atomic (a conflicting row or a failing builder stores none of it)`, async (t) => {
    const store = await (await harnessFor(t, make)).openStore();
    t.after(() => store.close());
    await store.append(0, () => [row(0), row(1)]);
    await assert.rejects(store.append(2, () => [row(2), row(3), row(1)]));
    await assert.rejects(store.append(2, () => { throw new Error('cannot build'); }), /cannot build/);
    await store.append(2, () => []);
    assert.equal(await store.nextIndex(), 2);
  });

  test(`${kind}: a batch is built where the log ends, with the rows other writers stored since the writer looked`, async (t) => {
    const h = await harnessFor(t, make);
    const [one, other] = [await h.openStore(), await h.openStore()];
    t.after(() => Promise.all([one.close(), other.close()]));
    await one.append(0, () => [row(0), row(1)]);
    await other.append(2, () => [row(2)]);
    const seen: { next: number; tail: number[] }[] = [];
    await one.append(1, (next, tail) => {
      seen.push({ next, tail: tail.map((hash) => hash[0]) });
      return [row(next), row(next + 1)];
    });
    assert.deepEqual(seen, [{ next: 3, tail: [1, 2] }]);
    assert.deepEqual((await other.rows({ from: 0, limit: 10 })).map((r) => r.index), [0, 1, 2, 3, 4]);
  });

  test(`${kind}: concurrent appends through separate connections are serialised (dense, unique indexes)`, async (t) => {
    const h = await harnessFor(t, make);
    const stores = [await h.openStore(), await h.openStore()];
    t.after(() => Promise.all(stores.map((s) => s.close())));
    const tails: number[] = [];
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2].append(0, (next, tail) => {
      tails.push(tail.length);
      return [row(next), row(next + 1)];
    })));
    assert.deepEqual((await stores[0].rows({ from: 0, limit: 100 })).map((r) => r.index), Array.from({ length: 80 }, (_, i) => i));
    assert.deepEqual(tails.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => 2 * i), 'each batch saw every earlier one');
  });

  test(`${kind}: checkpoints are kept in size order; the store is append-only`, async (t) => {
    const h = await harnessFor(t, make);
    const store = await h.openStore();
    t.after(() => store.close());
    await store.append(0, () => [row(0), row(1), row(2)]);
    for (const size of [1, 3]) {
      const cp = { size, root: bytes(32, size), note: `note ${size}\n`, issuedAt: `2026-01-0${size}T00:00:00.000Z` };
      assert.deepEqual(await store.addCheckpoint(cp), cp);
    }
    // A second checkpoint of a stored size (another writer signed the same tree) leaves the first in place.
    const first = await store.addCheckpoint({ size: 3, root: bytes(32, 9), note: 'note 3 again\n', issuedAt: '2026-01-09T00:00:00.000Z' });
    assert.equal(first.note, 'note 3\n');
    assert.deepEqual([...first.root], [...bytes(32, 3)]);
    assert.deepEqual((await store.checkpoints()).map((c) => c.size), [1, 3]);
    const latest = await store.latestCheckpoint();
    assert.equal(latest?.size, 3);
    assert.deepEqual([...latest!.root], [...bytes(32, 3)]);
    await assert.rejects(h.sql('UPDATE ledger_entries SET entry = ? WHERE idx = ?', ['{}', 1]), /append-only/);
    await assert.rejects(h.sql('DELETE FROM ledger_entries WHERE idx = ?', [1]), /append-only/);
    await assert.rejects(h.sql('DELETE FROM ledger_checkpoints WHERE size = ?', [1]), /append-only/);
  });

  test(`${kind}: the ledger batches concurrent appends, proves them, and reopens to the same tree`, async (t) => {
    const h = await harnessFor(t, make);
    let ledger: Ledger = await h.openLedger();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.append(event(i))));
    assert.deepEqual(results.map((r) => r.index), Array.from({ length: 30 }, (_, i) => i));
    const cp = await ledger.checkpoint();
    assert.equal(cp.size, 30);
    const p = ledger.inclusionProof(17);
    assert.equal(verifyInclusion(17, 30, results[17].leafHash, p.proof, cp.root), true);
    await ledger.record({ actor: 'user:1', tenantId: 'tenant-a', action: 'auth.login', outcome: 'failure', detail: { reason: 'locked' } });
    await ledger.close();
    ledger = await h.openLedger();
    t.after(() => ledger.close());
    assert.equal(ledger.size, 31);
    const page = await ledger.entries({ from: 30, tenantId: 'tenant-a' });
    assert.equal(page.entries[0].action, 'auth.login');
    assert.deepEqual(page.entries[0].details, { reason: 'locked' });
    const c = ledger.consistencyProof(30, 31);
    assert.equal(verifyConsistency(30, 31, cp.root, ledger.latestCheckpoint()!.root, c.proof), true);
  });

  test(`${kind}: periodic checkpoints follow the log`, async (t) => {
    const h = await harnessFor(t, make);
    const ledger = await h.openLedger({ checkpointIntervalMs: 20 });
    t.after(() => ledger.close());
    await ledger.append(event(0));
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(ledger.latestCheckpoint()?.size, 1);
    await Promise.all([ledger.append(event(1)), ledger.append(event(2))]);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(ledger.latestCheckpoint()?.size, 3);
    const store = await h.openStore();
    t.after(() => store.close());
    assert.deepEqual((await store.checkpoints()).map((c) => c.size), [1, 3]);
  });

  test(`${kind}: two writers, alternating and concurrent: dense indexes, one log that verifies, each proves the other's entries`, async (t) => {
    const h = await harnessFor(t, make);
    const writers = await Promise.all([h.openLedger(), h.openLedger()]); // opened together: schema creation races
    const appended: { writer: number; index: number; leafHash: Uint8Array }[] = [];
    const signed: SignedCheckpoint[] = [];
    let n = 0;
    const batch = async (w: number, size: number) => {
      const results = await Promise.all(Array.from({ length: size }, () => writers[w].append(event(n++))));
      for (const r of results) appended.push({ writer: w, ...r });
    };
    // Alternating: every batch lands after the other writer's last one, which the writer has not seen.
    for (let round = 0; round < 12; round++) {
      await batch(round % 2, 1 + (round % 5));
      if (round % 4 === 3) signed.push(await writers[round % 2].checkpoint());
    }
    // Concurrent: both writers append and checkpoint at once, many batches each.
    await Promise.all([0, 1].map(async (w) => {
      for (let round = 0; round < 15; round++) {
        await batch(w, 1 + ((round + w) % 7));
        if (round % 5 === 4) signed.push(await writers[w].checkpoint());
      }
    }));
    const size = appended.length;
    assert.deepEqual(appended.map((a) => a.index).sort((x, y) => x - y), Array.from({ length: size }, (_, i) => i), 'dense, unique indexes');
    for (const w of [0, 1]) {
      const own = appended.filter((a) => a.writer === w).map((a) => a.index).sort((x, y) => x - y);
      assert.ok(own.at(-1)! - own[0] >= own.length, `writer ${w}'s entries are interleaved with the other's`);
    }

    // Both sign the whole log: the same tree (the second finds the first's checkpoint of that size stored).
    const [last0, last1] = [await writers[0].checkpoint(), await writers[1].checkpoint()];
    assert.equal(last0.size, size);
    assert.equal(last1.size, size);
    assert.deepEqual([...last1.root], [...last0.root]);
    const store = await h.openStore();
    t.after(() => store.close());
    const stored = await store.leafHashes(0, size);
    for (const a of appended) assert.deepEqual([...stored[a.index]], [...a.leafHash], `entry ${a.index} stored as appended`);
    // Every entry, whichever writer appended it, proves against the other writer's checkpoint.
    for (const a of appended) {
      const p = writers[1 - a.writer].inclusionProof(a.index, size);
      assert.equal(verifyInclusion(a.index, size, a.leafHash, p.proof, last1.root), true, `inclusion of ${a.index}`);
    }
    // The checkpoints either writer signed along the way are consistent with each other and with the last.
    signed.sort((x, y) => x.size - y.size);
    for (const [i, older] of signed.entries()) {
      const newer = signed[i + 1] ?? last0;
      const p = writers[i % 2].consistencyProof(older.size, newer.size);
      assert.equal(verifyConsistency(older.size, newer.size, older.root, newer.root, p.proof), true, `${older.size} → ${newer.size}`);
    }
    assert.deepEqual((await store.checkpoints()).map((c) => c.size), [...new Set([...signed.map((c) => c.size), size])]);

    // A reader of one writer sees what the other appended since, and proves it at the other's checkpoint.
    const later = await writers[1].append(event(n++));
    const laterCp = await writers[1].checkpoint();
    const page = await writers[0].entries({ from: later.index });
    assert.equal(page.entries[0].request_id, `req-${n - 1}`);
    const p = writers[0].inclusionProof(later.index, laterCp.size);
    assert.equal(verifyInclusion(later.index, laterCp.size, later.leafHash, p.proof, laterCp.root), true);
    // …and, once refreshed, proves the other's newer checkpoint consistent with its own older one.
    const another = await writers[1].append(event(n++));
    const newestCp = await writers[1].checkpoint();
    assert.equal(newestCp.size, another.index + 1);
    assert.throws(() => writers[0].consistencyProof(last0.size, newestCp.size), 'not caught up yet: the size is beyond its tree');
    await writers[0].refresh();
    const c = writers[0].consistencyProof(last0.size, newestCp.size);
    assert.equal(verifyConsistency(last0.size, newestCp.size, last0.root, newestCp.root, c.proof), true);

    await Promise.all(writers.map((w) => w.close()));
    const { code, out } = await cli(['verify', ...h.cliArgs]);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`ledger OK: ${size + 2} entries re-hashed; latest signed checkpoint: size ${size + 2}`));
  });

  test(`${kind}: a gap in the stored log stops a writer catching up and a ledger opening`, async (t) => {
    const h = await harnessFor(t, make);
    const [writer, other] = [await h.openLedger(), await h.openLedger()];
    await Promise.all(Array.from({ length: 4 }, (_, i) => writer.append(event(i))));
    await Promise.all(Array.from({ length: 4 }, (_, i) => other.append(event(4 + i))));
    await h.disableAppendOnly();
    await h.sql('DELETE FROM ledger_entries WHERE idx = ?', [5]);
    await assert.rejects(writer.append(event(8)), /holds 3 leaf hashes for positions 4\.\.7/);
    await assert.rejects(h.openLedger(), /holds 7 leaf hashes for positions 0\.\.7/);
  });

  test(`${kind}: vigil ledger verify accepts an intact log and an exported older checkpoint`, async (t) => {
    const h = await harnessFor(t, make);
    await filledLedger(h, 20);
    const exported = join(h.dataDir, 'exported.note');
    assert.equal((await cli(['checkpoint', ...h.cliArgs, '--out', exported])).code, 0);
    const ledger = await h.openLedger();
    await Promise.all(Array.from({ length: 7 }, (_, i) => ledger.append(event(20 + i))));
    await ledger.close();
    const { code, out } = await cli(['verify', ...h.cliArgs, '--checkpoint', exported]);
    assert.equal(code, 0, out);
    assert.match(out, /ledger OK: 27 entries re-hashed; latest signed checkpoint: size 27/);
  });

  test(`${kind}: vigil ledger verify refuses an exported checkpoint of a rewritten log`, async (t) => {
    const h = await harnessFor(t, make);
    await filledLedger(h, 20);
    // The key holder rewrites history: a different log of the same size, signed with the same key.
    const other = await harnessFor(t, make);
    const forged = await other.openLedger({ keyFile: join(h.dataDir, 'ledger-key.pem') });
    await Promise.all(Array.from({ length: 20 }, (_, i) => forged.append({ ...event(i), outcome: 'forged' })));
    const forgedNote = join(h.dataDir, 'forged.note');
    writeFileSync(forgedNote, (await forged.checkpoint()).note);
    await forged.close();
    const { code, out } = await cli(['verify', ...h.cliArgs, '--checkpoint', forgedNote]);
    assert.equal(code, 1);
    assert.match(out, /FAILED: first bad position 0/);
    assert.match(out, /differ from those signed in the exported checkpoint of size 20/);
  });

  test(`${kind}: every column of both ledger tables has a tampering case`, async (t) => {
    const h = await harnessFor(t, make);
    await filledLedger(h, 2);
    for (const table of Object.keys(COLUMN_TAMPERINGS)) {
      assert.deepEqual((await h.columns(table)).sort(), Object.keys(COLUMN_TAMPERINGS[table]).sort(), `columns of ${table}`);
    }
  });

  for (const [table, columns] of Object.entries(COLUMN_TAMPERINGS)) {
    for (const [column, c] of Object.entries(columns)) {
      test(`${kind}: rewriting ${table}.${column} ${c.covered ? 'fails verification' : 'is not read by anything'} (CLI and POST /ledger/verify)`, async (t) => {
        const h = await harnessFor(t, make);
        await filledLedger(h, 20);
        await h.disableAppendOnly();
        await c.apply(h);
        const { code, out } = await cli(['verify', ...h.cliArgs]);
        const report = await verifyStoredLedger({ dataDir: h.dataDir, paths: ledgerPaths(h.dataDir), postgres: postgresOf(h) }); // what POST /ledger/verify runs
        if (!c.covered) {
          assert.equal(code, 0, out);
          assert.equal(report.ok, true);
          return;
        }
        assert.equal(code, 1, out);
        assert.equal(report.ok, false);
        if (c.firstBad !== undefined) {
          assert.match(out, new RegExp(`FAILED: first bad position ${c.firstBad} `), out);
          assert.equal(report.firstBad, c.firstBad);
        }
      });
    }
  }

  test(`${kind}: an entry whose tenant_id column was rewritten is shown in no other tenant's view`, async (t) => {
    const h = await harnessFor(t, make);
    await filledLedger(h, 20);
    await h.disableAppendOnly();
    await h.sql('UPDATE ledger_entries SET tenant_id = ? WHERE idx = ?', ['tenant-z', 6]);
    const ledger = await h.openLedger();
    t.after(() => ledger.close());
    assert.deepEqual((await ledger.entries({ tenantId: 'tenant-z' })).entries, [], 'the API lists nothing of tenant-a under tenant-z');
    const a = (await ledger.entries({ tenantId: 'tenant-a' })).entries.map((e) => e.index);
    assert.deepEqual(a, [0, 2, 4, 8, 10, 12, 14, 16, 18], 'and tenant-a no longer sees it: only verification can tell');
    const listed = await cli(['entries', ...h.cliArgs, '--tenant', 'tenant-z']);
    assert.equal(listed.code, 0);
    assert.equal(listed.out, '', 'vigil ledger entries --tenant prints nothing either');
  });

  for (const tampering of TAMPERINGS) {
    test(`${kind}: vigil ledger verify detects: ${tampering.name}`, async (t) => {
      const h = await harnessFor(t, make);
      await filledLedger(h, 20);
      await h.disableAppendOnly();
      await tampering.apply(h);
      const { code, out } = await cli(['verify', ...h.cliArgs]);
      assert.equal(code, 1, out);
      assert.match(out, new RegExp(`FAILED: first bad position ${tampering.firstBad} `));
    });
  }
}
