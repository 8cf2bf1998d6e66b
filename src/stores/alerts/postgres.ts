// The alert store on PostgreSQL (the shared SQL layer, ../sql/postgres-db.ts; scale-out: every worker writes here,
// every API process reads and triages here). The store itself is written once (sql-alert-store.ts); its schema,
// applied under an advisory lock so processes starting together apply each migration once, is schema.ts.

import type pg from 'pg';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { SqlAlertStore } from './sql-alert-store.ts';

export interface PostgresAlertOptions extends pg.PoolConfig {
  /** Most pooled connections (default 5). */
  max?: number;
}

export class PostgresAlertStore extends SqlAlertStore {
  constructor(o: PostgresAlertOptions) {
    super(openPostgresDb(o, { max: 5 }));
  }
}
