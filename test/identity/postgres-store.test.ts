// IdentityStore conformance on PostgreSQL (a throw-away database per test).
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { createTempDatabase } from '../support/postgres.ts';
import { identityStoreConformance } from './store-conformance.ts';

identityStoreConformance('postgres', async () => {
  const db = await createTempDatabase('identity');
  const store = await openPostgresIdentityStore(db.config);
  return { store, cleanup: async () => { await store.close(); await db.drop(); } };
});
