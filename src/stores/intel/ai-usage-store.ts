// AI-service usage over the shared SQL layer (SQLite embedded, PostgreSQL at scale): findings aggregated per
// tenant, host, user, service and executable (first and last seen, connections, resolutions, bytes: one upsert per
// row of a batch), and each tenant's policy (`record`, the default, or `alert`). Parameterised SQL only.

import type pg from 'pg';
import { AI_POLICIES, type AiPolicy, type AiUsageRecord, type AiUsageStore } from '../../intel/ai-usage.ts';
import { openPostgresDb } from '../sql/postgres-db.ts';
import type { SqlDb, SqlRow } from '../sql/sql-db.ts';
import { openSqliteDb } from '../sql/sqlite-db.ts';

const MIGRATION_LOCK = 0x61697573; // 'aius'

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ai_usage (
    tenant_id TEXT NOT NULL, host_id TEXT NOT NULL, user_name TEXT NOT NULL, service_id TEXT NOT NULL, executable TEXT NOT NULL,
    first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, connections BIGINT NOT NULL, resolutions BIGINT NOT NULL, bytes BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, host_id, user_name, service_id, executable))`,
  `CREATE TABLE IF NOT EXISTS ai_usage_policy (tenant_id TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
];

export interface AiPolicyRecord { policy: AiPolicy; updatedBy: string | null; updatedAt: number | null }

/** Most rows a listing returns (the newest first). */
export const MAX_USAGE_ROWS = 5000;

function fromRow(r: SqlRow): AiUsageRecord {
  return {
    tenantId: String(r.tenant_id), hostId: String(r.host_id), userName: String(r.user_name), serviceId: String(r.service_id),
    executable: String(r.executable), firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen), connections: Number(r.connections),
    resolutions: Number(r.resolutions), bytes: Number(r.bytes),
  };
}

export class SqlAiUsageStore implements AiUsageStore {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: 'ai_usage_schema_migrations', lockKey: MIGRATION_LOCK, migrations: [SCHEMA] });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async record(rows: AiUsageRecord[]): Promise<void> {
    for (const r of rows) {
      await this.db.run(`INSERT INTO ai_usage (tenant_id, host_id, user_name, service_id, executable, first_seen, last_seen, connections, resolutions, bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant_id, host_id, user_name, service_id, executable) DO UPDATE SET
          first_seen = CASE WHEN excluded.first_seen < ai_usage.first_seen THEN excluded.first_seen ELSE ai_usage.first_seen END,
          last_seen = CASE WHEN excluded.last_seen > ai_usage.last_seen THEN excluded.last_seen ELSE ai_usage.last_seen END,
          connections = ai_usage.connections + excluded.connections, resolutions = ai_usage.resolutions + excluded.resolutions,
          bytes = ai_usage.bytes + excluded.bytes`,
      [r.tenantId, r.hostId, r.userName, r.serviceId, r.executable, r.firstSeen, r.lastSeen, r.connections, r.resolutions, r.bytes]);
    }
  }

  /** The tenant's usage rows seen since `since` (epoch ms), the most recently seen first. */
  async list(tenantId: string, since: number): Promise<AiUsageRecord[]> {
    return (await this.db.all(`SELECT * FROM ai_usage WHERE tenant_id = ? AND last_seen >= ? ORDER BY last_seen DESC, host_id, user_name, service_id, executable LIMIT ${MAX_USAGE_ROWS}`,
      [tenantId, since])).map(fromRow);
  }

  async policy(tenantId: string): Promise<AiPolicy> {
    return (await this.policyRecord(tenantId)).policy;
  }

  async policyRecord(tenantId: string): Promise<AiPolicyRecord> {
    const r = await this.db.get('SELECT policy, updated_by, updated_at FROM ai_usage_policy WHERE tenant_id = ?', [tenantId]);
    const policy = (AI_POLICIES as readonly string[]).includes(String(r?.policy)) ? String(r!.policy) as AiPolicy : 'record';
    return { policy, updatedBy: r ? String(r.updated_by) : null, updatedAt: r ? Number(r.updated_at) : null };
  }

  async setPolicy(tenantId: string, policy: AiPolicy, actor: string, now = Date.now()): Promise<AiPolicyRecord> {
    await this.db.run(`INSERT INTO ai_usage_policy (tenant_id, policy, updated_by, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_by = excluded.updated_by, updated_at = excluded.updated_at`, [tenantId, policy, actor, now]);
    return { policy, updatedBy: actor, updatedAt: now };
  }
}

export async function openSqliteAiUsageStore(path: string): Promise<SqlAiUsageStore> {
  const s = new SqlAiUsageStore(openSqliteDb(path));
  await s.migrate();
  return s;
}

export async function openPostgresAiUsageStore(config: pg.PoolConfig): Promise<SqlAiUsageStore> {
  const s = new SqlAiUsageStore(openPostgresDb(config, { max: 2 }));
  await s.migrate();
  return s;
}
