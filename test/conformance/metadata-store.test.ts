// Metadata store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database on 127.0.0.1:5432, or VIGIL_TEST_PG_HOST, dropped afterwards).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { SqliteMetadataStore } from '../../src/stores/metadata/sqlite.ts';
import type { EnrollmentToken, HostRecord, MetadataStore } from '../../src/stores/metadata/types.ts';

const PG_ADMIN: pg.ClientConfig = { host: process.env.VIGIL_TEST_PG_HOST ?? '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client(PG_ADMIN);
  await client.connect();
  try { await client.query(sql); } finally { await client.end(); }
}

interface StoreUnderTest {
  name: string;
  /** Opens a store; `second` opens another handle on the same data (another process's view). */
  open(): Promise<{ store: MetadataStore; second(): MetadataStore; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-meta-'));
      const path = join(dir, 'metadata.db');
      return { store: new SqliteMetadataStore(path), second: () => new SqliteMetadataStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const database = `vigil_test_meta_${randomBytes(6).toString('hex')}`; // generated, safe to inline
      await pgAdmin(`CREATE DATABASE ${database}`);
      const config = { ...PG_ADMIN, database, max: 4 };
      return {
        store: new PostgresMetadataStore(config), second: () => new PostgresMetadataStore(config),
        dispose: () => pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
      };
    },
  },
];

const token = (tenantId: string, o: Partial<EnrollmentToken> = {}): EnrollmentToken => ({
  id: randomUUID(), tenantId, tokenHash: randomBytes(32).toString('hex'), createdAt: 1000, expiresAt: 10_000,
  maxUses: 1, uses: 0, revoked: false, ...o,
});

const host = (tenantId: string, id: string, hostname: string): Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'> => ({
  id, tenantId, hostname, os: 'linux', kernel: '6.1.0', agentVersion: '0.1.0', certSerial: `serial-${id}`,
  certNotAfter: 2_000_000_000_000, enrolledAt: 1_700_000_000_000,
});

for (const impl of implementations) {
  describe(`metadata store conformance: ${impl.name}`, () => {
    let store: MetadataStore;
    let second: () => MetadataStore;
    let dispose: () => Promise<void>;

    before(async () => {
      ({ store, second, dispose } = await impl.open());
      await store.migrate();
      await store.ensureTenant('t1', 'Tenant one');
      await store.ensureTenant('t2', 'Tenant two');
    });
    after(async () => {
      await store.close();
      await dispose();
    });

    test('migrating again, from another handle, changes nothing', async () => {
      const other = second();
      try {
        await other.migrate();
        await other.ensureTenant('t1', 'renamed? no: ensure keeps the first');
        await store.upsertHost(host('t1', 'mig-host', 'mig'));
        assert.equal((await other.getHost('t1', 'mig-host'))?.hostname, 'mig');
      } finally {
        await other.close();
      }
    });

    test('enrolment tokens: single use, expiry, revocation, unknown', async () => {
      const once = token('t1');
      await store.createEnrollmentToken(once);
      const used = await store.consumeEnrollmentToken(once.tokenHash, 5000);
      assert.ok(!('refused' in used));
      assert.equal(used.uses, 1);
      assert.equal(used.tenantId, 't1');
      assert.deepEqual(await store.consumeEnrollmentToken(once.tokenHash, 5000), { refused: 'enrolment token used up' });
      const expiring = token('t1');
      await store.createEnrollmentToken(expiring);
      assert.deepEqual(await store.consumeEnrollmentToken(expiring.tokenHash, 10_000), { refused: 'enrolment token expired' });
      const revoked = token('t1', { revoked: true });
      await store.createEnrollmentToken(revoked);
      assert.deepEqual(await store.consumeEnrollmentToken(revoked.tokenHash, 5000), { refused: 'enrolment token revoked' });
      assert.deepEqual(await store.consumeEnrollmentToken('0'.repeat(64), 5000), { refused: 'unknown enrolment token' });
      const unlimited = token('t1', { maxUses: null });
      await store.createEnrollmentToken(unlimited);
      for (let i = 1; i <= 3; i++) {
        const r = await store.consumeEnrollmentToken(unlimited.tokenHash, 5000);
        assert.ok(!('refused' in r) && r.uses === i);
      }
    });

    test('concurrent consumption from two handles never exceeds max uses', async () => {
      const t = token('t1', { maxUses: 5 });
      await store.createEnrollmentToken(t);
      const other = second();
      try {
        const results = await Promise.all(Array.from({ length: 24 }, (_, i) =>
          (i % 2 ? other : store).consumeEnrollmentToken(t.tokenHash, 5000)));
        const granted = results.filter((r) => !('refused' in r));
        assert.equal(granted.length, 5);
        assert.deepEqual(granted.map((r) => (r as EnrollmentToken).uses).sort(), [1, 2, 3, 4, 5]);
        assert.ok(results.filter((r) => 'refused' in r).every((r) => (r as { refused: string }).refused === 'enrolment token used up'));
      } finally {
        await other.close();
      }
    });

    test('hosts: upsert, get and list scoped by tenant; agent lookup by id; heartbeats', async () => {
      await store.upsertHost(host('t1', 'h-b', 'bravo'));
      await store.upsertHost(host('t1', 'h-a', 'Alpha'));
      await store.upsertHost(host('t2', 'h-z', 'zulu'));
      await store.upsertHost({ ...host('t1', 'h-b', 'bravo-renamed'), agentVersion: '0.2.0' });
      const b = await store.getHost('t1', 'h-b');
      assert.equal(b?.hostname, 'bravo-renamed');
      assert.equal(b?.agentVersion, '0.2.0');
      assert.equal(b?.lastSeen, null);
      assert.deepEqual(b?.health, {});
      assert.equal(b?.revoked, false);
      assert.equal(await store.getHost('t2', 'h-b'), undefined);
      assert.equal(await store.getHost('t1', 'h-z'), undefined);
      assert.deepEqual((await store.listHosts('t1')).filter((h) => h.id.startsWith('h-')).map((h) => h.hostname), ['Alpha', 'bravo-renamed']);
      assert.deepEqual((await store.listHosts('t2')).map((h) => h.id), ['h-z']);
      assert.equal((await store.getAgent('h-z'))?.tenantId, 't2');
      assert.equal(await store.getAgent('nope'), undefined);
      await store.recordHeartbeat('h-a', 1_800_000_000_123, { version: '0.1.0', queueDepth: 3, cpuPct: 1.5 });
      const a = await store.getHost('t1', 'h-a');
      assert.equal(a?.lastSeen, 1_800_000_000_123);
      assert.deepEqual(a?.health, { version: '0.1.0', queueDepth: 3, cpuPct: 1.5 });
    });

    test('tenants and policies page by key (bytewise order), pages joining into the whole list', async () => {
      for (const id of ['page-b', 'Page-Z', 'page-a']) await store.createTenant(id, id, 1);
      const all = (await store.listTenants()).map((t) => t.id);
      assert.deepEqual(all, [...all].sort());
      const first = await store.listTenants({ limit: 2 });
      const rest = await store.listTenants({ after: first.at(-1)!.id, limit: 1000 });
      assert.deepEqual([...first, ...rest].map((t) => t.id), all);
      assert.deepEqual((await store.listTenants({ after: 'page-a', limit: 1 })).map((t) => t.id), ['page-b']);
      for (const name of ['b', 'a', 'b', 'c']) await store.putPolicy('t2', name, '{}', 'user:u1', 1);
      await store.putPolicy('t1', 'a0', '{}', 'user:u1', 1);
      const page = await store.listPolicies('t2', { limit: 2 });
      assert.deepEqual(page.map((p) => [p.name, p.version]), [['a', 1], ['b', 2]]);
      assert.deepEqual((await store.listPolicies('t2', { after: 'b', limit: 2 })).map((p) => p.name), ['c']);
      assert.deepEqual(await store.listPolicies('t2', { after: 'c', limit: 2 }), []);
    });

    test('hostile text is stored as text', async () => {
      const name = "x'); DROP TABLE hosts; --";
      await store.upsertHost(host('t1', 'h-hostile', name));
      assert.equal((await store.getHost('t1', 'h-hostile'))?.hostname, name);
      assert.ok((await store.listHosts('t1')).length >= 3);
    });
  });
}

test('the migrations declare the same tables and columns on SQLite and PostgreSQL (api_keys dropped)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-meta-'));
  const database = `vigil_test_meta_${randomBytes(6).toString('hex')}`;
  await pgAdmin(`CREATE DATABASE ${database}`);
  const sqlite = new SqliteMetadataStore(join(dir, 'm.db'));
  const postgres = new PostgresMetadataStore({ ...PG_ADMIN, database });
  try {
    await sqlite.migrate();
    await postgres.migrate();
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(dir, 'm.db'));
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => String(r.name));
    const sqliteColumns = tables.flatMap((t) => db.prepare(`SELECT name FROM pragma_table_info(?)`).all(t).map((c) => `${t}.${String(c.name)}`)).sort();
    db.close();
    const client = new pg.Client({ ...PG_ADMIN, database });
    await client.connect();
    const r = await client.query<{ c: string }>(`SELECT table_name || '.' || column_name AS c FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY 1`);
    await client.end();
    assert.deepEqual(r.rows.map((row) => row.c).sort(), sqliteColumns);
    assert.ok(sqliteColumns.includes('schema_migrations.version'));
    assert.ok(!sqliteColumns.some((c) => c.startsWith('api_keys.')), 'the unused api_keys table is dropped (migration 3)');
  } finally {
    await sqlite.close();
    await postgres.close();
    await pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    rmSync(dir, { recursive: true, force: true });
  }
});
