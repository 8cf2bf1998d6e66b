// Persistent rule-management state on SQLite: rule texts uploaded through the API (in upload order) and
// rules switched on or off by hand, so both survive a restart. Rule files on disk (built-ins, SigmaHQ
// packs) are never copied here; they are read from their directories at every start.

import { DatabaseSync } from 'node:sqlite';
import type { RuleStateStore } from './types.ts';

export type { RuleStateStore } from './types.ts';

export class SqliteRuleStateStore implements RuleStateStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS uploaded_rules (key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rule_switches (rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, updated_at TEXT NOT NULL);`);
  }

  uploads(): { key: string; text: string }[] {
    return this.db.prepare('SELECT key, text FROM uploaded_rules ORDER BY rowid').all() as { key: string; text: string }[];
  }

  saveUpload(key: string, text: string): void {
    this.db.prepare(`INSERT INTO uploaded_rules (key, text, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`).run(key, text, new Date().toISOString());
  }

  deleteUpload(key: string): void {
    this.db.prepare('DELETE FROM uploaded_rules WHERE key = ?').run(key);
  }

  switches(): { ruleId: string; enabled: boolean }[] {
    return (this.db.prepare('SELECT rule_id, enabled FROM rule_switches').all() as { rule_id: string; enabled: number }[])
      .map((r) => ({ ruleId: r.rule_id, enabled: r.enabled === 1 }));
  }

  saveSwitch(ruleId: string, enabled: boolean): void {
    this.db.prepare(`INSERT INTO rule_switches (rule_id, enabled, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (rule_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`).run(ruleId, enabled ? 1 : 0, new Date().toISOString());
  }

  close(): void {
    this.db.close();
  }
}
