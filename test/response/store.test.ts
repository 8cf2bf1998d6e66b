// CommandStore conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely named
// database on 127.0.0.1:5432, or VIGIL_TEST_PG_HOST, dropped afterwards): tenant scoping, compare-and-set across
// two handles (two processes), the expiry and per-host queries, artefact records, reasons, and the migration of a
// store made before reasons were kept.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { createTempDatabase } from '../support/postgres.ts';
import type { CommandRecord } from '../../src/response/model.ts';
import type { CommandStore } from '../../src/response/command-store.ts';
import { openPostgresCommandStore, openSqliteCommandStore } from '../../src/stores/response/sql-command-store.ts';

interface Opened { store: CommandStore; second(): CommandStore; dispose(): Promise<void> }

/** The command table as stores made before reasons were kept created it, with one command. */
const V1_TABLE = `CREATE TABLE ir_commands (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, host_id TEXT NOT NULL, action TEXT NOT NULL,
  params TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  approved_by TEXT, updated_at BIGINT NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0, result TEXT, error TEXT, artifact_id TEXT)`;
const V1_ROW = `INSERT INTO ir_commands (id, tenant_id, host_id, action, params, status, requested_by, requested_at, expires_at, updated_at)
  VALUES ('old', 't1', 'agt-1', 'get_file', '{"path":"/etc/hosts","max_bytes":1}', 'succeeded', 'user:u', 1, 2, 3)`;

const implementations: { name: string; open(v1?: boolean): Promise<Opened> }[] = [
  {
    name: 'SQLite',
    async open(v1 = false) {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-cmdstore-'));
      const path = join(dir, 'response.db');
      if (v1) {
        const db = new DatabaseSync(path);
        db.exec(`${V1_TABLE}; ${V1_ROW}`);
        db.close();
      }
      return { store: openSqliteCommandStore(path), second: () => openSqliteCommandStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open(v1 = false) {
      const db = await createTempDatabase('ir');
      const config = { ...db.config, max: 2 };
      if (v1) {
        const pool = new pg.Pool({ ...db.config, max: 1 });
        await pool.query(V1_TABLE);
        await pool.query(V1_ROW);
        await pool.end();
      }
      return {
        store: openPostgresCommandStore(config), second: () => openPostgresCommandStore(config),
        dispose: () => db.drop(),
      };
    },
  },
];

function command(id: string, tenantId: string, expiresAt: number, o: Partial<CommandRecord> = {}): CommandRecord {
  return {
    id, tenantId, hostId: 'agt-1', action: 'kill_process', params: { pid: 42, signal: 'SIGKILL', entity_id: 'E' }, status: 'pending',
    requestedBy: 'apikey:k', reason: 'contain the miner on agt-1', requestedAt: expiresAt - 1000, expiresAt, approvedBy: null, updatedAt: 0, deliveries: 0, result: null,
    error: null, artifactId: null, ...o,
  };
}

for (const impl of implementations) {
  describe(`CommandStore on ${impl.name}`, () => {
    test('tenant scoping, compare-and-set across handles, expiry and per-host queries, artefacts', async () => {
      const o = await impl.open();
      const other = o.second();
      try {
        await Promise.all([o.store.migrate(), other.migrate()]);
        await o.store.insert(command('c1', 't1', 1_700_000_001_000));
        await o.store.insert(command('c2', 't1', 1_700_000_005_000, { hostId: 'agt-2' }));
        await o.store.insert(command('c3', 't2', 1_700_000_001_000));
        await o.store.insert(command('c4', 't1', 1_700_000_000_500, { status: 'succeeded' }));
        assert.equal(await o.store.get('t2', 'c1'), undefined, 'another tenant does not see it');
        const c1 = (await other.get('t1', 'c1'))!;
        assert.deepEqual(c1, command('c1', 't1', 1_700_000_001_000), 'round trip, numbers as numbers');
        assert.deepEqual((await o.store.list('t1', { limit: 10 })).map((c) => c.id), ['c2', 'c1', 'c4']);
        assert.deepEqual((await o.store.list('t1', { limit: 10, hostId: 'agt-1', status: 'pending' })).map((c) => c.id), ['c1']);
        assert.deepEqual((await o.store.list('t1', { limit: 10, before: 1_700_000_000_001 })).map((c) => c.id), ['c1', 'c4']);

        const result = { processes: [{ pid: 1 }], note: 'ünïcode' };
        assert.equal(await o.store.update({ ...c1, status: 'succeeded', deliveries: 1, result }, 'pending'), true);
        assert.equal(await other.update({ ...c1, status: 'expired' }, 'pending'), false, 'a stale writer in another process loses');
        assert.deepEqual((await other.get('t1', 'c1'))!.result, result);

        assert.deepEqual((await o.store.expiredBy(1_700_000_002_000, 10)).map((c) => c.id), ['c3'], 'terminal commands never expire');
        assert.deepEqual((await o.store.forHost('t1', 'agt-2', ['pending', 'delivered'])).map((c) => c.id), ['c2']);

        const a = { id: 'art-1', tenantId: 't1', hostId: 'agt-1', commandId: 'c1', name: 'x.tar.gz', kind: 'triage' as const, size: 5_000_000_000, sha256: 'ab'.repeat(32), createdAt: 1 };
        await o.store.insertArtifact(a);
        assert.deepEqual(await other.getArtifact('t1', 'art-1'), a);
        assert.equal(await other.getArtifact('t2', 'art-1'), undefined);
        await o.store.insert(command('c5', 't1', 1_700_000_009_000, { reason: null }));
        assert.equal((await other.get('t1', 'c5'))!.reason, null);
      } finally {
        await o.store.close();
        await other.close();
        await o.dispose();
      }
    });

    test('a store made before reasons were kept gains the column (two processes migrating at once); old commands have none', async () => {
      const o = await impl.open(true);
      const other = o.second();
      try {
        await Promise.all([o.store.migrate(), other.migrate()]);
        await o.store.migrate(); // idempotent
        const old = (await o.store.get('t1', 'old'))!;
        assert.deepEqual([old.action, old.reason, old.requestedBy], ['get_file', null, 'user:u']);
        await o.store.insert(command('new', 't1', 1_700_000_001_000));
        assert.equal((await other.get('t1', 'new'))!.reason, 'contain the miner on agt-1');
      } finally {
        await o.store.close();
        await other.close();
        await o.dispose();
      }
    });
  });
}
