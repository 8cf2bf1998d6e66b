// The CommandStore (src/response/command-store.ts) in SQL: one implementation (SqlCommandStore, in SQL that SQLite
// and PostgreSQL both accept) over the shared SQL layer (src/stores/sql/): SQLite at <data-dir>/response.db
// embedded, PostgreSQL at scale. Schema: migrations in ir_schema_migrations (the first says IF NOT EXISTS, for
// stores made before the version table; the second adds the reason column where it is missing). Status changes
// are compare-and-set on the previous status, so two writers (two processes included) never both move one
// command. Parameterised SQL only.

import type pg from 'pg';
import { openPostgresDb } from '../sql/postgres-db.ts';
import type { Migration, SqlDb, SqlRow, SqlValue } from '../sql/sql-db.ts';
import { openSqliteDb } from '../sql/sqlite-db.ts';
import type { ArtifactRecord, CommandRecord, CommandStatus } from '../../response/model.ts';
import type { CommandQuery, CommandStore } from '../../response/command-store.ts';

const DDL = `
CREATE TABLE IF NOT EXISTS ir_commands (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  action TEXT NOT NULL,
  params TEXT NOT NULL,
  status TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  reason TEXT,
  requested_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  approved_by TEXT,
  updated_at BIGINT NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  error TEXT,
  artifact_id TEXT
);
CREATE INDEX IF NOT EXISTS ir_commands_tenant_time ON ir_commands (tenant_id, requested_at);
CREATE INDEX IF NOT EXISTS ir_commands_host_status ON ir_commands (tenant_id, host_id, status);
CREATE INDEX IF NOT EXISTS ir_commands_open_expiry ON ir_commands (status, expires_at);
CREATE TABLE IF NOT EXISTS ir_artifacts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  command_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`;

type Row = SqlRow;

const MIGRATION_LOCK = 0x76697263; // 'virc': the advisory lock key of response-store migrations

const MIGRATIONS: Migration[] = [
  [DDL],
  // Stores made before reasons were kept (the tables, without a version table) gain the column.
  [async (q, d) => {
    if (d.engine === 'postgres') await q.exec('ALTER TABLE ir_commands ADD COLUMN IF NOT EXISTS reason TEXT');
    else if (!(await q.get("SELECT 1 AS x FROM pragma_table_info('ir_commands') WHERE name = 'reason'"))) await q.exec('ALTER TABLE ir_commands ADD COLUMN reason TEXT');
  }],
];

function commandOf(r: Row): CommandRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), hostId: String(r.host_id), action: String(r.action) as CommandRecord['action'],
    params: JSON.parse(String(r.params)), status: String(r.status) as CommandStatus, requestedBy: String(r.requested_by),
    reason: r.reason == null ? null : String(r.reason),
    requestedAt: Number(r.requested_at), expiresAt: Number(r.expires_at), approvedBy: r.approved_by == null ? null : String(r.approved_by),
    updatedAt: Number(r.updated_at), deliveries: Number(r.deliveries), result: r.result == null ? null : JSON.parse(String(r.result)),
    error: r.error == null ? null : String(r.error), artifactId: r.artifact_id == null ? null : String(r.artifact_id),
  };
}

function artifactOf(r: Row): ArtifactRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), hostId: String(r.host_id), commandId: String(r.command_id), name: String(r.name),
    kind: String(r.kind) as ArtifactRecord['kind'], size: Number(r.size), sha256: String(r.sha256), createdAt: Number(r.created_at),
  };
}

const OPEN: readonly CommandStatus[] = ['awaiting_approval', 'pending', 'delivered', 'running'];
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export class SqlCommandStore implements CommandStore {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: 'ir_schema_migrations', lockKey: MIGRATION_LOCK, migrations: MIGRATIONS });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async insert(c: CommandRecord): Promise<void> {
    await this.db.run(`INSERT INTO ir_commands (id, tenant_id, host_id, action, params, status, requested_by, reason, requested_at, expires_at,
      approved_by, updated_at, deliveries, result, error, artifact_id) VALUES (${placeholders(16)})`, [
      c.id, c.tenantId, c.hostId, c.action, JSON.stringify(c.params), c.status, c.requestedBy, c.reason, c.requestedAt, c.expiresAt,
      c.approvedBy, c.updatedAt, c.deliveries, c.result === null ? null : JSON.stringify(c.result), c.error, c.artifactId]);
  }

  async get(tenantId: string, id: string): Promise<CommandRecord | undefined> {
    const [r] = await this.db.all('SELECT * FROM ir_commands WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r && commandOf(r);
  }

  async list(tenantId: string, q: CommandQuery): Promise<CommandRecord[]> {
    const where = ['tenant_id = ?'];
    const args: SqlValue[] = [tenantId];
    if (q.hostId !== undefined) { where.push('host_id = ?'); args.push(q.hostId); }
    if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
    if (q.before !== undefined) { where.push('requested_at < ?'); args.push(q.before); }
    const rows = await this.db.all(`SELECT * FROM ir_commands WHERE ${where.join(' AND ')} ORDER BY requested_at DESC, id LIMIT ?`, [...args, q.limit]);
    return rows.map(commandOf);
  }

  async update(c: CommandRecord, expected: CommandStatus): Promise<boolean> {
    const changed = await this.db.run(`UPDATE ir_commands SET status = ?, approved_by = ?, updated_at = ?, deliveries = ?, result = ?, error = ?,
      artifact_id = ? WHERE id = ? AND tenant_id = ? AND status = ?`, [
      c.status, c.approvedBy, c.updatedAt, c.deliveries, c.result === null ? null : JSON.stringify(c.result), c.error, c.artifactId,
      c.id, c.tenantId, expected]);
    return changed === 1;
  }

  async forHost(tenantId: string, hostId: string, statuses: readonly CommandStatus[]): Promise<CommandRecord[]> {
    const rows = await this.db.all(`SELECT * FROM ir_commands WHERE tenant_id = ? AND host_id = ? AND status IN (${placeholders(statuses.length)})
      ORDER BY requested_at, id`, [tenantId, hostId, ...statuses]);
    return rows.map(commandOf);
  }

  async expiredBy(now: number, limit: number): Promise<CommandRecord[]> {
    const rows = await this.db.all(`SELECT * FROM ir_commands WHERE status IN (${placeholders(OPEN.length)}) AND expires_at <= ?
      ORDER BY expires_at LIMIT ?`, [...OPEN, now, limit]);
    return rows.map(commandOf);
  }

  async insertArtifact(a: ArtifactRecord): Promise<void> {
    await this.db.run(`INSERT INTO ir_artifacts (id, tenant_id, host_id, command_id, name, kind, size, sha256, created_at)
      VALUES (${placeholders(9)})`, [a.id, a.tenantId, a.hostId, a.commandId, a.name, a.kind, a.size, a.sha256, a.createdAt]);
  }

  async getArtifact(tenantId: string, id: string): Promise<ArtifactRecord | undefined> {
    const [r] = await this.db.all('SELECT * FROM ir_artifacts WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r && artifactOf(r);
  }
}

export const openSqliteCommandStore = (path: string) => new SqlCommandStore(openSqliteDb(path));
export const openPostgresCommandStore = (config: pg.PoolConfig) => new SqlCommandStore(openPostgresDb(config));
