// The metadata store on SQLite (the shared SQL layer, ../sql/sqlite-db.ts: node:sqlite, WAL): the embedded default.

import { openSqliteDb } from '../sql/sqlite-db.ts';
import { SqlMetadataStore } from './sql-metadata-store.ts';

export class SqliteMetadataStore extends SqlMetadataStore {
  constructor(path: string) {
    super(openSqliteDb(path));
  }
}
