// The incident store on PostgreSQL (scale-out: workers group alerts here, API processes read and change
// incidents here), in the alerts' database. Each change is a transaction on one pooled connection that locks the
// incident rows it changes (FOR UPDATE, in id order); grouping also takes a transaction advisory lock per tenant
// and host (hashed, in sorted order), so two workers grouping alerts of one host at once are serialised and the
// second joins the incident the first opened. Migrations run under an advisory lock.

import { createHash } from 'node:crypto';
import type pg from 'pg';
import { inTransaction, migratePostgres, openPool } from '../postgres-migrations.ts';
import { SqlIncidentStore, type IncidentDb, type Querier, type Row, type SqlValue } from './sql.ts';

const MIGRATION_LOCK = 0x76696e63; // 'vinc': the advisory lock key of incident migrations
/** The first key of the two-key advisory locks that serialise grouping per tenant and host. */
const HOST_LOCK_CLASS = 0x76696e68; // 'vinh'

/** `?` → `$1, $2, …` (the store's SQL has no `?` inside literals). */
const numbered = (sql: string) => { let i = 0; return sql.replace(/\?/g, () => `$${++i}`); };

function querier(c: Pick<pg.Pool, 'query'>): Querier {
  return {
    async all(sql: string, args: SqlValue[] = []) { return (await c.query(numbered(sql), args)).rows as Row[]; },
    async run(sql: string, args: SqlValue[] = []) { return (await c.query(numbered(sql), args)).rowCount ?? 0; },
  };
}

function postgresDb(config: pg.PoolConfig): IncidentDb {
  const pool = openPool(config, 5);
  return {
    forUpdate: 'FOR UPDATE',
    collateC: ' COLLATE "C"',
    migrate: (table, migrations) => migratePostgres(pool, table, MIGRATION_LOCK, migrations),
    read: (body) => body(querier(pool)),
    tx: (body) => inTransaction(pool, (client) => body(querier(client))),
    async lockHosts(q, keys) {
      const hashes = [...new Set(keys.map((k) => createHash('sha256').update(k).digest().readInt32BE(0)))].sort((a, b) => a - b);
      for (const h of hashes) await q.all('SELECT pg_advisory_xact_lock(?, ?)', [HOST_LOCK_CLASS, h]);
    },
    close: () => pool.end(),
  };
}

export class PostgresIncidentStore extends SqlIncidentStore {
  constructor(config: pg.PoolConfig) {
    super(postgresDb(config));
  }
}
