// Test helper: a uniquely named, throw-away PostgreSQL database on the CI server (127.0.0.1:5432, user postgres),
// dropped (with FORCE, so lingering pool connections do not block it) when the test is done.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN: pg.ClientConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

export interface TempDatabase {
  config: pg.PoolConfig;
  url: string;
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client(ADMIN);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates `vigil_test_<prefix>_<random>`; the name is generated, never caller text, so it is safe to inline. */
export async function createTempDatabase(prefix: string): Promise<TempDatabase> {
  const name = `vigil_test_${prefix.replace(/[^a-z0-9_]/g, '')}_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const config = { ...ADMIN, database: name };
  return {
    config,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
