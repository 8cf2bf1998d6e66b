// DLP data-set delivery, both ends without a network: the server's DatasetDelivery (references by id or name,
// version = SHA-256, pieces of at most 1 MiB, nothing for another tenant or a version that is gone) and the agent's
// AgentDatasets (verifies the digest before use, keeps the set on disk and reads it back, removes a damaged file
// and asks again, resumes a cut download from the bytes held, drops sets no policy names).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AgentDatasets } from '../../src/agent/dlp/datasets.ts';
import { buildRecordSet } from '../../src/dlp/edm.ts';
import { Fingerprinter } from '../../src/dlp/fingerprint.ts';
import { DATASET_CHUNK_BYTES, DatasetDelivery, sha256 } from '../../src/server/dlp-delivery.ts';
import type { DatasetChunk, DatasetRequest } from '../../src/schema/wire.ts';
import { syntheticRow } from '../fixtures/dlp/synthetic.ts';

const KEY = new Uint8Array(32).fill(7);
const fp = await Fingerprinter.create(KEY);
function* rows(n: number) { for (let i = 0; i < n; i++) yield syntheticRow(i); }
// 300,000 email and card fingerprints: 2.4 MB of pairs and a 1 MiB prefilter, so several pieces.
const blob = buildRecordSet(fp, 'customers', 'v1', [{ index: 1, column: { name: 'email', type: 'email' } }, { index: 3, column: { name: 'card', type: 'card' } }], rows(150_000)).serialise();
const version = sha256(blob);
const source = {
  list: async (t: string) => (t === 't1' ? [{ id: 'd1', name: 'customers' }, { id: 'd2', name: 'other' }] : []),
  fingerprintSet: async (t: string, id: string) => (t === 't1' && id === 'd1' ? blob : undefined),
  tenantKey: async () => KEY,
};

async function piecesOf(server: DatasetDelivery, tenant: string, req: DatasetRequest): Promise<DatasetChunk[]> {
  const out: DatasetChunk[] = [];
  await server.chunks(tenant, req, (c) => out.push({ ...c, ...(c.data ? { data: Uint8Array.from(c.data) } : {}) }));
  return out;
}

test('the server resolves named data sets to versioned references and cuts a set into pieces of at most 1 MiB', async () => {
  const server = new DatasetDelivery(source);
  const byName = await server.resolve('t1', JSON.stringify({ dlp: { datasets: ['customers', 'missing'] } }));
  assert.deepEqual(byName.datasets, [{ id: 'd1', name: 'customers', version, bytes: blob.length }]);
  assert.deepEqual(byName.dlp_key, KEY);
  assert.deepEqual((await server.resolve('t1', { dlp: { datasets: ['d1'] } })).datasets.map((r) => r.id), ['d1'], 'by id too');
  assert.deepEqual(await server.resolve('t1', { dlp: {} }), { datasets: [] }, 'no key without data sets');
  assert.deepEqual(await server.resolve('t2', { dlp: { datasets: ['customers'] } }), { datasets: [] }, 'another tenant resolves nothing');

  const pieces = await piecesOf(server, 't1', { id: 'd1', version });
  assert.ok(pieces.length >= 2);
  assert.ok(pieces.every((p) => p.data!.length <= DATASET_CHUNK_BYTES));
  assert.deepEqual(pieces.map((p) => p.last ?? false), pieces.map((_, i) => i === pieces.length - 1));
  assert.equal(sha256(Buffer.concat(pieces.map((p) => p.data!))), version);
  assert.equal((await piecesOf(server, 't1', { id: 'd1', version, offset: DATASET_CHUNK_BYTES })).length, pieces.length - 1, 'resumed');
  assert.deepEqual(await piecesOf(server, 't2', { id: 'd1', version }), [{ id: 'd1', version, error: 'data set version not found' }]);
  assert.deepEqual((await piecesOf(server, 't1', { id: 'd1', version: '0'.repeat(64) }))[0]!.error, 'data set version not found');
});

test('the agent verifies, keeps, reloads, resumes and drops sets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-datasets-'));
  try {
    const server = new DatasetDelivery(source);
    const { datasets: [ref] } = await server.resolve('t1', { dlp: { datasets: ['customers'] } });
    const requests: DatasetRequest[] = [];
    let connected = true;
    let changes = 0;
    const agent = new AgentDatasets({ dir, log: pino({ level: 'silent' }), request: (r) => connected && requests.push(r) > 0, changed: () => changes++ });

    // A tampered piece: refused on the digest, nothing loaded or kept.
    agent.want([ref!], undefined);
    const pieces = await piecesOf(server, 't1', requests[0]!);
    const bad = pieces.map((p) => ({ ...p, data: Uint8Array.from(p.data!) }));
    bad[0]!.data![100] ^= 1;
    for (const p of bad) agent.onChunk(p);
    assert.equal(agent.set(version), undefined);
    assert.equal(agent.counters.refused, 1);
    assert.deepEqual(readdirSync(dir), []);

    // Cut after the first piece (reconnection), resumed from the bytes held.
    requests.length = 0;
    agent.want([ref!], undefined);
    agent.onChunk(pieces[0]!);
    connected = false;
    agent.reconnected();
    agent.want([ref!], undefined);
    assert.equal(requests.length, 1, 'not asked while disconnected');
    connected = true;
    agent.want([ref!], undefined);
    assert.deepEqual(requests[1], { id: 'd1', version, offset: pieces[0]!.data!.length });
    for (const p of await piecesOf(server, 't1', requests[1]!)) agent.onChunk(p);
    assert.equal(agent.set(version)!.size, 300_000);
    assert.equal(changes, 1);
    assert.ok(existsSync(join(dir, `${version}.fps`)));

    // After a restart: read from disk, not asked for. A damaged file is removed and asked for again.
    const restarted = new AgentDatasets({ dir, log: pino({ level: 'silent' }), request: () => assert.fail('held on disk'), changed: () => {} });
    restarted.want([ref!], undefined);
    assert.equal(restarted.set(version)!.size, 300_000);
    writeFileSync(join(dir, `${version}.fps`), 'damaged');
    const asked: DatasetRequest[] = [];
    new AgentDatasets({ dir, log: pino({ level: 'silent' }), request: (r) => asked.push(r) > 0, changed: () => {} }).want([ref!], undefined);
    assert.deepEqual(asked, [{ id: 'd1', version, offset: 0 }]);
    assert.ok(!existsSync(join(dir, `${version}.fps`)));

    // No policy names it any more: dropped.
    agent.want([], undefined);
    assert.equal(agent.set(version), undefined);
    assert.deepEqual(agent.versions, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
