// CommandStore conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely named
// database on 127.0.0.1:5432, or VIGIL_TEST_PG_HOST, dropped afterwards): tenant scoping, compare-and-set across
// two handles (two processes), the expiry and per-host queries, artefact records.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase } from '../support/postgres.ts';
import type { CommandRecord } from '../../src/response/model.ts';
import { openPostgresCommandStore, openSqliteCommandStore, type CommandStore } from '../../src/response/store.ts';

interface Opened { store: CommandStore; second(): CommandStore; dispose(): Promise<void> }

const implementations: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-cmdstore-'));
      const path = join(dir, 'response.db');
      return { store: openSqliteCommandStore(path), second: () => openSqliteCommandStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const db = await createTempDatabase('ir');
      const config = { ...db.config, max: 2 };
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
    requestedBy: 'apikey:k', requestedAt: expiresAt - 1000, expiresAt, approvedBy: null, updatedAt: 0, deliveries: 0, result: null,
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
      } finally {
        await o.store.close();
        await other.close();
        await o.dispose();
      }
    });
  });
}
