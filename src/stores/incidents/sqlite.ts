// The incident store on SQLite (the shared SQL layer, ../sql/sqlite-db.ts), embedded: in detection.db beside the
// alerts (tables of its own, migrations in incident_schema_migrations). Statements and transactions of the file run
// one at a time in this process, each change a BEGIN IMMEDIATE transaction, so grouping and analysts' changes never
// interleave here, and another connection to the file (the alert store's) waits for the write lock (busy timeout).

import { openSqliteDb } from '../sql/sqlite-db.ts';
import { SqlIncidentStore } from './sql-incident-store.ts';

export class SqliteIncidentStore extends SqlIncidentStore {
  constructor(path: string) {
    super(openSqliteDb(path));
  }
}
