// The SqlDb on PostgreSQL (a `pg` pool whose idle clients may lose their connection without crashing the process):
// `openPostgresDb(config)`. Statements outside a transaction take any pooled connection; a transaction holds one
// (READ COMMITTED), and is run again on a serialisation failure or deadlock when the store asks for it. Advisory
// locks are transaction-scoped; migrations run in one transaction under the store's advisory lock.

import { createHash } from 'node:crypto';
import pg from 'pg';
import { inTransaction } from '../postgres-migrations.ts';
import { numberedPlaceholders } from './placeholders.ts';
import { versionTable, type MigrationPlan, type SqlDb, type SqlQuerier, type SqlRow, type SqlValue, type TxOptions } from './sql-db.ts';

/** SQLSTATEs after which a transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01']);

function querier(c: Pick<pg.Pool, 'query'>): SqlQuerier {
  const all = async (sql: string, params: readonly SqlValue[] = []) => (await c.query(numberedPlaceholders(sql), params as unknown[])).rows as SqlRow[];
  return {
    all,
    async get(sql, params) { return (await all(sql, params))[0]; },
    async run(sql, params = []) { return (await c.query(numberedPlaceholders(sql), params as unknown[])).rowCount ?? 0; },
    async exec(script) { await c.query(script); },
  };
}

/** A 32-bit advisory lock key of `text` (the first four bytes of its SHA-256). */
export function lockKeyOf(text: string): number {
  return createHash('sha256').update(text).digest().readInt32BE(0);
}

export interface PostgresDbOptions {
  /** Most pooled connections, unless `config.max` says (default 10). */
  max?: number;
}

/** A pool on `config`; nothing connects until the first statement. */
export function openPostgresDb(config: pg.PoolConfig, options: PostgresDbOptions = {}): SqlDb {
  const pool = new pg.Pool({ max: options.max ?? 10, ...config });
  pool.on('error', () => { /* an idle client lost its connection: the pool replaces it */ });
  const q = querier(pool);
  let closed: Promise<void> | undefined;

  const once = <T>(body: (q: SqlQuerier) => Promise<T>): Promise<T> => inTransaction(pool, (client) => body(querier(client)));

  const db: SqlDb = {
    engine: 'postgres',
    forUpdate: ' FOR UPDATE',
    collateC: ' COLLATE "C"',
    ...q,
    async tx<T>(body: (q: SqlQuerier) => Promise<T>, o: TxOptions = {}): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        try {
          return await once(body);
        } catch (err) {
          if (attempt >= (o.retries ?? 0) || !RETRYABLE.has(String((err as { code?: unknown }).code))) throw err;
        }
      }
    },
    read: (body) => body(q),
    async lock(t, space, keys) {
      const hashes = [...new Set(keys.map(lockKeyOf))].sort((a, b) => a - b);
      for (const h of hashes) await t.all('SELECT pg_advisory_xact_lock(?, ?)', [space, h]);
    },
    migrate(plan: MigrationPlan) {
      const table = versionTable(plan.table);
      return once(async (t) => {
        await t.all('SELECT pg_advisory_xact_lock(?)', [plan.lockKey]);
        await t.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY)`);
        const done = new Set((await t.all(`SELECT version FROM ${table}`)).map((r) => Number(r.version)));
        for (const [i, steps] of plan.migrations.entries()) {
          if (done.has(i + 1)) continue;
          for (const step of steps) await (typeof step === 'string' ? t.exec(step) : step(t, db));
          await t.run(`INSERT INTO ${table} (version) VALUES (?)`, [i + 1]);
        }
      });
    },
    isUniqueViolation(err) {
      return (err as { code?: unknown } | null)?.code === '23505';
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
  return db;
}
