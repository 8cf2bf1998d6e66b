// LedgerStore conformance and tamper detection for the SQLite store.
import { ledgerStoreConformance } from './store-conformance.ts';
import { sqliteHarness } from './harness.ts';

ledgerStoreConformance('sqlite', sqliteHarness);
