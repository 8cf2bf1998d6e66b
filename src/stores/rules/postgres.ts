// Persistent rule-management state on PostgreSQL (scale-out: every worker and API process shares it). Same
// content as the SQLite store (with each write's tenant and principal), plus a revision number bumped by every change in the change's own
// transaction. Reads come from a snapshot (revision, uploads, switches) taken at open, by `refresh()` and at
// the end of each write, in one transaction, so the snapshot is always a state the database really held.
// Writers are serialised on the revision row. Parameterised queries only.

import type pg from 'pg';
import { inTransaction, openMigratedPool } from '../postgres-migrations.ts';
import { writerFields, type RuleStateStore, type RuleWrite, type StoredUpload } from '../../detect/rule-state.ts';

const MIGRATION_LOCK = 0x7275_6c65; // 'rule'

const MIGRATIONS: string[][] = [[
  'CREATE TABLE uploaded_rules (seq BIGSERIAL, key TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)',
  'CREATE TABLE rule_switches (rule_id TEXT PRIMARY KEY, enabled BOOLEAN NOT NULL, updated_at TIMESTAMPTZ NOT NULL)',
  'CREATE TABLE rule_state_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL)',
  'INSERT INTO rule_state_revision (id, revision) VALUES (1, 0)',
], [
  // Who wrote each upload and switch (NULL on rows written before: writer not recorded).
  'ALTER TABLE uploaded_rules ADD COLUMN tenant_id TEXT',
  'ALTER TABLE uploaded_rules ADD COLUMN updated_by TEXT',
  'ALTER TABLE rule_switches ADD COLUMN tenant_id TEXT',
  'ALTER TABLE rule_switches ADD COLUMN updated_by TEXT',
]];

interface Snapshot { revision: number; uploads: StoredUpload[]; switches: { ruleId: string; enabled: boolean }[] }

async function readSnapshot(db: pg.PoolClient): Promise<Snapshot> {
  const revision = Number((await db.query<{ revision: string }>('SELECT revision FROM rule_state_revision WHERE id = 1')).rows[0].revision);
  const uploads = (await db.query<{ key: string; text: string; tenant_id: string | null; updated_by: string | null }>(
    'SELECT key, text, tenant_id, updated_by FROM uploaded_rules ORDER BY seq')).rows
    .map((r) => ({ key: r.key, text: r.text, ...writerFields(r.tenant_id, r.updated_by) }));
  const switches = (await db.query<{ rule_id: string; enabled: boolean }>('SELECT rule_id, enabled FROM rule_switches ORDER BY rule_id')).rows
    .map((r) => ({ ruleId: r.rule_id, enabled: r.enabled }));
  return { revision, uploads, switches };
}

export class PostgresRuleStateStore implements RuleStateStore {
  private readonly pool: pg.Pool;
  private snapshot: Snapshot = { revision: 0, uploads: [], switches: [] };
  private closed = false;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Migrates and loads the current state. */
  static async open(o: pg.PoolConfig): Promise<PostgresRuleStateStore> {
    const store = new PostgresRuleStateStore(await openMigratedPool(o, 2, 'rule_state_migrations', MIGRATION_LOCK, MIGRATIONS));
    try {
      await store.refresh();
      return store;
    } catch (err) {
      await store.close();
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
    this.snapshot = await inTransaction(this.pool, async (db) => {
      await db.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      return readSnapshot(db);
    });
    return this.snapshot.revision !== before;
  }

  uploads(): StoredUpload[] {
    return this.snapshot.uploads.map((u) => ({ ...u }));
  }

  switches(): { ruleId: string; enabled: boolean }[] {
    return this.snapshot.switches.map((s) => ({ ...s }));
  }

  saveUpload(key: string, text: string, by?: RuleWrite): Promise<void> {
    return this.change(`INSERT INTO uploaded_rules (key, text, updated_at, tenant_id, updated_by) VALUES ($1, $2, now(), $3, $4)
      ON CONFLICT (key) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`,
    [key, text, by?.tenantId ?? null, by?.actor ?? null]);
  }

  deleteUpload(key: string): Promise<void> {
    return this.change('DELETE FROM uploaded_rules WHERE key = $1', [key]);
  }

  saveSwitch(ruleId: string, enabled: boolean, by?: RuleWrite): Promise<void> {
    return this.change(`INSERT INTO rule_switches (rule_id, enabled, updated_at, tenant_id, updated_by) VALUES ($1, $2, now(), $3, $4)
      ON CONFLICT (rule_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, tenant_id = excluded.tenant_id, updated_by = excluded.updated_by`,
    [ruleId, enabled, by?.tenantId ?? null, by?.actor ?? null]);
  }

  /** One change: take the revision row (serialising writers), apply, bump the revision, re-read the state. */
  private async change(sql: string, params: unknown[]): Promise<void> {
    this.snapshot = await inTransaction(this.pool, async (db) => {
      await db.query('UPDATE rule_state_revision SET revision = revision + 1 WHERE id = 1');
      await db.query(sql, params);
      return readSnapshot(db);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
