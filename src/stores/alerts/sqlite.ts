// The alert store on SQLite (the shared SQL layer, ../sql/sqlite-db.ts: node:sqlite, WAL): the embedded server's.
// The store itself is written once (sql-alert-store.ts); its schema is schema.ts.

import { openSqliteDb } from '../sql/sqlite-db.ts';
import { SqlAlertStore } from './sql-alert-store.ts';

export { decodeCursor, encodeCursor } from './sql-alert-store.ts';

export class SqliteAlertStore extends SqlAlertStore {
  constructor(path: string) {
    super(openSqliteDb(path));
  }
}
