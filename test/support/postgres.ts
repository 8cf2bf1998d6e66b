// Test helper: a uniquely named, throw-away PostgreSQL database on the CI server (127.0.0.1:5432, user postgres),
// dropped when the test is done. `pool.end()` resolves before its sockets have closed, and terminating a
// closing client makes it emit an error into whatever test runs next, so the drop first waits for the
// database's sessions to go (FORCE only as a last resort).

import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN: pg.ClientConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

export interface TempDatabase {
  config: pg.PoolConfig;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(ADMIN);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const SESSION_WAIT_MS = 3000;

async function dropWhenIdle(client: pg.Client, name: string): Promise<void> {
  const deadline = Date.now() + SESSION_WAIT_MS;
  while (Date.now() < deadline) {
    const r = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
    if (r.rows[0].n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Creates `vigil_test_<prefix>_<random>`; the name is generated, never caller text, so it is safe to inline. */
export async function createTempDatabase(prefix: string): Promise<TempDatabase> {
  const name = `vigil_test_${prefix.replace(/[^a-z0-9_]/g, '')}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const config = { ...ADMIN, database: name };
  return {
    config,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => admin((c) => dropWhenIdle(c, name)),
  };
}
