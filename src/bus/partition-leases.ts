// The port of a worker's partition leases: which worker consumes which host partition of the events stream, with a
// heartbeat per member. Its adapter is PostgreSQL (src/stores/leases/postgres.ts); LeasedPartitionBus uses it.

export interface PartitionLeases {
  /** This process's member id in the pool. */
  readonly member: string;
  /** Renews this member's heartbeat, forgets expired members; the live members, sorted. */
  heartbeat(): Promise<string[]>;
  /** Extends this member's unexpired leases; the partitions it still holds. */
  renew(): Promise<number[]>;
  /** Takes up to `count` unowned or expired partitions; the ones taken. */
  take(count: number): Promise<number[]>;
  /** Gives up this member's leases of `partitions` (after their consumers stopped). */
  release(partitions: number[]): Promise<void>;
  /** Releases every lease of this member and removes its heartbeat (graceful stop). */
  leave(): Promise<void>;
  close(): Promise<void>;
}
