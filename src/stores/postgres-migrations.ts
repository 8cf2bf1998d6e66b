// Schema migrations and transactions for the PostgreSQL stores of the scale-out roles: numbered lists of
// statements, applied once each under an advisory lock (so processes starting together apply each once) and
// recorded in a per-store table; and a transaction helper that rolls back on any error.

import pg from 'pg';

/** Runs `body` in one transaction on a pooled client; rolls back (and rethrows) on error. */
export async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { /* the connection is gone; the transaction with it */ });
    throw err;
  } finally {
    client.release();
  }
}

/** Applies the migrations not yet recorded in `table`, holding advisory lock `lockKey` while doing so. */
export async function migratePostgres(pool: pg.Pool, table: string, lockKey: number, migrations: string[][]): Promise<void> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid migrations table name '${table}'`);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY)`);
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${table}`)).rows.map((r) => r.version));
    for (const [i, statements] of migrations.entries()) {
      if (done.has(i + 1)) continue;
      for (const sql of statements) await client.query(sql);
      await client.query(`INSERT INTO ${table} (version) VALUES ($1)`, [i + 1]);
    }
  });
}

/** A pool whose idle clients may lose their connection without crashing the process (the pool replaces them). */
export function openPool(o: pg.PoolConfig, max = 5): pg.Pool {
  const pool = new pg.Pool({ max, ...o });
  pool.on('error', () => { /* an idle client lost its connection: the pool replaces it */ });
  return pool;
}

/** A pool (openPool) with `migrations` applied (migratePostgres); ended again if migrating fails. */
export async function openMigratedPool(o: pg.PoolConfig, max: number, table: string, lockKey: number, migrations: string[][]): Promise<pg.Pool> {
  const pool = openPool(o, max);
  try {
    await migratePostgres(pool, table, lockKey, migrations);
    return pool;
  } catch (err) {
    await pool.end();
    throw err;
  }
}
