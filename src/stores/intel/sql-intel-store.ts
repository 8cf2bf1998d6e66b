// Threat-intelligence lists per tenant over the shared SQL layer (SQLite embedded, PostgreSQL at scale): a list's
// name, format, its source (uploaded content, or a URL polled every `poll_seconds`), the content as last loaded
// (the feed's text, parsed by each matching process), its version (raised at every load: processes that match
// reload a list whose version changed), indicator and rejected counts, last load time and last polling error.
// Parameterised SQL only; a list of another tenant is "not found".

import { randomUUID } from 'node:crypto';
import type { SqlDb, SqlRow } from '../sql/sql-db.ts';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { openSqliteDb } from '../sql/sqlite-db.ts';
import type pg from 'pg';

const MIGRATION_LOCK = 0x696e746c; // 'intl'

const SCHEMA = `CREATE TABLE IF NOT EXISTS intel_lists (
  tenant_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL, url TEXT, poll_seconds INTEGER,
  default_confidence INTEGER NOT NULL, content TEXT NOT NULL, version INTEGER NOT NULL, indicators INTEGER NOT NULL,
  rejected INTEGER NOT NULL, last_load_at BIGINT, last_error TEXT, next_poll_at BIGINT, created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, name))`;

export type IntelListFormat = 'csv' | 'stix' | 'misp';

export interface IntelListRecord {
  tenantId: string;
  id: string;
  name: string;
  format: IntelListFormat;
  url: string | null;
  pollSeconds: number | null;
  defaultConfidence: number;
  version: number;
  indicators: number;
  rejected: number;
  lastLoadAt: number | null;
  lastError: string | null;
  nextPollAt: number | null;
  createdBy: string;
  createdAt: number;
}

export interface NewIntelList {
  tenantId: string;
  name: string;
  format: IntelListFormat;
  url: string | null;
  pollSeconds: number | null;
  defaultConfidence: number;
  createdBy: string;
  /** Uploaded lists: their content and counts, loaded now. URL lists: polled first at once. */
  loaded?: LoadedContent;
}

export interface LoadedContent { content: string; indicators: number; rejected: number; at: number }

/** A list name already taken in the tenant. */
export class IntelListExistsError extends Error {
  override name = 'IntelListExistsError';
}

const COLUMNS = `tenant_id, id, name, format, url, poll_seconds, default_confidence, version, indicators, rejected, last_load_at,
  last_error, next_poll_at, created_by, created_at`;

const num = (v: unknown): number | null => (v == null ? null : Number(v));

function fromRow(r: SqlRow): IntelListRecord {
  return {
    tenantId: String(r.tenant_id), id: String(r.id), name: String(r.name), format: String(r.format) as IntelListFormat,
    url: r.url == null ? null : String(r.url), pollSeconds: num(r.poll_seconds), defaultConfidence: Number(r.default_confidence),
    version: Number(r.version), indicators: Number(r.indicators), rejected: Number(r.rejected), lastLoadAt: num(r.last_load_at),
    lastError: r.last_error == null ? null : String(r.last_error), nextPollAt: num(r.next_poll_at), createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
  };
}

export class SqlIntelStore {
  private readonly db: SqlDb;

  constructor(db: SqlDb) {
    this.db = db;
  }

  migrate(): Promise<void> {
    return this.db.migrate({ table: 'intel_schema_migrations', lockKey: MIGRATION_LOCK, migrations: [[SCHEMA]] });
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async list(tenantId: string): Promise<IntelListRecord[]> {
    return (await this.db.all(`SELECT ${COLUMNS} FROM intel_lists WHERE tenant_id = ? ORDER BY name${this.db.collateC}`, [tenantId])).map(fromRow);
  }

  async get(tenantId: string, id: string): Promise<IntelListRecord | undefined> {
    const r = await this.db.get(`SELECT ${COLUMNS} FROM intel_lists WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return r && fromRow(r);
  }

  async create(l: NewIntelList, now = Date.now()): Promise<IntelListRecord> {
    const id = randomUUID();
    try {
      await this.db.run(`INSERT INTO intel_lists (${COLUMNS}, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`, [
        l.tenantId, id, l.name, l.format, l.url, l.pollSeconds, l.defaultConfidence, l.loaded ? 1 : 0, l.loaded?.indicators ?? 0,
        l.loaded?.rejected ?? 0, l.loaded?.at ?? null, l.url ? now : null, l.createdBy, now, l.loaded?.content ?? '']);
    } catch (err) {
      if (this.db.isUniqueViolation(err)) throw new IntelListExistsError(`an intel list named '${l.name}' exists`);
      throw err;
    }
    return (await this.get(l.tenantId, id))!;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM intel_lists WHERE tenant_id = ? AND id = ?', [tenantId, id])) > 0;
  }

  /** Every list's version (all tenants): what a matching process compares with what it has loaded. */
  async versions(): Promise<{ tenantId: string; id: string; version: number }[]> {
    return (await this.db.all('SELECT tenant_id, id, version FROM intel_lists')).map((r) => ({ tenantId: String(r.tenant_id), id: String(r.id), version: Number(r.version) }));
  }

  /** The list with its content as last loaded. */
  async withContent(tenantId: string, id: string): Promise<(IntelListRecord & { content: string }) | undefined> {
    const r = await this.db.get(`SELECT ${COLUMNS}, content FROM intel_lists WHERE tenant_id = ? AND id = ?`, [tenantId, id]);
    return r && { ...fromRow(r), content: String(r.content) };
  }

  /** Stores newly loaded content (version + 1), the error cleared and the next poll set; false when the list is gone. */
  async loaded(tenantId: string, id: string, c: LoadedContent, nextPollAt: number | null): Promise<boolean> {
    return (await this.db.run(`UPDATE intel_lists SET content = ?, indicators = ?, rejected = ?, last_load_at = ?, last_error = NULL,
      next_poll_at = ?, version = version + 1 WHERE tenant_id = ? AND id = ?`, [c.content, c.indicators, c.rejected, c.at, nextPollAt, tenantId, id])) > 0;
  }

  /** A failed poll: the error kept (the last content stays loaded), the next poll set. */
  async failed(tenantId: string, id: string, error: string, nextPollAt: number): Promise<void> {
    await this.db.run('UPDATE intel_lists SET last_error = ?, next_poll_at = ? WHERE tenant_id = ? AND id = ?', [error.slice(0, 500), nextPollAt, tenantId, id]);
  }

  /**
   * Claims the URL lists due for polling at `now` (all tenants): each one's next poll is moved to `leaseUntil` first,
   * so another process polling meanwhile skips it.
   */
  async claimDue(now: number, leaseUntil: number): Promise<IntelListRecord[]> {
    const due = (await this.db.all(`SELECT ${COLUMNS} FROM intel_lists WHERE url IS NOT NULL AND next_poll_at <= ?`, [now])).map(fromRow);
    const claimed: IntelListRecord[] = [];
    for (const l of due) {
      const n = await this.db.run('UPDATE intel_lists SET next_poll_at = ? WHERE tenant_id = ? AND id = ? AND next_poll_at = ?', [leaseUntil, l.tenantId, l.id, l.nextPollAt]);
      if (n > 0) claimed.push(l);
    }
    return claimed;
  }
}

export async function openSqliteIntelStore(path: string): Promise<SqlIntelStore> {
  const s = new SqlIntelStore(openSqliteDb(path));
  await s.migrate();
  return s;
}

export async function openPostgresIntelStore(config: pg.PoolConfig): Promise<SqlIntelStore> {
  const s = new SqlIntelStore(openPostgresDb(config, { max: 4 }));
  await s.migrate();
  return s;
}
