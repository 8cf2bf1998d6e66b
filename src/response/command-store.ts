// The port of response commands and their artefacts' records: tenant-scoped reads and compare-and-set status
// changes. Its adapter, one SQL implementation for SQLite and PostgreSQL, is src/stores/response/sql-command-store.ts;
// the conformance suite is test/response/store.test.ts.

import type { ArtifactRecord, CommandRecord, CommandStatus } from './model.ts';

export interface CommandQuery {
  hostId?: string;
  status?: CommandStatus;
  limit: number;
  /** Only commands requested before this time (paging backwards). */
  before?: number;
}

export interface CommandStore {
  migrate(): Promise<void>;
  close(): Promise<void>;
  insert(c: CommandRecord): Promise<void>;
  get(tenantId: string, id: string): Promise<CommandRecord | undefined>;
  list(tenantId: string, q: CommandQuery): Promise<CommandRecord[]>;
  /** Writes `c` if the stored status is still `expected`; false when another writer moved it first. */
  update(c: CommandRecord, expected: CommandStatus): Promise<boolean>;
  /** Commands of a host in one of `statuses`, oldest first. */
  forHost(tenantId: string, hostId: string, statuses: readonly CommandStatus[]): Promise<CommandRecord[]>;
  /** Open commands (not terminal) whose expiry is at or before `now`. */
  expiredBy(now: number, limit: number): Promise<CommandRecord[]>;
  insertArtifact(a: ArtifactRecord): Promise<void>;
  getArtifact(tenantId: string, id: string): Promise<ArtifactRecord | undefined>;
}

