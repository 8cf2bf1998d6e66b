// SQLite driver of the identity store (node:sqlite `DatabaseSync`, WAL): `openSqliteIdentityStore(path)`.

import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { SqlIdentityStore, type SqlDriver, type SqlParam, type SqlRow } from './sql.ts';

class SqliteDriver implements SqlDriver {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  }

  async exec(script: string): Promise<void> {
    this.db.exec(script);
  }

  async all(sql: string, params: SqlParam[]): Promise<SqlRow[]> {
    return this.db.prepare(sql).all(...(params as SQLInputValue[])) as SqlRow[];
  }

  async run(sql: string, params: SqlParam[]): Promise<number> {
    return Number(this.db.prepare(sql).run(...(params as SQLInputValue[])).changes);
  }

  isUniqueViolation(err: unknown): boolean {
    return err instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(err.message);
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}

/** Opens (creating if needed) the identity store in the SQLite file at `path` (or ':memory:'). */
export async function openSqliteIdentityStore(path: string): Promise<SqlIdentityStore> {
  const store = new SqlIdentityStore(new SqliteDriver(path));
  await store.migrate();
  return store;
}
