// Alert-sink store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database, dropped afterwards): create and list in creation order, the secret only through
// `forTenant` (the list says whether there is one), tenant scoping of reads and deletes, a second handle
// (another process) sees the same sinks.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresAlertSinkStore } from '../../src/alerts/postgres-sink-store.ts';
import { SqliteAlertSinkStore, type AlertSinkStore } from '../../src/alerts/sink-store.ts';
import { createTempDatabase } from '../support/postgres.ts';

interface StoreUnderTest {
  name: string;
  setup(): Promise<{ open(): Promise<AlertSinkStore>; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-sinks-'));
      return { open: async () => new SqliteAlertSinkStore(join(dir, 'alert-sinks.db')), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const db = await createTempDatabase('sinks');
      return { open: () => PostgresAlertSinkStore.open(db.config), dispose: () => db.drop() };
    },
  },
];

const sink = (tenantId: string, name: string, createdAt: number, secret: string | null = null) =>
  ({ tenantId, name, url: `https://hooks.example.com/${name}`, secret, createdBy: 'user:u1', createdAt });

for (const impl of implementations) {
  describe(`alert-sink store conformance: ${impl.name}`, () => {
    test('create, list in order, secrets only for delivery, tenant scoping, delete, another handle', async () => {
      const { open, dispose } = await impl.setup();
      const a = await open();
      try {
        const first = await a.create(sink('t1', 'first', 1000, 'a-secret-of-16-chars'));
        const second = await a.create(sink('t1', 'second', 2000));
        const other = await a.create(sink('t2', 'other', 1500));
        assert.match(first.id, /^snk-[0-9a-f]{16}$/);
        assert.notEqual(first.id, second.id);
        assert.deepEqual((await a.forTenant('t1')).map((s) => [s.name, s.secret, s.createdAt]), [['first', 'a-secret-of-16-chars', 1000], ['second', null, 2000]]);
        const views = await a.list('t1');
        assert.deepEqual(views.map((v) => [v.name, v.hasSecret, v.url, v.createdBy]), [['first', true, 'https://hooks.example.com/first', 'user:u1'], ['second', false, 'https://hooks.example.com/second', 'user:u1']]);
        assert.ok(views.every((v) => !('secret' in v)), 'no secret in the list');
        assert.equal(await a.delete('t1', other.id), false, 'another tenant\'s sink is not found');
        assert.equal(await a.delete('t1', 'snk-0000000000000000'), false);
        assert.equal(await a.delete('t1', second.id), true);
        const b = await open();
        try {
          assert.deepEqual((await b.list('t1')).map((v) => v.id), [first.id], 'another handle sees the same sinks');
          assert.deepEqual((await b.forTenant('t2')).map((s) => s.id), [other.id]);
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
