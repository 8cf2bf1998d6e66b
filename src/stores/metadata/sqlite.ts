// The metadata store on SQLite (Node's built-in node:sqlite), in WAL mode: the embedded default.

import { DatabaseSync } from 'node:sqlite';
import { migrateSqlite } from '../sqlite-migrations.ts';
import type { KeysetPage } from '../../util/keyset.ts';
import { MIGRATIONS } from './schema.ts';
import type { AgentHealth, ApiKeyRecord, EnrollmentToken, HostRecord, MetadataStore, PolicyAck, PolicyRecord, TenantRecord } from './types.ts';

type Row = Record<string, unknown>;

function hostFromRow(r: Row): HostRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), hostname: String(r.hostname), os: String(r.os),
    kernel: String(r.kernel), agentVersion: String(r.agent_version), certSerial: String(r.cert_serial),
    certNotAfter: Number(r.cert_not_after), revoked: Number(r.revoked) === 1, enrolledAt: Number(r.enrolled_at),
    lastSeen: r.last_seen == null ? null : Number(r.last_seen), health: JSON.parse(String(r.health)) as AgentHealth,
  };
}

function tokenFromRow(r: Row): EnrollmentToken {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), tokenHash: String(r.token_hash), createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at), maxUses: r.max_uses == null ? null : Number(r.max_uses), uses: Number(r.uses),
    revoked: Number(r.revoked) === 1,
  };
}

function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), name: String(r.name), role: String(r.role),
    keyHash: String(r.key_hash), createdAt: Number(r.created_at), revoked: Number(r.revoked) === 1,
  };
}

function policyFromRow(r: Row): PolicyRecord {
  return {
    tenantId: String(r.tenant_id), name: String(r.name), version: Number(r.version), document: String(r.document),
    updatedBy: String(r.updated_by), updatedAt: Number(r.updated_at),
  };
}

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db, 'schema_migrations', MIGRATIONS);
  }


  async close(): Promise<void> {
    this.db.close();
  }

  async ensureTenant(id: string, name: string): Promise<void> {
    this.db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(id, name, Date.now());
  }

  async createTenant(id: string, name: string, at: number): Promise<boolean> {
    const r = this.db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(id, name, at);
    return Number(r.changes) === 1;
  }

  async listTenants(page?: KeysetPage<string>): Promise<TenantRecord[]> {
    const after = page?.after === undefined ? [] : [page.after];
    return this.db.prepare(`SELECT * FROM tenants ${after.length ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`).all(...after, page?.limit ?? -1)
      .map((r) => ({ id: String(r.id), name: String(r.name), createdAt: Number(r.created_at) }));
  }

  async createEnrollmentToken(t: EnrollmentToken): Promise<void> {
    this.db.prepare(`INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at, max_uses, uses, revoked)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(t.id, t.tenantId, t.tokenHash, t.createdAt, t.expiresAt, t.maxUses, t.uses, t.revoked ? 1 : 0);
  }

  async consumeEnrollmentToken(tokenHash: string, now: number): Promise<EnrollmentToken | { refused: string }> {
    const row = this.db.prepare('SELECT * FROM enrollment_tokens WHERE token_hash = ?').get(tokenHash);
    if (!row) return { refused: 'unknown enrolment token' };
    const t = tokenFromRow(row);
    if (t.revoked) return { refused: 'enrolment token revoked' };
    if (t.expiresAt <= now) return { refused: 'enrolment token expired' };
    const r = this.db.prepare(`UPDATE enrollment_tokens SET uses = uses + 1
      WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)`).run(t.id);
    if (Number(r.changes) !== 1) return { refused: 'enrolment token used up' };
    return { ...t, uses: t.uses + 1 };
  }

  async listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]> {
    return this.db.prepare('SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at, id').all(tenantId).map(tokenFromRow);
  }

  async revokeEnrollmentToken(tenantId: string, id: string): Promise<boolean> {
    return Number(this.db.prepare('UPDATE enrollment_tokens SET revoked = 1 WHERE tenant_id = ? AND id = ?').run(tenantId, id).changes) === 1;
  }

  async upsertHost(h: Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'>): Promise<void> {
    this.db.prepare(`INSERT INTO hosts (id, tenant_id, hostname, os, kernel, agent_version, cert_serial, cert_not_after, enrolled_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, kernel = excluded.kernel,
        agent_version = excluded.agent_version, cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after`)
      .run(h.id, h.tenantId, h.hostname, h.os, h.kernel, h.agentVersion, h.certSerial, h.certNotAfter, h.enrolledAt);
  }

  async getHost(tenantId: string, id: string): Promise<HostRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM hosts WHERE tenant_id = ? AND id = ?').get(tenantId, id);
    return row ? hostFromRow(row) : undefined;
  }

  async getAgent(id: string): Promise<HostRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM hosts WHERE id = ?').get(id);
    return row ? hostFromRow(row) : undefined;
  }

  async listHosts(tenantId: string): Promise<HostRecord[]> {
    return this.db.prepare('SELECT * FROM hosts WHERE tenant_id = ? ORDER BY hostname, id').all(tenantId).map(hostFromRow);
  }

  async recordHeartbeat(id: string, at: number, health: AgentHealth): Promise<void> {
    this.db.prepare('UPDATE hosts SET last_seen = ?, health = ? WHERE id = ?').run(at, JSON.stringify(health), id);
  }

  async revokeAgent(tenantId: string, id: string): Promise<boolean> {
    return Number(this.db.prepare('UPDATE hosts SET revoked = 1 WHERE tenant_id = ? AND id = ?').run(tenantId, id).changes) === 1;
  }

  async putPolicy(tenantId: string, name: string, document: string, updatedBy: string, at: number): Promise<PolicyRecord> {
    const row = this.db.prepare(`INSERT INTO policies (tenant_id, name, version, document, updated_by, updated_at)
      SELECT ?, ?, COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM policies WHERE tenant_id = ? AND name = ?
      RETURNING *`).get(tenantId, name, document, updatedBy, at, tenantId, name);
    return policyFromRow(row!);
  }

  async getPolicy(tenantId: string, name: string, version?: number): Promise<PolicyRecord | undefined> {
    const row = version === undefined
      ? this.db.prepare('SELECT * FROM policies WHERE tenant_id = ? AND name = ? ORDER BY version DESC LIMIT 1').get(tenantId, name)
      : this.db.prepare('SELECT * FROM policies WHERE tenant_id = ? AND name = ? AND version = ?').get(tenantId, name, version);
    return row ? policyFromRow(row) : undefined;
  }

  async listPolicies(tenantId: string, page?: KeysetPage<string>): Promise<PolicyRecord[]> {
    const after = page?.after === undefined ? [] : [page.after];
    return this.db.prepare(`SELECT p.* FROM policies p WHERE p.tenant_id = ? ${after.length ? 'AND p.name > ?' : ''}
      AND p.version = (SELECT MAX(version) FROM policies q WHERE q.tenant_id = p.tenant_id AND q.name = p.name) ORDER BY p.name LIMIT ?`)
      .all(tenantId, ...after, page?.limit ?? -1).map(policyFromRow);
  }

  async ackPolicy(tenantId: string, hostId: string, name: string, version: number, at: number): Promise<void> {
    this.db.prepare(`INSERT INTO policy_acks (tenant_id, host_id, name, version, acked_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (tenant_id, host_id, name) DO UPDATE SET version = excluded.version, acked_at = excluded.acked_at`)
      .run(tenantId, hostId, name, version, at);
  }

  async policyAcks(tenantId: string, name: string): Promise<PolicyAck[]> {
    return this.db.prepare('SELECT host_id, version, acked_at FROM policy_acks WHERE tenant_id = ? AND name = ? ORDER BY host_id').all(tenantId, name)
      .map((r) => ({ hostId: String(r.host_id), version: Number(r.version), ackedAt: Number(r.acked_at) }));
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    this.db.prepare(`INSERT INTO api_keys (id, tenant_id, name, role, key_hash, created_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(k.id, k.tenantId, k.name, k.role, k.keyHash, k.createdAt, k.revoked ? 1 : 0);
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash);
    return row ? apiKeyFromRow(row) : undefined;
  }
}
