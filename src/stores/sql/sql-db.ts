// SqlDb: the one SQL layer the stores share, on SQLite (node:sqlite, embedded: sqlite-db.ts) and PostgreSQL (`pg`, at
// scale: postgres-db.ts). A store writes its SQL once, in the subset both engines accept, with `?` placeholders (or
// numbered ones, `$1`…; the driver translates once, outside quoted text), and gets rows as objects and changed-row
// counts. Transactions (`tx`) are exclusive on SQLite (BEGIN IMMEDIATE, one at a time per file in a process) and
// READ COMMITTED on PostgreSQL, where a store locks what it changes (`forUpdate`, `lock`: transaction advisory
// locks) and may ask for the transaction to be retried on a serialisation failure or deadlock. Migrations are
// numbered lists of steps, each applied once and recorded in the store's version table (PostgreSQL: under an
// advisory lock, so processes starting together apply each once).

export type SqlValue = string | number | bigint | null;
export type SqlRow = Record<string, unknown>;

/** Statements on one connection, inside or outside a transaction. */
export interface SqlQuerier {
  /** Runs one statement and returns its rows (SELECT, or … RETURNING). */
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** The first row of `all`, or undefined. */
  get(sql: string, params?: readonly SqlValue[]): Promise<SqlRow | undefined>;
  /** Runs one statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs a script of statements without parameters (DDL). */
  exec(script: string): Promise<void>;
}

/** One step of a migration: a script (DDL), or a function for what differs by engine (e.g. a column that may exist). */
export type MigrationStep = string | ((q: SqlQuerier, db: SqlDialect) => Promise<void>);
/** One migration: its steps, applied together and recorded as one version (its index + 1). Never edited once released. */
export type Migration = readonly MigrationStep[];

export interface MigrationPlan {
  /** The version table (`[a-z_]+`), e.g. `schema_migrations`. */
  table: string;
  /** The PostgreSQL advisory lock under which the migrations are applied (ignored on SQLite). */
  lockKey: number;
  migrations: readonly Migration[];
}

export interface TxOptions {
  /**
   * PostgreSQL: how many times to run the body again after a serialisation failure (40001) or deadlock (40P01).
   * Only for bodies whose only effects are on the database (default 0). SQLite's transactions never need it.
   */
  retries?: number;
}

/** What differs between the engines, for SQL that must say it. */
export interface SqlDialect {
  readonly engine: 'sqlite' | 'postgres';
  /** ' FOR UPDATE' where the engine locks rows (PostgreSQL); '' on SQLite (its transactions are exclusive). */
  readonly forUpdate: string;
  /** ' COLLATE "C"' on PostgreSQL, '' on SQLite: text that sorts compares bytewise on both. */
  readonly collateC: string;
}

export interface SqlDb extends SqlQuerier, SqlDialect {
  /** Runs `body` in one transaction; commits its result, rolls back (and rethrows) on error. */
  tx<T>(body: (q: SqlQuerier) => Promise<T>, options?: TxOptions): Promise<T>;
  /**
   * Runs several statements on one connection, outside a transaction: on SQLite no transaction of this process
   * runs in between (a consistent read); on PostgreSQL each statement sees what is committed when it runs.
   */
  read<T>(body: (q: SqlQuerier) => Promise<T>): Promise<T>;
  /**
   * Inside `tx`: takes transaction advisory locks on `keys` (each hashed with `space`, in sorted order, so two
   * writers never wait for each other in a cycle) on PostgreSQL; nothing on SQLite (the transaction holds the write lock).
   */
  lock(q: SqlQuerier, space: number, keys: readonly string[]): Promise<void>;
  /** Applies the migrations of `plan` not yet recorded in its version table. */
  migrate(plan: MigrationPlan): Promise<void>;
  /** True for a unique or primary-key violation. */
  isUniqueViolation(err: unknown): boolean;
  /** Closes the connection (pool); again is a no-op. */
  close(): Promise<void>;
}

const TABLE = /^[a-z_]+$/;

/** Checks a version table name (it is inlined into SQL). */
export function versionTable(table: string): string {
  if (!TABLE.test(table)) throw new Error(`invalid migrations table name '${table}'`);
  return table;
}
