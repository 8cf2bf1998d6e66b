// Where each deployment keeps its alert sinks and outbox: embedded, in <data-dir>/metadata.db with the secrets'
// key at <data-dir>/alert-sink.key (sinks of an earlier version's <data-dir>/alert-sinks.db are copied in once,
// their secrets sealed, and that file, which held them in the clear, removed); scale-out, in the shared PostgreSQL database with the key at
// <pki-dir>/alert-sink.key, which every API process must share (like the identity keys next to the PKI).

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { secretBoxAt } from '../../alerts/secret-box.ts';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { openSqliteDb } from '../sql/sqlite-db.ts';
import { SqlAlertSinkStore } from './sql-alert-sinks.ts';

export const SINK_KEY_FILE = 'alert-sink.key';

export async function openEmbeddedAlertSinks(dataDir: string): Promise<SqlAlertSinkStore> {
  const store = await SqlAlertSinkStore.open(openSqliteDb(join(dataDir, 'metadata.db')), secretBoxAt(join(dataDir, SINK_KEY_FILE)));
  const legacy = join(dataDir, 'alert-sinks.db');
  if (existsSync(legacy)) {
    const old = openSqliteDb(legacy);
    try {
      await store.importLegacy(await old.all('SELECT * FROM alert_sinks'));
    } finally {
      await old.close();
    }
    for (const f of [legacy, `${legacy}-wal`, `${legacy}-shm`]) rmSync(f, { force: true }); // it held the secrets in the clear
  }
  return store;
}

export function openPostgresAlertSinks(config: pg.PoolConfig, keyDir: string): Promise<SqlAlertSinkStore> {
  return SqlAlertSinkStore.open(openPostgresDb(config, { max: 5 }), secretBoxAt(join(keyDir, SINK_KEY_FILE)));
}
