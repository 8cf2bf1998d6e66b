// Persistent rule-management state on the one SQL layer (src/stores/sql/): SQLite in <data-dir>/detection.db embedded,
// PostgreSQL at scale (every worker and API process shares it). Rule texts uploaded through the API (in upload
// order) and rules switched on or off by hand, each with the tenant and principal that wrote it, plus a revision
// number bumped by every change in the change's own transaction. Reads come from a snapshot (revision, uploads,
// switches) taken at open, by `refresh()` and at the end of each write, in one transaction that holds the revision
// row, so the snapshot is always a state the database really held. Writers are serialised on the revision row.
// Rule files on disk (built-ins, SigmaHQ packs) are never copied here. Parameterised queries only.

import type { Migration, SqlDb, SqlDialect, SqlQuerier, SqlValue } from '../sql/sql-db.ts';
import { writerFields, type RuleStateStore, type RuleWrite, type StoredUpload } from '../../detect/rule-state.ts';

const MIGRATION_LOCK = 0x7275_6c65; // 'rule'

/** The tables, as each engine first had them (SQLite stores made before the version table already hold them). */
async function createTables(q: SqlQuerier, db: SqlDialect): Promise<void> {
  if (db.engine === 'postgres') {
    await q.exec(`CREATE TABLE uploaded_rules (seq BIGSERIAL, key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
      CREATE TABLE rule_switches (rule_id TEXT PRIMARY KEY, enabled BOOLEAN NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`);
  } else {
    await q.exec(`CREATE TABLE IF NOT EXISTS uploaded_rules (key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rule_switches (rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL, updated_at TEXT NOT NULL)`);
  }
  await q.exec(`CREATE TABLE IF NOT EXISTS rule_state_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL);
    INSERT INTO rule_state_revision (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`);
}

/** Who wrote each upload and switch (NULL on rows written before: writer not recorded). */
async function addWriterColumns(q: SqlQuerier, db: SqlDialect): Promise<void> {
  for (const table of ['uploaded_rules', 'rule_switches']) {
    const have = db.engine === 'sqlite'
      ? new Set((await q.all(`SELECT name FROM pragma_table_info('${table}')`)).map((r) => String(r.name)))
      : new Set<string>();
    for (const column of ['tenant_id', 'updated_by']) {
      if (db.engine === 'postgres') await q.exec(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${column} TEXT`);
      else if (!have.has(column)) await q.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
    }
  }
}

const MIGRATIONS: readonly Migration[] = [[createTables], [addWriterColumns]];

interface Snapshot { revision: number; uploads: StoredUpload[]; switches: { ruleId: string; enabled: boolean }[] }

export class SqlRuleStateStore implements RuleStateStore {
  private readonly db: SqlDb;
  private snapshot: Snapshot = { revision: 0, uploads: [], switches: [] };

  private constructor(db: SqlDb) {
    this.db = db;
  }

  /** Migrates and loads the current state; closes `db` if that fails. */
  static async open(db: SqlDb): Promise<SqlRuleStateStore> {
    const store = new SqlRuleStateStore(db);
    try {
      await db.migrate({ table: 'rule_state_migrations', lockKey: MIGRATION_LOCK, migrations: MIGRATIONS });
      await store.refresh();
      return store;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** The revision of the snapshot the reads answer from (0: nothing ever changed). */
  get revision(): number {
    return this.snapshot.revision;
  }

  /** Reloads the snapshot; true when the database's revision differs from the one held before. */
  async refresh(): Promise<boolean> {
    const before = this.snapshot.revision;
    this.snapshot = await this.db.tx((q) => this.read(q, true));
    return this.snapshot.revision !== before;
  }

  uploads(): StoredUpload[] {
    return this.snapshot.uploads.map((u) => ({ ...u }));
  }

  switches(): { ruleId: string; enabled: boolean }[] {
    return this.snapshot.switches.map((s) => ({ ...s }));
  }

  saveUpload(key: string, text: string, by?: RuleWrite): Promise<void> {
    return this.change(`INSERT INTO uploaded_rules (key, text, updated_at, tenant_id, updated_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`,
    [key, text, new Date().toISOString(), by?.tenantId ?? null, by?.actor ?? null]);
  }

  deleteUpload(key: string): Promise<void> {
    return this.change('DELETE FROM uploaded_rules WHERE key = ?', [key]);
  }

  saveSwitch(ruleId: string, enabled: boolean, by?: RuleWrite): Promise<void> {
    return this.change(`INSERT INTO rule_switches (rule_id, enabled, updated_at, tenant_id, updated_by) VALUES (?, ${this.db.engine === 'postgres' ? '?::boolean' : '?'}, ?, ?, ?)
      ON CONFLICT (rule_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`,
    [ruleId, enabled ? 1 : 0, new Date().toISOString(), by?.tenantId ?? null, by?.actor ?? null]);
  }

  /** One change: take the revision row (serialising writers), apply, bump the revision, re-read the state. */
  private async change(sql: string, params: SqlValue[]): Promise<void> {
    this.snapshot = await this.db.tx(async (q) => {
      await q.run('UPDATE rule_state_revision SET revision = revision + 1 WHERE id = 1');
      await q.run(sql, params);
      return this.read(q, false);
    });
  }

  /** The state in one transaction; `lock`: hold the revision row first, so no writer changes it while it is read. */
  private async read(q: SqlQuerier, lock: boolean): Promise<Snapshot> {
    const rev = await q.get(`SELECT revision FROM rule_state_revision WHERE id = 1${lock ? this.db.forUpdate : ''}`);
    const order = this.db.engine === 'postgres' ? 'seq' : 'rowid'; // upload order: a replaced text keeps its place
    const uploads = (await q.all(`SELECT key, text, tenant_id, updated_by FROM uploaded_rules ORDER BY ${order}`))
      .map((r) => ({ key: String(r.key), text: String(r.text), ...writerFields(r.tenant_id as string | null, r.updated_by as string | null) }));
    const switches = (await q.all(`SELECT rule_id, enabled FROM rule_switches ORDER BY rule_id${this.db.collateC}`))
      .map((r) => ({ ruleId: String(r.rule_id), enabled: r.enabled === true || Number(r.enabled) === 1 }));
    return { revision: Number(rev?.revision ?? 0), uploads, switches };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
