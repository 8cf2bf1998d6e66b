// The IdentityStore written once in portable SQL (`?` placeholders, BIGINT epoch-ms times, INTEGER booleans), over
// the shared SQL layer (../sql/: SQLite embedded, PostgreSQL at scale; openers in sqlite.ts and postgres.ts). Atomic
// operations (failed-login counter, TOTP step, refresh-token use, revocations) are single conditional statements, so
// they are race-free on both engines without transactions. The schema is migration 1 in identity_schema_migrations
// (its statements say IF NOT EXISTS: stores made before the version table have the tables already). Parameterised
// queries only.

import type { KeysetPage } from '../../util/keyset.ts';
import {
  IdentityConflictError,
  type ApiKeyOrder, type ApiKeyRecord, type IdentityStore, type RefreshFamilyRecord, type RefreshTokenRecord, type UserPatch,
  type UserRecord,
} from '../../identity/store.ts';
import type { SqlDb, SqlRow, SqlValue } from '../sql/sql-db.ts';

type SqlParam = SqlValue;

const MIGRATIONS_TABLE = 'identity_schema_migrations';
const MIGRATION_LOCK = 0x7669646e; // 'vidn': the advisory lock key of identity migrations

export const IDENTITY_SCHEMA = `
CREATE TABLE IF NOT EXISTS identity_users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  totp_secret TEXT,
  totp_last_step BIGINT,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (tenant_id, email)
);
CREATE TABLE IF NOT EXISTS identity_refresh_families (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS identity_refresh_families_user ON identity_refresh_families (tenant_id, user_id);
CREATE TABLE IF NOT EXISTS identity_refresh_tokens (
  id TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX IF NOT EXISTS identity_refresh_tokens_expiry ON identity_refresh_tokens (expires_at);
CREATE TABLE IF NOT EXISTS identity_revoked_jti (
  jti TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  last_used_at BIGINT
);
CREATE INDEX IF NOT EXISTS identity_api_keys_tenant ON identity_api_keys (tenant_id);
`;

/** UserPatch field → column. Only these columns can be updated. */
const USER_COLUMNS: Record<keyof UserPatch, string> = {
  passwordHash: 'password_hash', role: 'role', totpSecret: 'totp_secret', totpLastStep: 'totp_last_step',
  failedLogins: 'failed_logins', lockedUntil: 'locked_until', disabled: 'disabled', updatedAt: 'updated_at',
};

const num = (v: unknown): number => Number(v);
const optNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const optText = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const param = (v: string | number | boolean | null): SqlParam => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
const limitClause = (page: KeysetPage<unknown> | undefined): string => (page ? 'LIMIT ?' : '');
const limitParams = (page: KeysetPage<unknown> | undefined): SqlParam[] => (page ? [page.limit] : []);

function userFromRow(r: SqlRow): UserRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), email: String(r.email), passwordHash: String(r.password_hash),
    role: String(r.role), totpSecret: optText(r.totp_secret), totpLastStep: optNum(r.totp_last_step),
    failedLogins: num(r.failed_logins), lockedUntil: optNum(r.locked_until), disabled: num(r.disabled) === 1,
    createdAt: num(r.created_at), updatedAt: num(r.updated_at),
  };
}

function familyFromRow(r: SqlRow): RefreshFamilyRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), userId: String(r.user_id), createdAt: num(r.created_at),
    revokedAt: optNum(r.revoked_at), revokedReason: optText(r.revoked_reason),
  };
}

function tokenFromRow(r: SqlRow): RefreshTokenRecord {
  return {
    id: String(r.id), familyId: String(r.family_id), tokenHash: String(r.token_hash), issuedAt: num(r.issued_at),
    expiresAt: num(r.expires_at), usedAt: optNum(r.used_at),
  };
}

function apiKeyFromRow(r: SqlRow): ApiKeyRecord {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), name: String(r.name), role: String(r.role),
    keyHash: String(r.key_hash), createdBy: String(r.created_by), createdAt: num(r.created_at),
    expiresAt: optNum(r.expires_at), revokedAt: optNum(r.revoked_at), lastUsedAt: optNum(r.last_used_at),
  };
}

export class SqlIdentityStore implements IdentityStore {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: MIGRATIONS_TABLE, lockKey: MIGRATION_LOCK, migrations: [[IDENTITY_SCHEMA]] });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Inserts, turning a unique-key violation into an IdentityConflictError. */
  private async insert(sql: string, params: SqlParam[], what: string): Promise<void> {
    try {
      await this.db.run(sql, params);
    } catch (err) {
      if (this.db.isUniqueViolation(err)) throw new IdentityConflictError(`${what} already exists`);
      throw err;
    }
  }

  private async one<T>(sql: string, params: SqlParam[], map: (r: SqlRow) => T): Promise<T | undefined> {
    const [row] = await this.db.all(sql, params);
    return row ? map(row) : undefined;
  }

  createUser(u: UserRecord): Promise<void> {
    return this.insert(
      `INSERT INTO identity_users (id, tenant_id, email, password_hash, role, totp_secret, totp_last_step,
         failed_logins, locked_until, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [u.id, u.tenantId, u.email, u.passwordHash, u.role, u.totpSecret, u.totpLastStep, u.failedLogins, u.lockedUntil,
        param(u.disabled), u.createdAt, u.updatedAt],
      `a user with e-mail ${u.email} in this tenant (or user id ${u.id})`,
    );
  }

  getUser(tenantId: string, id: string): Promise<UserRecord | undefined> {
    return this.one('SELECT * FROM identity_users WHERE tenant_id = ? AND id = ?', [tenantId, id], userFromRow);
  }

  findUserByEmail(tenantId: string, email: string): Promise<UserRecord | undefined> {
    return this.one('SELECT * FROM identity_users WHERE tenant_id = ? AND email = ?', [tenantId, email], userFromRow);
  }

  async listUsers(tenantId: string, page?: KeysetPage<string>): Promise<UserRecord[]> {
    const after = page?.after === undefined ? { sql: '', params: [] } : { sql: 'AND email > ?', params: [page.after] };
    const rows = await this.db.all(`SELECT * FROM identity_users WHERE tenant_id = ? ${after.sql} ORDER BY email ${limitClause(page)}`,
      [tenantId, ...after.params, ...limitParams(page)]);
    return rows.map(userFromRow);
  }

  async updateUser(tenantId: string, id: string, patch: UserPatch): Promise<boolean> {
    const fields = (Object.keys(patch) as (keyof UserPatch)[]).filter((k) => patch[k] !== undefined && k in USER_COLUMNS);
    if (fields.length === 0) return (await this.getUser(tenantId, id)) !== undefined;
    const set = fields.map((k) => `${USER_COLUMNS[k]} = ?`).join(', ');
    const values = fields.map((k) => param(patch[k] as string | number | boolean | null));
    return (await this.db.run(`UPDATE identity_users SET ${set} WHERE tenant_id = ? AND id = ?`, [...values, tenantId, id])) > 0;
  }

  async deleteUser(tenantId: string, id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM identity_users WHERE tenant_id = ? AND id = ?', [tenantId, id])) > 0;
  }

  async incrementFailedLogins(tenantId: string, id: string, at: number): Promise<number> {
    const rows = await this.db.all(
      `UPDATE identity_users SET failed_logins = failed_logins + 1, updated_at = ? WHERE tenant_id = ? AND id = ?
       RETURNING failed_logins`, [at, tenantId, id]);
    return rows.length === 0 ? 0 : num(rows[0].failed_logins);
  }

  async useTotpStep(tenantId: string, id: string, step: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE identity_users SET totp_last_step = ?
       WHERE tenant_id = ? AND id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)`, [step, tenantId, id, step]);
    return changed > 0;
  }

  createRefreshFamily(f: RefreshFamilyRecord): Promise<void> {
    return this.insert(
      'INSERT INTO identity_refresh_families (id, tenant_id, user_id, created_at, revoked_at, revoked_reason) VALUES (?, ?, ?, ?, ?, ?)',
      [f.id, f.tenantId, f.userId, f.createdAt, f.revokedAt, f.revokedReason], `refresh family ${f.id}`);
  }

  getRefreshFamily(id: string): Promise<RefreshFamilyRecord | undefined> {
    return this.one('SELECT * FROM identity_refresh_families WHERE id = ?', [id], familyFromRow);
  }

  async revokeRefreshFamily(id: string, at: number, reason: string): Promise<boolean> {
    return (await this.db.run(
      'UPDATE identity_refresh_families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL',
      [at, reason, id])) > 0;
  }

  revokeUserRefreshFamilies(tenantId: string, userId: string, at: number, reason: string): Promise<number> {
    return this.db.run(
      `UPDATE identity_refresh_families SET revoked_at = ?, revoked_reason = ?
       WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL`, [at, reason, tenantId, userId]);
  }

  addRefreshToken(t: RefreshTokenRecord): Promise<void> {
    return this.insert(
      'INSERT INTO identity_refresh_tokens (id, family_id, token_hash, issued_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)',
      [t.id, t.familyId, t.tokenHash, t.issuedAt, t.expiresAt, t.usedAt], `refresh token ${t.id}`);
  }

  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.one('SELECT * FROM identity_refresh_tokens WHERE token_hash = ?', [tokenHash], tokenFromRow);
  }

  async markRefreshTokenUsed(id: string, at: number): Promise<boolean> {
    return (await this.db.run('UPDATE identity_refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL', [at, id])) > 0;
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    await this.db.run('INSERT INTO identity_revoked_jti (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING', [jti, expiresAt]);
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return (await this.db.all('SELECT 1 AS revoked FROM identity_revoked_jti WHERE jti = ?', [jti])).length > 0;
  }

  createApiKey(k: ApiKeyRecord): Promise<void> {
    return this.insert(
      `INSERT INTO identity_api_keys (id, tenant_id, name, role, key_hash, created_by, created_at, expires_at,
         revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [k.id, k.tenantId, k.name, k.role, k.keyHash, k.createdBy, k.createdAt, k.expiresAt, k.revokedAt, k.lastUsedAt],
      `API key ${k.id}`);
  }

  getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return this.one('SELECT * FROM identity_api_keys WHERE id = ?', [id], apiKeyFromRow);
  }

  async listApiKeys(tenantId: string, page?: KeysetPage<ApiKeyOrder>): Promise<ApiKeyRecord[]> {
    const after = page?.after === undefined ? { sql: '', params: [] }
      : { sql: 'AND (created_at > ? OR (created_at = ? AND id > ?))', params: [page.after[0], page.after[0], page.after[1]] };
    const rows = await this.db.all(`SELECT * FROM identity_api_keys WHERE tenant_id = ? ${after.sql} ORDER BY created_at, id ${limitClause(page)}`,
      [tenantId, ...after.params, ...limitParams(page)]);
    return rows.map(apiKeyFromRow);
  }

  async revokeApiKey(tenantId: string, id: string, at: number): Promise<boolean> {
    return (await this.db.run(
      'UPDATE identity_api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL', [at, tenantId, id])) > 0;
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    await this.db.run('UPDATE identity_api_keys SET last_used_at = ? WHERE id = ?', [at, id]);
  }

  async purgeExpired(now: number): Promise<number> {
    const jtis = await this.db.run('DELETE FROM identity_revoked_jti WHERE expires_at <= ?', [now]);
    const tokens = await this.db.run('DELETE FROM identity_refresh_tokens WHERE expires_at <= ?', [now]);
    return jtis + tokens;
  }
}
