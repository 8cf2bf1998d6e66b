// LedgerStore conformance and tamper detection for the PostgreSQL store (a throw-away database per test).
import { ledgerStoreConformance } from './store-conformance.ts';
import { postgresHarness } from './harness.ts';

ledgerStoreConformance('postgres', postgresHarness);
