// IdentityStore conformance on SQLite (a fresh file per test).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteIdentityStore } from '../../src/stores/identity/sqlite.ts';
import { identityStoreConformance } from './store-conformance.ts';

identityStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-identity-'));
  const store = await openSqliteIdentityStore(join(dir, 'identity.db'));
  return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});
