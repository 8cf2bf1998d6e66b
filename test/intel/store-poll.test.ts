// Intel lists on both engines (SQLite embedded, PostgreSQL at scale): create, list, delete, names unique per tenant,
// tenants apart; a URL list polled from a feed served on loopback (private targets allowed), its new content loaded
// by the loader (hot reload: version raised, matcher swapped, a deleted list dropped); a failed poll keeps the last
// content and records the error; the SSRF guard refuses a loopback feed when private targets are not allowed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { IntelListExistsError, openPostgresIntelStore, openSqliteIntelStore, type SqlIntelStore } from '../../src/stores/intel/sql-intel-store.ts';
import { fetchFeed, startIntelLoader, startIntelPoller } from '../../src/server/intel.ts';
import { TargetRefusedError } from '../../src/alerts/target-guard.ts';
import { createTempDatabase } from '../support/postgres.ts';

const log = pino({ level: 'silent' });

async function feedServer(): Promise<{ url: string; set(body: string, status?: number): void; close(): Promise<void> }> {
  let body = '';
  let status = 200;
  const server = createServer((_req, res) => { res.writeHead(status, { 'content-type': 'text/csv' }).end(body); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/feed.csv`, set: (b, s = 200) => { body = b; status = s; }, close: () => new Promise((r) => server.close(() => r())) };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function conformance(store: SqlIntelStore): Promise<void> {
  const uploaded = await store.create({ tenantId: 't1', name: 'upload', format: 'csv', url: null, pollSeconds: null, defaultConfidence: 70, createdBy: 'u',
    loaded: { content: '10.9.9.9\n', indicators: 1, rejected: 0, at: 1000 } });
  assert.deepEqual([uploaded.version, uploaded.indicators, uploaded.lastLoadAt, uploaded.nextPollAt], [1, 1, 1000, null]);
  await assert.rejects(store.create({ tenantId: 't1', name: 'upload', format: 'csv', url: null, pollSeconds: null, defaultConfidence: 50, createdBy: 'u' }), IntelListExistsError);
  await store.create({ tenantId: 't2', name: 'upload', format: 'csv', url: null, pollSeconds: null, defaultConfidence: 50, createdBy: 'u', loaded: { content: 'x.example\n', indicators: 1, rejected: 0, at: 1 } });
  assert.equal((await store.list('t1')).length, 1);
  assert.equal(await store.get('t2', uploaded.id), undefined, 'another tenant\'s list is not found');

  const feed = await feedServer();
  try {
    feed.set('value,type,confidence\n192.0.2.44,ip,95\n');
    const polled = await store.create({ tenantId: 't1', name: 'polled', format: 'csv', url: feed.url, pollSeconds: 60, defaultConfidence: 50, createdBy: 'u' });
    assert.equal(polled.version, 0);
    const loader = startIntelLoader(store, log, 50);
    const poller = startIntelPoller(store, { log, allowPrivate: true, checkMs: 50 });
    try {
      const loaded = await until('the polled list loaded', async () => [...loader.lists.of('t1')].find((l) => l.id === polled.id && l.version === 1));
      assert.equal(loaded.matcher.matchIp('192.0.2.44', Date.now())?.confidence, 95);
      assert.equal(loaded.source, feed.url);
      assert.ok([...loader.lists.of('t1')].some((l) => l.id === uploaded.id && l.matcher.matchIp('10.9.9.9', Date.now())?.confidence === 70));
      const row = (await store.get('t1', polled.id))!;
      assert.equal(row.indicators, 1);
      assert.ok(row.nextPollAt! > Date.now() + 50_000, 'next poll an interval later');
      // A failed poll: the error kept, the content before it still loaded.
      feed.set('', 503);
      assert.equal(await store.claimDue(Date.now() + 61_000, Date.now()).then((c) => c.length), 1, 'due after its interval');
      await store.failed('t1', polled.id, 'HTTP 503 from feed', Date.now());
      await poller.pollNow();
      assert.match((await store.get('t1', polled.id))!.lastError!, /503/);
      assert.equal([...loader.lists.of('t1')].find((l) => l.id === polled.id)?.version, 1);
      // New content: version 2, matcher swapped.
      feed.set('198.51.100.5\n');
      await store.failed('t1', polled.id, 'retry', Date.now());
      await until('version 2', async () => [...loader.lists.of('t1')].find((l) => l.id === polled.id && l.version === 2));
      const v2 = [...loader.lists.of('t1')].find((l) => l.id === polled.id)!;
      assert.equal(v2.matcher.matchIp('192.0.2.44', Date.now()), undefined);
      assert.ok(v2.matcher.matchIp('198.51.100.5', Date.now()));
      assert.equal((await store.get('t1', polled.id))!.lastError, null);
      // Deleted: dropped by the loader.
      assert.equal(await store.delete('t1', polled.id), true);
      await until('the list dropped', async () => ![...loader.lists.of('t1')].some((l) => l.id === polled.id));
    } finally {
      poller.stop();
      loader.stop();
    }
  } finally {
    await feed.close();
  }
}

test('intel store on SQLite: conformance, polling, hot reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-intel-'));
  const store = await openSqliteIntelStore(join(dir, 'intel.db'));
  try {
    await conformance(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('intel store on PostgreSQL: conformance, polling, hot reload', async () => {
  const db = await createTempDatabase('intel');
  const store = await openPostgresIntelStore(db.config);
  try {
    await conformance(store);
  } finally {
    await store.close();
    await db.drop();
  }
});

test('the SSRF guard refuses a loopback feed unless private targets are allowed', async () => {
  const feed = await feedServer();
  try {
    feed.set('1.2.3.4\n');
    await assert.rejects(fetchFeed(new URL(feed.url), false), TargetRefusedError);
    await assert.rejects(fetchFeed(new URL(feed.url.replace('127.0.0.1', 'localhost')), false), TargetRefusedError);
    assert.equal(await fetchFeed(new URL(feed.url), true), '1.2.3.4\n');
  } finally {
    await feed.close();
  }
});
