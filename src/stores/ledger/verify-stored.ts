// Verification of a stored ledger, read-only: what `vigil ledger verify` and POST /ledger/verify run. Opens the
// existing store (SQLite at <data-dir>/ledger.db or PostgreSQL), re-hashes every row and checks the log against its
// signed checkpoints and exported ones, with the verifier key (and the signing key when present: it unlocks the
// row-seal check).

import { existsSync } from 'node:fs';
import { verifierOf, type LedgerKey } from '../../ledger/ledger.ts';
import type { NoteVerifier } from '../../ledger/note.ts';
import type { LedgerStore, StoredRow } from '../../ledger/store.ts';
import { verifyLedger, type VerifyReport } from '../../ledger/verify.ts';
import { loadLedgerKey, readVerifier, type LedgerPaths } from './key-file.ts';
import { PostgresLedgerStore } from './postgres.ts';
import { SqliteLedgerStore } from './sqlite.ts';

const PAGE = 10000;

/** Where the ledger is: its key files, and PostgreSQL when configured (else <data-dir>/ledger.db). */
export interface Location {
  dataDir: string;
  keyFile?: string;
  paths: LedgerPaths;
  postgres?: string;
}

/** Opens the existing store read-only: verification and listing never modify it. */
export async function openExistingStore(at: Location): Promise<LedgerStore> {
  if (at.postgres) return PostgresLedgerStore.connect({ connectionString: at.postgres }, { readOnly: true });
  if (!existsSync(at.paths.db)) throw new Error(`no ledger database at ${at.paths.db}`);
  return new SqliteLedgerStore(at.paths.db, { readOnly: true });
}

async function* allRows(store: LedgerStore): AsyncIterable<StoredRow> {
  for (let from = 0; ;) {
    const rows = await store.rows({ from, limit: PAGE });
    if (rows.length === 0) return;
    yield* rows;
    from = rows[rows.length - 1].index + 1;
  }
}

/** The verifier key, and the signing key when present (it unlocks the row-seal check). */
function keys(paths: LedgerPaths): { verifier: NoteVerifier; key?: LedgerKey } {
  if (existsSync(paths.key)) {
    const key = loadLedgerKey(paths);
    return { verifier: verifierOf(key), key };
  }
  if (existsSync(paths.pub)) return { verifier: readVerifier(paths.pub) };
  throw new Error(`neither a signing key (${paths.key}) nor a verifier key (${paths.pub}) exists`);
}

/** Re-hashes the stored ledger at `at` (read-only) and checks it against its checkpoints and exported notes. */
export async function verifyStoredLedger(at: Location, external: string[] = []): Promise<VerifyReport> {
  const { verifier, key } = keys(at.paths);
  const store = await openExistingStore(at);
  try {
    return await verifyLedger({ rows: allRows(store), checkpoints: await store.checkpoints(), verifier, sealKey: key?.seal, external });
  } finally {
    await store.close();
  }
}
