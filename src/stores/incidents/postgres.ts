// The incident store on PostgreSQL (the shared SQL layer, ../sql/postgres-db.ts; scale-out: workers group alerts
// here, API processes read and change incidents here), in the alerts' database. Each change is a transaction on one
// pooled connection that locks the incident rows it changes (FOR UPDATE, in id order); grouping also takes a
// transaction advisory lock per tenant and host (hashed, in sorted order), so two workers grouping alerts of one host
// at once are serialised and the second joins the incident the first opened. Migrations run under an advisory lock.

import type pg from 'pg';
import { openPostgresDb } from '../sql/postgres-db.ts';
import { SqlIncidentStore } from './sql-incident-store.ts';

export class PostgresIncidentStore extends SqlIncidentStore {
  constructor(config: pg.PoolConfig) {
    super(openPostgresDb(config, { max: 5 }));
  }
}
