// Rule-state store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database, dropped afterwards): empty at first; uploads kept in upload order, a replaced text keeps
// its place, deletes; switches upserted; everything seen by a handle opened afterwards (another process).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqlRuleStateStore } from '../../src/stores/rules/sql-rule-state-store.ts';
import { openPostgresDb } from '../../src/stores/sql/postgres-db.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import type { RuleStateStore } from '../../src/detect/rule-state.ts';
import { createTempDatabase } from '../support/postgres.ts';

interface StoreUnderTest {
  name: string;
  /** `open()` opens a handle on the same data each time (another process's view). */
  setup(): Promise<{ open(): Promise<RuleStateStore>; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-rule-state-'));
      return { open: () => SqlRuleStateStore.open(openSqliteDb(join(dir, 'detection.db'))), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const db = await createTempDatabase('rulestate');
      return { open: () => SqlRuleStateStore.open(openPostgresDb(db.config)), dispose: () => db.drop() };
    },
  },
];

/** Plain objects in a stable order (SQLite rows have no prototype). */
const plain = <T extends object>(rows: T[], order?: (x: T, y: T) => number): T[] => rows.map((r) => ({ ...r })).sort(order ?? (() => 0));
const byRule = (x: { ruleId: string }, y: { ruleId: string }) => x.ruleId.localeCompare(y.ruleId);

for (const impl of implementations) {
  describe(`rule-state store conformance: ${impl.name}`, () => {
    test('uploads in order, replace in place, delete, switches; all seen by a later handle', async () => {
      const { open, dispose } = await impl.setup();
      const a = await open();
      try {
        assert.deepEqual([plain(a.uploads()), plain(a.switches())], [[], []]);
        await a.saveUpload('k1', 'one');
        await a.saveUpload('k2', 'two');
        await a.saveUpload('k3', 'three');
        await a.saveUpload('k1', 'one, replaced');
        await a.deleteUpload('k2');
        await a.deleteUpload('absent');
        await a.saveSwitch('r1', false);
        await a.saveSwitch('r2', false);
        await a.saveSwitch('r1', true);
        const uploads = [{ key: 'k1', text: 'one, replaced' }, { key: 'k3', text: 'three' }];
        const switches = [{ ruleId: 'r1', enabled: true }, { ruleId: 'r2', enabled: false }];
        assert.deepEqual(plain(a.uploads()), uploads, 'this handle reads its writes');
        assert.deepEqual(plain(a.switches(), byRule), switches);
        const b = await open();
        try {
          assert.deepEqual(plain(b.uploads()), uploads, 'another handle reads them');
          assert.deepEqual(plain(b.switches(), byRule), switches);
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

test('rule-state store: a SQLite store made before migrations (no version table, no writer columns) is upgraded in place', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rule-state-'));
  try {
    const path = join(dir, 'detection.db');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE uploaded_rules (key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE rule_switches (rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, updated_at TEXT NOT NULL);
      INSERT INTO uploaded_rules VALUES ('b', 'first', '2026-01-01'), ('a', 'second', '2026-01-02');
      INSERT INTO rule_switches VALUES ('r9', 0, '2026-01-01');`);
    old.close();
    const store = await SqlRuleStateStore.open(openSqliteDb(path));
    try {
      assert.deepEqual(store.uploads().map((u) => ({ ...u })), [{ key: 'b', text: 'first' }, { key: 'a', text: 'second' }], 'kept, in upload order, writer not recorded');
      assert.deepEqual(store.switches().map((s) => ({ ...s })), [{ ruleId: 'r9', enabled: false }]);
      await store.saveUpload('b', 'first, replaced', { tenantId: 'acme', actor: 'user:1' });
      assert.deepEqual(store.uploads()[0], { key: 'b', text: 'first, replaced', tenantId: 'acme', updatedBy: 'user:1' });
      assert.equal(store.revision, 1);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
