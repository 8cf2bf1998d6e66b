// Test harness over one LedgerStore implementation: a fresh data directory (signing key) and store, raw SQL access
// for tampering (append-only triggers switched off, as an attacker with database access would), and the
// `vigil ledger` arguments that point at it. One harness per test; cleanup() removes everything.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import pg from 'pg';
import type { Ledger } from '../../src/ledger/ledger.ts';
import type { LedgerStore } from '../../src/ledger/store.ts';
import { openLedger, type OpenLedgerOptions } from '../../src/stores/ledger/open.ts';
import { PostgresLedgerStore } from '../../src/stores/ledger/postgres.ts';
import { SqliteLedgerStore } from '../../src/stores/ledger/sqlite.ts';
import { createTempDatabase } from '../support/postgres.ts';

export type RawRow = Record<string, unknown>;

export interface StoreHarness {
  dataDir: string;
  /** Arguments locating this ledger for `vigil ledger …`. */
  cliArgs: string[];
  openStore(): Promise<LedgerStore>;
  openLedger(opts?: Partial<OpenLedgerOptions>): Promise<Ledger>;
  /** Runs SQL with `?` placeholders on the raw database, bypassing the store. */
  sql(query: string, params?: unknown[]): Promise<RawRow[]>;
  /** The column names of a table, in their order. */
  columns(table: string): Promise<string[]>;
  /** Drops the append-only guards, as an attacker with database access would. */
  disableAppendOnly(): Promise<void>;
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<StoreHarness>;

/** Closes what a test opened (idempotent closers), before the harness removes the database under it. */
class Closers {
  private readonly list: (() => Promise<void>)[] = [];

  track<T extends { close(): Promise<void> }>(opened: T): T {
    this.list.push(() => opened.close().catch(() => undefined));
    return opened;
  }

  async closeAll(): Promise<void> {
    for (const close of this.list.reverse()) await close();
  }
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'vigil-ledger-test-'));
}

export const sqliteHarness: HarnessFactory = async () => {
  const dataDir = tempDir();
  const dbPath = join(dataDir, 'ledger.db');
  const opened = new Closers();
  let raw: DatabaseSync | undefined;
  const db = (): DatabaseSync => (raw ??= new DatabaseSync(dbPath));
  return {
    dataDir,
    cliArgs: ['--data-dir', dataDir],
    openStore: async () => opened.track(new SqliteLedgerStore(dbPath)),
    openLedger: async (opts = {}) => opened.track(await openLedger({ dataDir, ...opts })),
    sql: async (query, params = []) => {
      const stmt = db().prepare(query);
      return /^\s*select/i.test(query) ? stmt.all(...(params as SQLInputValue[])) : (stmt.run(...(params as SQLInputValue[])), []);
    },
    columns: async (table) => (db().prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').all(table) as { name: string }[]).map((r) => r.name),
    disableAppendOnly: async () => {
      for (const t of ['entries_no_update', 'entries_no_delete', 'checkpoints_no_update', 'checkpoints_no_delete']) {
        db().exec(`DROP TRIGGER IF EXISTS ledger_${t}`);
      }
    },
    cleanup: async () => {
      await opened.closeAll();
      raw?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};

export const postgresHarness: HarnessFactory = async () => {
  const dataDir = tempDir();
  const database = await createTempDatabase('ledger');
  const pool = new pg.Pool(database.config);
  const opened = new Closers();
  const toDollar = (q: string): string => {
    let n = 0;
    return q.replace(/\?/g, () => `$${++n}`);
  };
  return {
    dataDir,
    cliArgs: ['--data-dir', dataDir, '--postgres', database.url],
    openStore: async () => opened.track(await PostgresLedgerStore.connect(database.config)),
    openLedger: async (opts = {}) => opened.track(await openLedger({ dataDir, postgres: database.config, ...opts })),
    sql: async (query, params = []) => (await pool.query(toDollar(query), params)).rows as RawRow[],
    columns: async (table) => (await pool.query<{ name: string }>(
      'SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [table])).rows.map((r) => r.name),
    disableAppendOnly: async () => {
      await pool.query('ALTER TABLE ledger_entries DISABLE TRIGGER USER; ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER');
    },
    cleanup: async () => {
      await opened.closeAll();
      await pool.end();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
