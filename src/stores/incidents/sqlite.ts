// The incident store on SQLite (node:sqlite), embedded: in detection.db beside the alerts (tables of its own,
// migrations in incident_schema_migrations). One connection; statements run one transaction at a time (a queue),
// each change a BEGIN IMMEDIATE transaction, so grouping and analysts' changes never interleave in this process,
// and another connection to the file (the alert store's) waits for the write lock (busy timeout).

import { DatabaseSync } from 'node:sqlite';
import { resolve } from 'node:path';
import { migrateSqlite } from '../sqlite-migrations.ts';
import { SqlIncidentStore, type IncidentDb, type Querier, type Row, type SqlValue } from './sql.ts';

const queues = new Map<string, Promise<unknown>>();

function sqliteDb(path: string): IncidentDb {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000');
  const q: Querier = {
    async all(sql: string, args: SqlValue[] = []) { return db.prepare(sql).all(...args) as Row[]; },
    async run(sql: string, args: SqlValue[] = []) { return Number(db.prepare(sql).run(...args).changes); },
  };
  // One queue per database file in this process: two handles on one file (a transaction holds the write lock
  // across awaits) must not wait for each other's lock synchronously, which would block the thread they share.
  const key = resolve(path);
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(work);
    const tail = next.catch(() => undefined);
    queues.set(key, tail);
    void tail.then(() => { if (queues.get(key) === tail) queues.delete(key); });
    return next;
  };
  return {
    forUpdate: '',
    collateC: '',
    async migrate(table, migrations) { await serial(async () => migrateSqlite(db, table, migrations)); },
    read: (body) => serial(() => body(q)),
    tx: (body) => serial(async () => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const r = await body(q);
        db.exec('COMMIT');
        return r;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    }),
    async lockHosts() { /* BEGIN IMMEDIATE holds the database's write lock */ },
    async close() { await serial(async () => { if (db.isOpen) db.close(); }); },
  };
}

export class SqliteIncidentStore extends SqlIncidentStore {
  constructor(path: string) {
    super(sqliteDb(path));
  }
}
