// Opening a ledger the way Vigil runs it: SQLite at <data-dir>/ledger.db (embedded) or PostgreSQL (at scale),
// with the signing key from <data-dir>/ledger-key.pem or a configured key file.

import type pg from 'pg';
import { Ledger, type LedgerOptions } from '../../ledger/ledger.ts';
import { ledgerPaths, loadOrCreateLedgerKey } from './key-file.ts';
import { PostgresLedgerStore } from './postgres.ts';
import { SqliteLedgerStore } from './sqlite.ts';
import { mkdirSync } from 'node:fs';

export interface OpenLedgerOptions extends Omit<LedgerOptions, 'store' | 'key'> {
  dataDir: string;
  /** Signing key file (default <dataDir>/ledger-key.pem). */
  keyFile?: string;
  /** Log origin used when the key is created (default derived from the public key). */
  origin?: string;
  /** Store the ledger in PostgreSQL instead of <dataDir>/ledger.db. */
  postgres?: pg.PoolConfig;
}

export async function openLedger(opts: OpenLedgerOptions): Promise<Ledger> {
  mkdirSync(opts.dataDir, { recursive: true });
  const paths = ledgerPaths(opts.dataDir, opts.keyFile);
  const key = loadOrCreateLedgerKey(paths, opts.origin);
  const store = opts.postgres ? await PostgresLedgerStore.connect(opts.postgres) : new SqliteLedgerStore(paths.db);
  try {
    return await Ledger.open({ ...opts, store, key });
  } catch (err) {
    await store.close();
    throw err;
  }
}
