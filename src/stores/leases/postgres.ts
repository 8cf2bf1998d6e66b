// Partition leases on PostgreSQL: which worker consumes which host partition of the events stream. A lease
// is (pool, partition) → owner until expires_at; members of a pool announce themselves with a heartbeat row
// of the same lifetime. Every time is the database server's clock (now()), so the workers' clocks never
// matter. A partition is taken only when it is unowned or its lease has expired (UPDATE … FOR UPDATE SKIP
// LOCKED: two workers never take the same one), renewed only by its owner while unexpired, released by its
// owner. Parameterised queries only.

import type pg from 'pg';
import type { PartitionLeases } from '../../bus/partition-leases.ts';
import { inTransaction, openMigratedPool } from '../postgres-migrations.ts';

const MIGRATION_LOCK = 0x6c65_6173; // 'leas'

const MIGRATIONS: string[][] = [[
  `CREATE TABLE partition_leases (pool TEXT NOT NULL, partition INTEGER NOT NULL, owner TEXT, expires_at TIMESTAMPTZ,
    PRIMARY KEY (pool, partition))`,
  'CREATE TABLE partition_members (pool TEXT NOT NULL, member TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (pool, member))',
]];

export class PostgresPartitionLeases implements PartitionLeases {
  private readonly pool: pg.Pool;
  private readonly name: string;
  /** This process's member id in the pool. */
  readonly member: string;
  private readonly leaseMs: number;

  private constructor(pool: pg.Pool, o: { pool: string; member: string; leaseMs: number }) {
    this.pool = pool;
    this.name = o.pool;
    this.member = o.member;
    this.leaseMs = o.leaseMs;
  }

  /** Migrates and makes sure partitions 0..partitions-1 of `pool` have a lease row. */
  static async open(db: pg.PoolConfig, o: { pool: string; member: string; leaseMs: number; partitions: number }): Promise<PostgresPartitionLeases> {
    const store = new PostgresPartitionLeases(await openMigratedPool(db, 2, 'partition_lease_migrations', MIGRATION_LOCK, MIGRATIONS), o);
    try {
      await store.pool.query(`INSERT INTO partition_leases (pool, partition)
        SELECT $1, p FROM generate_series(0, $2::int - 1) AS p ON CONFLICT DO NOTHING`, [o.pool, o.partitions]);
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Renews this member's heartbeat, forgets expired members; the live members, sorted. */
  async heartbeat(): Promise<string[]> {
    return inTransaction(this.pool, async (db) => {
      await db.query(`INSERT INTO partition_members (pool, member, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
        ON CONFLICT (pool, member) DO UPDATE SET expires_at = excluded.expires_at`, [this.name, this.member, this.leaseMs]);
      await db.query('DELETE FROM partition_members WHERE pool = $1 AND expires_at <= now()', [this.name]);
      return (await db.query<{ member: string }>('SELECT member FROM partition_members WHERE pool = $1 ORDER BY member COLLATE "C"', [this.name])).rows.map((r) => r.member);
    });
  }

  /** Extends this member's unexpired leases; the partitions it still holds. */
  async renew(): Promise<number[]> {
    const r = await this.pool.query<{ partition: number }>(`UPDATE partition_leases SET expires_at = now() + $3 * interval '1 millisecond'
      WHERE pool = $1 AND owner = $2 AND expires_at > now() RETURNING partition`, [this.name, this.member, this.leaseMs]);
    return r.rows.map((x) => x.partition).sort((a, b) => a - b);
  }

  /** Takes up to `count` unowned or expired partitions; the ones taken. */
  async take(count: number): Promise<number[]> {
    if (count <= 0) return [];
    const r = await this.pool.query<{ partition: number }>(`UPDATE partition_leases SET owner = $2, expires_at = now() + $3 * interval '1 millisecond'
      WHERE pool = $1 AND partition IN (
        SELECT partition FROM partition_leases WHERE pool = $1 AND (owner IS NULL OR expires_at <= now())
        ORDER BY partition LIMIT $4 FOR UPDATE SKIP LOCKED)
      RETURNING partition`, [this.name, this.member, this.leaseMs, count]);
    return r.rows.map((x) => x.partition).sort((a, b) => a - b);
  }

  /** Gives up this member's leases of `partitions` (after their consumers stopped). */
  async release(partitions: number[]): Promise<void> {
    if (partitions.length === 0) return;
    await this.pool.query('UPDATE partition_leases SET owner = NULL, expires_at = NULL WHERE pool = $1 AND owner = $2 AND partition = ANY($3::int[])',
      [this.name, this.member, partitions]);
  }

  /** Releases every lease of this member and removes its heartbeat (graceful stop). */
  async leave(): Promise<void> {
    await this.pool.query('UPDATE partition_leases SET owner = NULL, expires_at = NULL WHERE pool = $1 AND owner = $2', [this.name, this.member]);
    await this.pool.query('DELETE FROM partition_members WHERE pool = $1 AND member = $2', [this.name, this.member]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
