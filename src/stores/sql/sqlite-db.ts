// The SqlDb on SQLite (node:sqlite `DatabaseSync`, WAL, foreign keys on, 5 s busy timeout): `openSqliteDb(path)`.
// Every statement and transaction of a database file runs in turn on one queue per file in this process: a
// transaction holds the connection (and the file's write lock) across awaits, so nothing else of this process may
// slip into it, nor wait synchronously for its lock on another handle, which would block the thread they share.
// Another process waits for the write lock (busy timeout).

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { resolve } from 'node:path';
import { sqlitePlaceholders } from './placeholders.ts';
import { versionTable, type MigrationPlan, type SqlDb, type SqlQuerier, type SqlRow, type SqlValue } from './sql-db.ts';

const queues = new Map<string, Promise<unknown>>();
let memories = 0;

/** Compiled statements kept per database: the most distinct SQL texts (a text built with a variable IN list is one each). */
const STATEMENT_CACHE = 512;

function querier(db: DatabaseSync): SqlQuerier {
  // Each SQL text is compiled once and its statement reused: compiling at every call was ≈ 17 % of the embedded
  // server's main thread while the pipeline stored alerts (bench:ingest's sustained phase, --cpu-prof).
  const statements = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sqlitePlaceholders(sql));
      if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value!);
      statements.set(sql, statement);
    }
    return statement;
  };
  const args = (params: readonly SqlValue[]) => params as SQLInputValue[];
  return {
    async all(sql, params = []) { return prepare(sql).all(...args(params)) as SqlRow[]; },
    async get(sql, params = []) { return prepare(sql).get(...args(params)) as SqlRow | undefined; },
    async run(sql, params = []) { return Number(prepare(sql).run(...args(params)).changes); },
    async exec(script) { db.exec(script); },
  };
}

/** Opens (creating if needed) the SQLite database at `path` (or ':memory:'). */
export function openSqliteDb(path: string): SqlDb {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000');
  const q = querier(db);
  const key = path === ':memory:' || path === '' ? `:memory:${++memories}` : resolve(path);
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(work);
    const tail = next.catch(() => undefined);
    queues.set(key, tail);
    void tail.then(() => { if (queues.get(key) === tail) queues.delete(key); });
    return next;
  };
  const inTx = async <T>(body: (q: SqlQuerier) => Promise<T>): Promise<T> => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const r = await body(q);
      db.exec('COMMIT');
      return r;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  };
  const self: SqlDb = {
    engine: 'sqlite',
    forUpdate: '',
    collateC: '',
    all: (sql, params) => serial(() => q.all(sql, params)),
    get: (sql, params) => serial(() => q.get(sql, params)),
    run: (sql, params) => serial(() => q.run(sql, params)),
    exec: (script) => serial(() => q.exec(script)),
    tx: (body) => serial(() => inTx(body)),
    read: (body) => serial(() => body(q)),
    async lock() { /* BEGIN IMMEDIATE holds the database's write lock */ },
    migrate(plan: MigrationPlan) {
      const table = versionTable(plan.table);
      return serial(async () => {
        db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY)`);
        for (const [i, steps] of plan.migrations.entries()) {
          await inTx(async (t) => {
            // Read inside the transaction: another process may have applied it since.
            if (await t.get(`SELECT version FROM ${table} WHERE version = ?`, [i + 1])) return;
            for (const step of steps) await (typeof step === 'string' ? t.exec(step) : step(t, self));
            await t.run(`INSERT INTO ${table} (version) VALUES (?)`, [i + 1]);
          });
        }
      });
    },
    isUniqueViolation(err) {
      return err instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(err.message);
    },
    close: () => serial(async () => { if (db.isOpen) db.close(); }),
  };
  return self;
}
