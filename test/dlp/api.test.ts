// DLP data sets through the API (embedded server) and the store on both databases: a 100,000-row CSV uploaded
// with chosen columns is fingerprinted with the tenant's key (400,000 fingerprints, about 10 bytes each); the
// listing and reading describe it; bad uploads are precise 400s, a taken name a 409, deletion a 204 then 404;
// no cell of the upload is in the server's files or logs. The store keeps one key per tenant and only the
// fingerprint set, on SQLite and PostgreSQL alike.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { EdmMatcher } from '../../src/dlp/edm.ts';
import { Fingerprinter, FingerprintSet } from '../../src/dlp/fingerprint.ts';
import { scanText } from '../../src/dlp/scanner.ts';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';
import { openPostgresDlpStore, openSqliteDlpStore, type SqlDlpStore } from '../../src/stores/dlp/sql-dlp-store.ts';
import { createTempDatabase } from '../support/postgres.ts';
import { syntheticCsv, syntheticRow } from '../fixtures/dlp/synthetic.ts';

const logLines: string[] = [];
const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));
let server: RunningServer;
let dir: string;
let adminKey: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.httpUrl}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) as any : undefined };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-api-'));
  server = await startEmbeddedServer({ dataDir: join(dir, 'server'), http: '127.0.0.1:0', grpc: '127.0.0.1:0', log });
  adminKey = readFileSync(server.adminKeyPath, 'utf8').trim();
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const COLUMNS = [{ name: 'name', type: 'name' }, { name: 'email', type: 'email' }, { name: 'ssn', type: 'digits' }, { name: 'card', type: 'card' }];

test('a 100,000-row CSV becomes 400,000 fingerprints; only they are kept', async () => {
  const up = await api('POST', '/dlp/datasets', { name: 'customers', columns: COLUMNS, csv: syntheticCsv(100_000) });
  assert.equal(up.status, 201, up.text);
  assert.equal(up.body.rows, 100_000);
  assert.equal(up.body.fingerprints, 400_000);
  assert.ok(up.body.bytes_per_fingerprint < 12, String(up.body.bytes_per_fingerprint));
  assert.deepEqual((await api('GET', '/dlp/datasets')).body.datasets.map((d: any) => d.name), ['customers']);
  assert.equal((await api('GET', `/dlp/datasets/${up.body.id}`)).body.fingerprints, 400_000);
  assert.equal((await api('POST', '/dlp/datasets', { name: 'customers', columns: COLUMNS, csv: syntheticCsv(2) })).status, 409);

  // Nothing of the upload in the server's files (dlp.db and its WAL, the ledger, every store) or its logs.
  const rows = [syntheticRow(0), syntheticRow(50_000), syntheticRow(99_999)];
  const files = readdirSync(join(dir, 'server'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const haystacks = [...files.map((f) => readFileSync(f, 'latin1')), ...logLines];
  for (const v of rows.flat()) assert.ok(!haystacks.some((h) => h.includes(v)), `${v} stored or logged`);

  assert.equal((await api('DELETE', `/dlp/datasets/${up.body.id}`)).status, 204);
  assert.equal((await api('GET', `/dlp/datasets/${up.body.id}`)).status, 404);
  assert.equal((await api('DELETE', `/dlp/datasets/${up.body.id}`)).status, 404);
});

test('bad uploads are precise 400s that quote no cell', async () => {
  const missing = await api('POST', '/dlp/datasets', { name: 'x1', columns: [{ name: 'iban', type: 'id' }], csv: 'name,card\nAnna Smith,4539578763621486\n' });
  assert.equal(missing.status, 400);
  assert.match(missing.body.detail, /column 'iban' is not in the CSV header \(name, card\)/);
  const broken = await api('POST', '/dlp/datasets', { name: 'x2', columns: [{ name: 'card', type: 'card' }], csv: 'card\n"4539578763621486\n' });
  assert.equal(broken.status, 400);
  assert.ok(!broken.text.includes('4539578763621486'), broken.text);
  assert.equal((await api('POST', '/dlp/datasets', { name: 'x3', columns: [{ name: 'card', type: 'pan' }], csv: 'card\n1\n' })).status, 400);
  assert.equal((await api('POST', '/dlp/datasets', { name: '../x', columns: COLUMNS, csv: 'card\n1\n' })).status, 400);
});

async function conformance(store: SqlDlpStore): Promise<void> {
  const key = await store.tenantKey('t1');
  assert.equal(key.length, 32);
  assert.deepEqual(await Promise.all([store.tenantKey('t1'), store.tenantKey('t1')]), [key, key], 'one key per tenant');
  assert.notDeepEqual(await store.tenantKey('t2'), key);
  const fp = await Fingerprinter.create(key);
  const { fingerprintCsv } = await import('../../src/dlp/dataset.ts');
  const set = fingerprintCsv(fp, 'small', 'v1', syntheticCsv(100), [{ name: 'email', type: 'email' }, { name: 'card', type: 'card' }]);
  const d = await store.create({ tenantId: 't1', name: 'small', columns: [{ name: 'email', type: 'email' }, { name: 'card', type: 'card' }], rows: 100, fingerprints: set.size, set: set.serialise(), createdBy: 'u' });
  assert.equal(d.fingerprints, 200);
  assert.equal((await store.list('t2')).length, 0, 'another tenant sees nothing');
  assert.equal(await store.get('t2', d.id), undefined);
  const loaded = FingerprintSet.deserialise((await store.fingerprintSet('t1', d.id))!);
  const r = syntheticRow(42);
  assert.equal(scanText(`${r[1]};${r[3]}\n`, { detectors: [], edm: new EdmMatcher(fp, [loaded]) })[0]!.count, 1);
  await assert.rejects(store.create({ tenantId: 't1', name: 'small', columns: [], rows: 0, fingerprints: 0, set: set.serialise(), createdBy: 'u' }), /exists/);
  assert.equal(await store.delete('t2', d.id), false);
  assert.equal(await store.delete('t1', d.id), true);
}

test('the store on SQLite and on PostgreSQL', async () => {
  const sqlite = await openSqliteDlpStore(join(dir, 'conformance.db'));
  try { await conformance(sqlite); } finally { await sqlite.close(); }
  const db = await createTempDatabase('dlp');
  const pg = await openPostgresDlpStore(db.config);
  try { await conformance(pg); } finally { await pg.close(); await db.drop(); }
});
