// The SQL engine interface under the event store: run ClickHouse SQL with bound parameters, and insert
// JSONEachRow bytes. Implemented by the in-process engine (chdb) and a ClickHouse server over HTTP.

export type SqlParams = Record<string, string | number | boolean | string[] | null>;

export interface SqlEngine {
  /** Runs a statement with `{name:Type}` parameters; returns the rows (JSONEachRow) of a SELECT. */
  query<T = Record<string, unknown>>(sql: string, params?: SqlParams, opts?: { timeoutMs?: number }): Promise<T[]>;
  /** Inserts newline-separated JSON rows; durable (written to the table's parts) when it resolves. */
  insertJsonEachRow(table: string, rows: Buffer): Promise<void>;
  close(): Promise<void>;
}
