// Persistent rule-management state on SQLite: rule texts uploaded through the API (in upload order) and rules
// switched on or off by hand, so both survive a restart, each with the tenant and principal that wrote it. Rule
// files on disk (built-ins, SigmaHQ packs) are never copied here; they are read from their directories at every
// start.

import { DatabaseSync } from 'node:sqlite';
import { writerFields, type RuleStateStore, type RuleWrite, type StoredUpload } from '../../detect/rule-state.ts';

export type { RuleStateStore } from '../../detect/rule-state.ts';

/** Adds the writer columns to a table created before they existed (NULL there: writer not recorded). */
function addWriterColumns(db: DatabaseSync, table: string): void {
  const have = new Set((db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name));
  for (const column of ['tenant_id', 'updated_by']) if (!have.has(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
}

export class SqliteRuleStateStore implements RuleStateStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS uploaded_rules (key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rule_switches (rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, updated_at TEXT NOT NULL);`);
    addWriterColumns(this.db, 'uploaded_rules');
    addWriterColumns(this.db, 'rule_switches');
  }

  uploads(): StoredUpload[] {
    return (this.db.prepare('SELECT key, text, tenant_id, updated_by FROM uploaded_rules ORDER BY rowid').all() as
      { key: string; text: string; tenant_id: string | null; updated_by: string | null }[])
      .map((r) => ({ key: r.key, text: r.text, ...writerFields(r.tenant_id, r.updated_by) }));
  }

  saveUpload(key: string, text: string, by?: RuleWrite): void {
    this.db.prepare(`INSERT INTO uploaded_rules (key, text, updated_at, tenant_id, updated_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`)
      .run(key, text, new Date().toISOString(), by?.tenantId ?? null, by?.actor ?? null);
  }

  deleteUpload(key: string): void {
    this.db.prepare('DELETE FROM uploaded_rules WHERE key = ?').run(key);
  }

  switches(): { ruleId: string; enabled: boolean }[] {
    return (this.db.prepare('SELECT rule_id, enabled FROM rule_switches').all() as { rule_id: string; enabled: number }[])
      .map((r) => ({ ruleId: r.rule_id, enabled: r.enabled === 1 }));
  }

  saveSwitch(ruleId: string, enabled: boolean, by?: RuleWrite): void {
    this.db.prepare(`INSERT INTO rule_switches (rule_id, enabled, updated_at, tenant_id, updated_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (rule_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`)
      .run(ruleId, enabled ? 1 : 0, new Date().toISOString(), by?.tenantId ?? null, by?.actor ?? null);
  }

  close(): void {
    this.db.close();
  }
}
