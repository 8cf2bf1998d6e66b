// The metadata store on PostgreSQL (the shared SQL layer, ../sql/postgres-db.ts; scale-out), through a `pg`
// connection pool shared by the process's requests.

import type pg from 'pg';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { SqlMetadataStore } from './sql-metadata-store.ts';

export interface PostgresMetadataOptions extends pg.PoolConfig {
  /** Most pooled connections (default 10). */
  max?: number;
}

export class PostgresMetadataStore extends SqlMetadataStore {
  constructor(o: PostgresMetadataOptions) {
    super(openPostgresDb(o, { max: 10 }));
  }
}
