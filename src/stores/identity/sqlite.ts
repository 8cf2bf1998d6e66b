// The identity store on SQLite (the shared SQL layer, ../sql/sqlite-db.ts): `openSqliteIdentityStore(path)`.

import { openSqliteDb } from '../sql/sqlite-db.ts';
import { SqlIdentityStore } from './sql-identity-store.ts';

/** Opens (creating if needed) the identity store in the SQLite file at `path` (or ':memory:'). */
export async function openSqliteIdentityStore(path: string): Promise<SqlIdentityStore> {
  const store = new SqlIdentityStore(openSqliteDb(path));
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
