// The identity store on PostgreSQL (the shared SQL layer, ../sql/postgres-db.ts): `openPostgresIdentityStore(config)`.

import type pg from 'pg';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { SqlIdentityStore } from './sql-identity-store.ts';

/** Connects and applies the identity migrations. */
export async function openPostgresIdentityStore(config: pg.PoolConfig): Promise<SqlIdentityStore> {
  const store = new SqlIdentityStore(openPostgresDb(config));
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
