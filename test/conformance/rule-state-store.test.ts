// Rule-state store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database, dropped afterwards): empty at first; uploads kept in upload order, a replaced text keeps
// its place, deletes; switches upserted; everything seen by a handle opened afterwards (another process).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresRuleStateStore } from '../../src/stores/rules/postgres.ts';
import { SqliteRuleStateStore } from '../../src/stores/rules/sqlite.ts';
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
      return { open: async () => new SqliteRuleStateStore(join(dir, 'detection.db')), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const db = await createTempDatabase('rulestate');
      return { open: () => PostgresRuleStateStore.open(db.config), dispose: () => db.drop() };
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
