// The shared SQL layer (src/stores/sql/) on SQLite (a temporary file) and PostgreSQL (a throw-away database):
// `?` and numbered placeholders (not inside quoted text), rows and counts, transactions that roll back, retries on
// a serialisation failure (PostgreSQL), migrations applied once by two handles at once (steps as scripts and as
// functions), unique violations, advisory locks inside a transaction, close twice.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase } from '../support/postgres.ts';
import { numberedPlaceholders, sqlitePlaceholders } from '../../src/stores/sql/placeholders.ts';
import { openPostgresDb } from '../../src/stores/sql/postgres-db.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import type { Migration, SqlDb } from '../../src/stores/sql/sql-db.ts';

test('placeholders are translated outside quoted text and comments', () => {
  assert.equal(numberedPlaceholders("SELECT ? AS a, '?' AS \"b?\", ? -- ?\n, ?"), "SELECT $1 AS a, '?' AS \"b?\", $2 -- ?\n, $3");
  assert.equal(numberedPlaceholders('SELECT $1, $2'), 'SELECT $1, $2');
  assert.equal(sqlitePlaceholders("SELECT $1, '$2', $1"), "SELECT ?1, '$2', ?1");
});

const implementations: { name: string; open(): Promise<{ db: SqlDb; second(): SqlDb; dispose(): Promise<void> }> }[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-sqldb-'));
      const path = join(dir, 'x.db');
      return { db: openSqliteDb(path), second: () => openSqliteDb(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const t = await createTempDatabase('sqldb');
      return { db: openPostgresDb(t.config, { max: 3 }), second: () => openPostgresDb(t.config, { max: 3 }), dispose: () => t.drop() };
    },
  },
];

const MIGRATIONS: Migration[] = [
  ['CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL); CREATE INDEX items_n ON items (n)'],
  [async (q, d) => { await q.exec(d.engine === 'postgres' ? 'ALTER TABLE items ADD COLUMN IF NOT EXISTS note TEXT' : 'ALTER TABLE items ADD COLUMN note TEXT'); }],
];

for (const impl of implementations) {
  describe(`SqlDb on ${impl.name}`, () => {
    test('migrations once, statements, transactions, retries, locks, unique violations', async () => {
      const o = await impl.open();
      const other = o.second();
      try {
        const plan = { table: 'test_schema_migrations', lockKey: 0x74657374, migrations: MIGRATIONS };
        await Promise.all([o.db.migrate(plan), other.migrate(plan)]);
        await o.db.migrate(plan);
        assert.deepEqual((await o.db.all('SELECT version FROM test_schema_migrations ORDER BY version')).map((r) => Number(r.version)), [1, 2]);

        assert.equal(await o.db.run('INSERT INTO items (id, n, note) VALUES (?, ?, ?)', ['a', 1, "it's ?"]), 1);
        assert.equal(await o.db.run('INSERT INTO items (id, n) VALUES ($1, $2)', ['b', 2]), 1);
        const a = await other.get('SELECT id, n, note FROM items WHERE id = ?', ['a']);
        assert.deepEqual([a?.id, Number(a?.n), a?.note], ['a', 1, "it's ?"]);
        assert.equal(await o.db.get('SELECT id FROM items WHERE id = ?', ['z']), undefined);

        const err = await o.db.run('INSERT INTO items (id, n) VALUES (?, ?)', ['a', 3]).catch((e: unknown) => e);
        assert.ok(o.db.isUniqueViolation(err));
        assert.ok(!o.db.isUniqueViolation(new Error('other')));

        await assert.rejects(o.db.tx(async (q) => {
          await q.run('UPDATE items SET n = 10 WHERE id = ?', ['a']);
          throw new Error('undo');
        }), /undo/);
        assert.equal(Number((await o.db.get('SELECT n FROM items WHERE id = ?', ['a']))?.n), 1, 'rolled back');

        const r = await o.db.tx(async (q) => {
          await o.db.lock(q, 0x74657374, ['t1\u0000h1', 't1\u0000h2']);
          await q.run(`UPDATE items SET n = n + 1 WHERE id = ?`, ['a']);
          return (await q.get(`SELECT n FROM items WHERE id = ?${o.db.forUpdate}`, ['a']))?.n;
        });
        assert.equal(Number(r), 2);

        let attempts = 0;
        const retried = o.db.tx(async () => {
          attempts += 1;
          if (attempts === 1) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
          return attempts;
        }, { retries: 2 });
        if (o.db.engine === 'postgres') assert.equal(await retried, 2);
        else await assert.rejects(retried, /serialize/, 'SQLite never needs (nor does) a retry');

        // Statements of one process never slip into another handle's open transaction.
        let release!: () => void;
        const held = o.db.tx(async (q) => {
          await q.run('UPDATE items SET n = 100 WHERE id = ?', ['b']);
          await new Promise<void>((resolve) => { release = resolve; });
          throw new Error('abandon');
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const read = other.get('SELECT n FROM items WHERE id = ?', ['b']);
        release();
        await assert.rejects(held, /abandon/);
        assert.equal(Number((await read)?.n), 2);
      } finally {
        await o.db.close();
        await o.db.close();
        await other.close();
        await o.dispose();
      }
    });
  });
}
