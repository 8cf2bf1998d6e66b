// The metadata store written once, in the SQL SQLite and PostgreSQL both accept (`?` placeholders), over the shared
// SQL layer (../sql/; the stores on each engine are sqlite.ts and postgres.ts). Schema: the migrations of schema.ts,
// recorded in schema_migrations (PostgreSQL: under an advisory lock, so processes starting together apply each once).
// Names sort bytewise on both engines (COLLATE "C" on PostgreSQL). Token consumption is one conditional UPDATE, so
// concurrent enrolments (across processes too) never count a use beyond max_uses. Parameterised queries only.

import type { KeysetPage } from '../../util/keyset.ts';
import type { SqlDb, SqlRow, SqlValue } from '../sql/sql-db.ts';
import { MIGRATIONS } from './schema.ts';
import type { AgentHealth, EnrollmentToken, HostRecord, MetadataStore, PolicyAck, PolicyRecord, TenantRecord } from './types.ts';

const MIGRATION_LOCK = 0x76696769; // 'vigi': the advisory lock key of metadata migrations

function hostFromRow(r: SqlRow): HostRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), hostname: String(r.hostname), os: String(r.os),
    kernel: String(r.kernel), agentVersion: String(r.agent_version), certSerial: String(r.cert_serial),
    certNotAfter: Number(r.cert_not_after), revoked: Number(r.revoked) === 1, enrolledAt: Number(r.enrolled_at),
    lastSeen: r.last_seen == null ? null : Number(r.last_seen), health: JSON.parse(String(r.health)) as AgentHealth,
  };
}

function tokenFromRow(r: SqlRow): EnrollmentToken {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), tokenHash: String(r.token_hash), createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at), maxUses: r.max_uses == null ? null : Number(r.max_uses), uses: Number(r.uses),
    revoked: Number(r.revoked) === 1,
  };
}

function policyFromRow(r: SqlRow): PolicyRecord {
  return {
    tenantId: String(r.tenant_id), name: String(r.name), version: Number(r.version), document: String(r.document),
    updatedBy: String(r.updated_by), updatedAt: Number(r.updated_at),
  };
}

/** `LIMIT ?` and its value when paged. */
const limit = (page: KeysetPage<unknown> | undefined): { sql: string; params: SqlValue[] } =>
  (page ? { sql: 'LIMIT ?', params: [page.limit] } : { sql: '', params: [] });

export class SqlMetadataStore implements MetadataStore {
  protected readonly db: SqlDb;
  /** ' COLLATE "C"' on PostgreSQL: names sort bytewise, as on SQLite. */
  private readonly c: string;

  constructor(db: SqlDb) {
    this.db = db;
    this.c = db.collateC;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: 'schema_migrations', lockKey: MIGRATION_LOCK, migrations: MIGRATIONS });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async ensureTenant(id: string, name: string): Promise<void> {
    await this.db.run('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING', [id, name, Date.now()]);
  }

  async createTenant(id: string, name: string, at: number): Promise<boolean> {
    return (await this.db.run('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING', [id, name, at])) === 1;
  }

  async listTenants(page?: KeysetPage<string>): Promise<TenantRecord[]> {
    const after = page?.after === undefined ? { sql: '', params: [] } : { sql: `WHERE id${this.c} > ?`, params: [page.after] };
    const l = limit(page);
    const rows = await this.db.all(`SELECT * FROM tenants ${after.sql} ORDER BY id${this.c} ${l.sql}`, [...after.params, ...l.params]);
    return rows.map((t) => ({ id: String(t.id), name: String(t.name), createdAt: Number(t.created_at) }));
  }

  async createEnrollmentToken(t: EnrollmentToken): Promise<void> {
    await this.db.run(`INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at, max_uses, uses, revoked)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [t.id, t.tenantId, t.tokenHash, t.createdAt, t.expiresAt, t.maxUses, t.uses, t.revoked ? 1 : 0]);
  }

  async consumeEnrollmentToken(tokenHash: string, now: number): Promise<EnrollmentToken | { refused: string }> {
    const used = await this.db.get(`UPDATE enrollment_tokens SET uses = uses + 1
      WHERE token_hash = ? AND revoked = 0 AND expires_at > ? AND (max_uses IS NULL OR uses < max_uses)
      RETURNING *`, [tokenHash, now]);
    if (used) return tokenFromRow(used);
    const row = await this.db.get('SELECT * FROM enrollment_tokens WHERE token_hash = ?', [tokenHash]);
    if (!row) return { refused: 'unknown enrolment token' };
    const t = tokenFromRow(row);
    if (t.revoked) return { refused: 'enrolment token revoked' };
    if (t.expiresAt <= now) return { refused: 'enrolment token expired' };
    return { refused: 'enrolment token used up' };
  }

  async listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]> {
    return (await this.db.all(`SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at, id${this.c}`, [tenantId])).map(tokenFromRow);
  }

  async revokeEnrollmentToken(tenantId: string, id: string): Promise<boolean> {
    return (await this.db.run('UPDATE enrollment_tokens SET revoked = 1 WHERE tenant_id = ? AND id = ?', [tenantId, id])) === 1;
  }

  async upsertHost(h: Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'>): Promise<void> {
    await this.db.run(`INSERT INTO hosts (id, tenant_id, hostname, os, kernel, agent_version, cert_serial, cert_not_after, enrolled_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, kernel = excluded.kernel,
        agent_version = excluded.agent_version, cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after`,
    [h.id, h.tenantId, h.hostname, h.os, h.kernel, h.agentVersion, h.certSerial, h.certNotAfter, h.enrolledAt]);
  }

  async getHost(tenantId: string, id: string): Promise<HostRecord | undefined> {
    const row = await this.db.get('SELECT * FROM hosts WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return row ? hostFromRow(row) : undefined;
  }

  async getAgent(id: string): Promise<HostRecord | undefined> {
    const row = await this.db.get('SELECT * FROM hosts WHERE id = ?', [id]);
    return row ? hostFromRow(row) : undefined;
  }

  async listHosts(tenantId: string): Promise<HostRecord[]> {
    return (await this.db.all(`SELECT * FROM hosts WHERE tenant_id = ? ORDER BY hostname${this.c}, id${this.c}`, [tenantId])).map(hostFromRow);
  }

  async recordHeartbeat(id: string, at: number, health: AgentHealth): Promise<void> {
    await this.db.run('UPDATE hosts SET last_seen = ?, health = ? WHERE id = ?', [at, JSON.stringify(health), id]);
  }

  async revokeAgent(tenantId: string, id: string): Promise<boolean> {
    return (await this.db.run('UPDATE hosts SET revoked = 1 WHERE tenant_id = ? AND id = ?', [tenantId, id])) === 1;
  }

  async putPolicy(tenantId: string, name: string, document: string, updatedBy: string, at: number): Promise<PolicyRecord> {
    const row = await this.db.get(`INSERT INTO policies (tenant_id, name, version, document, updated_by, updated_at)
      SELECT ?, ?, COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM policies WHERE tenant_id = ? AND name = ?
      RETURNING *`, [tenantId, name, document, updatedBy, at, tenantId, name]);
    return policyFromRow(row!);
  }

  async getPolicy(tenantId: string, name: string, version?: number): Promise<PolicyRecord | undefined> {
    const row = version === undefined
      ? await this.db.get('SELECT * FROM policies WHERE tenant_id = ? AND name = ? ORDER BY version DESC LIMIT 1', [tenantId, name])
      : await this.db.get('SELECT * FROM policies WHERE tenant_id = ? AND name = ? AND version = ?', [tenantId, name, version]);
    return row ? policyFromRow(row) : undefined;
  }

  async listPolicies(tenantId: string, page?: KeysetPage<string>): Promise<PolicyRecord[]> {
    const after = page?.after === undefined ? { sql: '', params: [] } : { sql: `AND p.name${this.c} > ?`, params: [page.after] };
    const l = limit(page);
    const rows = await this.db.all(`SELECT p.* FROM policies p WHERE p.tenant_id = ? ${after.sql}
      AND p.version = (SELECT MAX(version) FROM policies q WHERE q.tenant_id = p.tenant_id AND q.name = p.name)
      ORDER BY p.name${this.c} ${l.sql}`, [tenantId, ...after.params, ...l.params]);
    return rows.map(policyFromRow);
  }

  async ackPolicy(tenantId: string, hostId: string, name: string, version: number, at: number): Promise<void> {
    await this.db.run(`INSERT INTO policy_acks (tenant_id, host_id, name, version, acked_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (tenant_id, host_id, name) DO UPDATE SET version = excluded.version, acked_at = excluded.acked_at`,
    [tenantId, hostId, name, version, at]);
  }

  async policyAcks(tenantId: string, name: string): Promise<PolicyAck[]> {
    const rows = await this.db.all(`SELECT host_id, version, acked_at FROM policy_acks WHERE tenant_id = ? AND name = ? ORDER BY host_id${this.c}`, [tenantId, name]);
    return rows.map((a) => ({ hostId: String(a.host_id), version: Number(a.version), ackedAt: Number(a.acked_at) }));
  }
}
