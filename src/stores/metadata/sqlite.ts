// The metadata store on SQLite (Node's built-in node:sqlite), in WAL mode: the embedded default.

import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS } from './schema.ts';
import type { AgentHealth, ApiKeyRecord, EnrollmentToken, HostRecord, MetadataStore } from './types.ts';

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

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
    const done = new Set(this.db.prepare('SELECT version FROM schema_migrations').all().map((r) => Number(r.version)));
    MIGRATIONS.forEach((statements, i) => {
      if (done.has(i + 1)) return;
      this.db.exec('BEGIN');
      try {
        for (const sql of statements) this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(i + 1);
        this.db.exec('COMMIT');
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async ensureTenant(id: string, name: string): Promise<void> {
    this.db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(id, name, Date.now());
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

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    this.db.prepare(`INSERT INTO api_keys (id, tenant_id, name, role, key_hash, created_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(k.id, k.tenantId, k.name, k.role, k.keyHash, k.createdAt, k.revoked ? 1 : 0);
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash);
    return row ? apiKeyFromRow(row) : undefined;
  }
}
