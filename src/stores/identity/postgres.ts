// PostgreSQL driver of the identity store (`pg` pool): `openPostgresIdentityStore(config)`.

import pg from 'pg';
import { SqlIdentityStore, type SqlDriver, type SqlParam, type SqlRow } from './sql.ts';

/** `?` placeholders → `$1, $2, …` (the portable SQL never contains a literal '?'). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PostgresDriver implements SqlDriver {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(config: pg.PoolConfig) {
    this.pool = new pg.Pool(config);
  }

  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }

  async all(sql: string, params: SqlParam[]): Promise<SqlRow[]> {
    return (await this.pool.query(numbered(sql), params)).rows as SqlRow[];
  }

  async run(sql: string, params: SqlParam[]): Promise<number> {
    return (await this.pool.query(numbered(sql), params)).rowCount ?? 0;
  }

  isUniqueViolation(err: unknown): boolean {
    return (err as { code?: unknown }).code === '23505';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Connects and creates the identity tables if needed. */
export async function openPostgresIdentityStore(config: pg.PoolConfig): Promise<SqlIdentityStore> {
  const store = new SqlIdentityStore(new PostgresDriver(config));
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
