// The metadata store on PostgreSQL (scale-out), through a `pg` connection pool shared by the process's
// requests. Same schema and migration list as the SQLite store (schema.ts is written in the SQL both
// accept); migrations run under an advisory lock, so processes starting together apply each once.
// Parameterised queries only. Token consumption is one conditional UPDATE, so concurrent enrolments
// across processes never count a use beyond max_uses.

import pg from 'pg';
import type { KeysetPage } from '../../util/keyset.ts';
import { MIGRATIONS } from './schema.ts';
import type { AgentHealth, ApiKeyRecord, EnrollmentToken, HostRecord, MetadataStore, PolicyAck, PolicyRecord, TenantRecord } from './types.ts';

const MIGRATION_LOCK = 0x76696769; // 'vigi': the advisory lock key of metadata migrations

interface HostRow {
  id: string; tenant_id: string; hostname: string; os: string; kernel: string; agent_version: string;
  cert_serial: string; cert_not_after: string; revoked: number; enrolled_at: string; last_seen: string | null; health: string;
}
interface TokenRow {
  id: string; tenant_id: string; token_hash: string; created_at: string; expires_at: string;
  max_uses: number | null; uses: number; revoked: number;
}
interface ApiKeyRow {
  id: string; tenant_id: string; name: string; role: string; key_hash: string; created_at: string; revoked: number;
}

interface PolicyRow {
  tenant_id: string; name: string; version: number; document: string; updated_by: string; updated_at: string;
}

function policyFromRow(r: PolicyRow): PolicyRecord {
  return { tenantId: r.tenant_id, name: r.name, version: r.version, document: r.document, updatedBy: r.updated_by, updatedAt: Number(r.updated_at) };
}

function hostFromRow(r: HostRow): HostRecord {
  return {
    id: r.id, tenantId: r.tenant_id, hostname: r.hostname, os: r.os, kernel: r.kernel, agentVersion: r.agent_version,
    certSerial: r.cert_serial, certNotAfter: Number(r.cert_not_after), revoked: r.revoked === 1,
    enrolledAt: Number(r.enrolled_at), lastSeen: r.last_seen === null ? null : Number(r.last_seen),
    health: JSON.parse(r.health) as AgentHealth,
  };
}

function tokenFromRow(r: TokenRow): EnrollmentToken {
  return {
    id: r.id, tenantId: r.tenant_id, tokenHash: r.token_hash, createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at), maxUses: r.max_uses, uses: r.uses, revoked: r.revoked === 1,
  };
}

function apiKeyFromRow(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id, tenantId: r.tenant_id, name: r.name, role: r.role, keyHash: r.key_hash,
    createdAt: Number(r.created_at), revoked: r.revoked === 1,
  };
}

export interface PostgresMetadataOptions extends pg.PoolConfig {
  /** Most pooled connections (default 10). */
  max?: number;
}

export class PostgresMetadataStore implements MetadataStore {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(o: PostgresMetadataOptions) {
    this.pool = new pg.Pool({ max: 10, ...o });
    this.pool.on('error', () => { /* an idle client lost its connection: the pool replaces it */ });
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const [i, statements] of MIGRATIONS.entries()) {
        if (done.has(i + 1)) continue;
        for (const sql of statements) await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async ensureTenant(id: string, name: string): Promise<void> {
    await this.pool.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [id, name, Date.now()]);
  }

  async createTenant(id: string, name: string, at: number): Promise<boolean> {
    const r = await this.pool.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [id, name, at]);
    return r.rowCount === 1;
  }

  async listTenants(page?: KeysetPage<string>): Promise<TenantRecord[]> {
    const r = await this.pool.query<{ id: string; name: string; created_at: string }>(
      'SELECT * FROM tenants WHERE ($1::text IS NULL OR id COLLATE "C" > $1) ORDER BY id COLLATE "C" LIMIT $2', [page?.after ?? null, page?.limit ?? null]);
    return r.rows.map((t) => ({ id: t.id, name: t.name, createdAt: Number(t.created_at) }));
  }

  async createEnrollmentToken(t: EnrollmentToken): Promise<void> {
    await this.pool.query(`INSERT INTO enrollment_tokens (id, tenant_id, token_hash, created_at, expires_at, max_uses, uses, revoked)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [t.id, t.tenantId, t.tokenHash, t.createdAt, t.expiresAt, t.maxUses, t.uses, t.revoked ? 1 : 0]);
  }

  async consumeEnrollmentToken(tokenHash: string, now: number): Promise<EnrollmentToken | { refused: string }> {
    const used = await this.pool.query<TokenRow>(`UPDATE enrollment_tokens SET uses = uses + 1
      WHERE token_hash = $1 AND revoked = 0 AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)
      RETURNING *`, [tokenHash, now]);
    if (used.rows[0]) return tokenFromRow(used.rows[0]);
    const r = await this.pool.query<TokenRow>('SELECT * FROM enrollment_tokens WHERE token_hash = $1', [tokenHash]);
    const t = r.rows[0];
    if (!t) return { refused: 'unknown enrolment token' };
    if (t.revoked === 1) return { refused: 'enrolment token revoked' };
    if (Number(t.expires_at) <= now) return { refused: 'enrolment token expired' };
    return { refused: 'enrolment token used up' };
  }

  async listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]> {
    const r = await this.pool.query<TokenRow>('SELECT * FROM enrollment_tokens WHERE tenant_id = $1 ORDER BY created_at, id COLLATE "C"', [tenantId]);
    return r.rows.map(tokenFromRow);
  }

  async revokeEnrollmentToken(tenantId: string, id: string): Promise<boolean> {
    return (await this.pool.query('UPDATE enrollment_tokens SET revoked = 1 WHERE tenant_id = $1 AND id = $2', [tenantId, id])).rowCount === 1;
  }

  async upsertHost(h: Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'>): Promise<void> {
    await this.pool.query(`INSERT INTO hosts (id, tenant_id, hostname, os, kernel, agent_version, cert_serial, cert_not_after, enrolled_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, kernel = excluded.kernel,
        agent_version = excluded.agent_version, cert_serial = excluded.cert_serial, cert_not_after = excluded.cert_not_after`,
    [h.id, h.tenantId, h.hostname, h.os, h.kernel, h.agentVersion, h.certSerial, h.certNotAfter, h.enrolledAt]);
  }

  async getHost(tenantId: string, id: string): Promise<HostRecord | undefined> {
    const r = await this.pool.query<HostRow>('SELECT * FROM hosts WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return r.rows[0] ? hostFromRow(r.rows[0]) : undefined;
  }

  async getAgent(id: string): Promise<HostRecord | undefined> {
    const r = await this.pool.query<HostRow>('SELECT * FROM hosts WHERE id = $1', [id]);
    return r.rows[0] ? hostFromRow(r.rows[0]) : undefined;
  }

  async listHosts(tenantId: string): Promise<HostRecord[]> {
    const r = await this.pool.query<HostRow>('SELECT * FROM hosts WHERE tenant_id = $1 ORDER BY hostname COLLATE "C", id COLLATE "C"', [tenantId]);
    return r.rows.map(hostFromRow);
  }

  async recordHeartbeat(id: string, at: number, health: AgentHealth): Promise<void> {
    await this.pool.query('UPDATE hosts SET last_seen = $1, health = $2 WHERE id = $3', [at, JSON.stringify(health), id]);
  }

  async revokeAgent(tenantId: string, id: string): Promise<boolean> {
    return (await this.pool.query('UPDATE hosts SET revoked = 1 WHERE tenant_id = $1 AND id = $2', [tenantId, id])).rowCount === 1;
  }

  async putPolicy(tenantId: string, name: string, document: string, updatedBy: string, at: number): Promise<PolicyRecord> {
    const r = await this.pool.query<PolicyRow>(`INSERT INTO policies (tenant_id, name, version, document, updated_by, updated_at)
      SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM policies WHERE tenant_id = $1 AND name = $2
      RETURNING *`, [tenantId, name, document, updatedBy, at]);
    return policyFromRow(r.rows[0]);
  }

  async getPolicy(tenantId: string, name: string, version?: number): Promise<PolicyRecord | undefined> {
    const r = version === undefined
      ? await this.pool.query<PolicyRow>('SELECT * FROM policies WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1', [tenantId, name])
      : await this.pool.query<PolicyRow>('SELECT * FROM policies WHERE tenant_id = $1 AND name = $2 AND version = $3', [tenantId, name, version]);
    return r.rows[0] ? policyFromRow(r.rows[0]) : undefined;
  }

  async listPolicies(tenantId: string, page?: KeysetPage<string>): Promise<PolicyRecord[]> {
    const r = await this.pool.query<PolicyRow>(`SELECT DISTINCT ON (name COLLATE "C") * FROM policies
      WHERE tenant_id = $1 AND ($2::text IS NULL OR name COLLATE "C" > $2)
      ORDER BY name COLLATE "C", version DESC LIMIT $3`, [tenantId, page?.after ?? null, page?.limit ?? null]);
    return r.rows.map(policyFromRow);
  }

  async ackPolicy(tenantId: string, hostId: string, name: string, version: number, at: number): Promise<void> {
    await this.pool.query(`INSERT INTO policy_acks (tenant_id, host_id, name, version, acked_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (tenant_id, host_id, name) DO UPDATE SET version = excluded.version, acked_at = excluded.acked_at`,
    [tenantId, hostId, name, version, at]);
  }

  async policyAcks(tenantId: string, name: string): Promise<PolicyAck[]> {
    const r = await this.pool.query<{ host_id: string; version: number; acked_at: string }>(
      'SELECT host_id, version, acked_at FROM policy_acks WHERE tenant_id = $1 AND name = $2 ORDER BY host_id COLLATE "C"', [tenantId, name]);
    return r.rows.map((a) => ({ hostId: a.host_id, version: a.version, ackedAt: Number(a.acked_at) }));
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await this.pool.query('INSERT INTO api_keys (id, tenant_id, name, role, key_hash, created_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [k.id, k.tenantId, k.name, k.role, k.keyHash, k.createdAt, k.revoked ? 1 : 0]);
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.pool.query<ApiKeyRow>('SELECT * FROM api_keys WHERE key_hash = $1', [keyHash]);
    return r.rows[0] ? apiKeyFromRow(r.rows[0]) : undefined;
  }
}
