// Artefact store conformance: the same cases against the embedded file store (a temporary directory) and
// PostgreSQL (a uniquely named database, dropped afterwards): an upload in chunks is stored with its size and
// digest and read back byte for byte; a completed artefact survives `abort`; a digest mismatch and an upload over
// its limit are refused (and nothing is kept); an aborted upload starts again from chunk 0; unknown and malformed
// ids are refused. Where they differ by design the case says so: chunks out of order end a file upload, while on
// PostgreSQL (chunks reach several API processes in any order) they are accepted, and two handles receiving one
// upload's chunks at once store it once.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UploadError, type ArtifactStore, type StoredUpload } from '../../src/response/artifacts.ts';
import { FileArtifactStore } from '../../src/stores/response/file-artifacts.ts';
import { PostgresArtifactStore } from '../../src/stores/response/postgres-artifacts.ts';
import { createTempDatabase } from '../support/postgres.ts';

interface StoreUnderTest {
  name: string;
  ordered: boolean; // chunks must come in order
  setup(): Promise<{ open(): Promise<ArtifactStore>; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'files',
    ordered: true,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-artifacts-'));
      return { open: async () => new FileArtifactStore(dir), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    ordered: false,
    async setup() {
      const db = await createTempDatabase('artifacts');
      return { open: () => PostgresArtifactStore.open(db.config), dispose: () => db.drop() };
    },
  },
];

const LIMIT = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of s) parts.push(Buffer.from(p as Uint8Array));
  return Buffer.concat(parts);
}

/** Sends `bytes` as `n` chunks in the given order of chunk numbers; the results of each append. */
async function upload(store: ArtifactStore, id: string, bytes: Buffer, n: number, order = [...Array(n).keys()], digest = sha(bytes)) {
  const size = Math.ceil(bytes.length / n);
  const results: (StoredUpload | undefined)[] = [];
  for (const seq of order) {
    const last = seq === n - 1;
    results.push(await store.append(id, { seq, data: bytes.subarray(seq * size, (seq + 1) * size), last, sha256: last ? digest : undefined }, LIMIT));
  }
  return results;
}

for (const impl of implementations) {
  describe(`artefact store conformance: ${impl.name}`, () => {
    test('upload, read back, limits, digest, abort, ids', async () => {
      const { open, dispose } = await impl.setup();
      const store = await open();
      try {
        const bytes = randomBytes(200_000);
        const results = await upload(store, 'cmd-1', bytes, 4);
        assert.deepEqual(results.slice(0, 3), [undefined, undefined, undefined]);
        const stored = results[3]!;
        assert.match(stored.artifactId, /^art-[0-9a-f-]{36}$/);
        assert.deepEqual([stored.size, stored.sha256], [bytes.length, sha(bytes)]);
        await store.abort('cmd-1'); // the command ended: a completed artefact stays
        assert.ok((await readAll(store.read(stored.artifactId))).equals(bytes));

        await assert.rejects(upload(store, 'cmd-2', randomBytes(1000), 2, undefined, sha(Buffer.from('other'))), (err: Error) =>
          err instanceof UploadError && /digest mismatch/.test(err.message));
        await assert.rejects(store.append('cmd-3', { seq: 0, data: randomBytes(LIMIT + 1), last: false }, LIMIT), /exceeds its limit/);

        const again = randomBytes(5000);
        await store.append('cmd-4', { seq: 0, data: randomBytes(10), last: false }, LIMIT);
        await store.abort('cmd-4'); // the agent's stream was lost: it starts again from chunk 0
        const restarted = (await upload(store, 'cmd-4', again, 2))[1]!;
        assert.ok((await readAll(store.read(restarted.artifactId))).equals(again));

        await assert.rejects(readAll(store.read('art-00000000-0000-0000-0000-000000000000')));
        assert.throws(() => store.read('../etc/passwd'), UploadError);
      } finally {
        await store.close();
        await dispose();
      }
    });

    test(impl.ordered ? 'chunks out of order end the upload' : 'chunks in any order, to two handles at once: stored once', async () => {
      const { open, dispose } = await impl.setup();
      const a = await open();
      try {
        const bytes = randomBytes(64_000);
        if (impl.ordered) {
          await assert.rejects(upload(a, 'cmd-5', bytes, 4, [0, 2, 1, 3]), /out of order/);
          return;
        }
        assert.ok((await upload(a, 'cmd-5', bytes, 4, [3, 1, 0, 2]))[3], 'completed by the chunk that filled the gap');
        const b = await open(); // another API process
        try {
          const order = [7, 3, 0, 5, 1, 6, 2, 4];
          const size = bytes.length / 8;
          const results = await Promise.all(order.map((seq, i) => (i % 2 ? a : b).append('cmd-6', {
            seq, data: bytes.subarray(seq * size, (seq + 1) * size), last: seq === 7, sha256: seq === 7 ? sha(bytes) : undefined,
          }, LIMIT)));
          const done = results.filter((r) => r !== undefined);
          assert.equal(done.length, 1, 'one append completes it');
          assert.ok((await readAll(a.read(done[0]!.artifactId))).equals(bytes));
        } finally {
          await b.close();
        }
      } finally {
        await a.close();
        await dispose();
      }
    });
  });
}
