// The SQL engine interface under the event store: run ClickHouse SQL with bound parameters, and insert
// JSONEachRow bytes. Implemented by the in-process engine (chdb) and a ClickHouse server over HTTP.

/**
 * Settings of every JSONEachRow insert, on either engine: timestamps as ISO 8601 text (any offset), fields
 * the table lacks ignored, and a JSON object given for a String column stored as its JSON text (so a row
 * carries its raw event as an object, serialised once with the row).
 */
export const JSON_EACH_ROW_INSERT_SETTINGS = {
  date_time_input_format: 'best_effort', input_format_skip_unknown_fields: 1, input_format_json_read_objects_as_strings: 1,
} as const;

export type SqlParams = Record<string, string | number | boolean | string[] | null>;

/**
 * Where a query runs. `interactive` (the default): the store's own short reads, DDL and inserts. `hunt`: a
 * caller's long ad-hoc query (POST /hunt), kept apart so it can never hold an interactive read behind it — on
 * chdb its own connections (one query at a time each) and never the process-wide chain of parameterised
 * queries, so a hunt lane query takes no parameters; over HTTP its own connection pool.
 */
export type QueryLane = 'interactive' | 'hunt';

export interface QueryOptions {
  /**
   * The caller stops waiting after this long. Over HTTP the request is aborted (and the server cancels a
   * read-only query then); chdb cannot interrupt a running query, so there the engine's own limits
   * (max_execution_time in the statement) are what stops it.
   */
  timeoutMs?: number;
  lane?: QueryLane;
  /**
   * Called once when the engine is done with the query — which, after a timeout on chdb, is later than when
   * the returned promise rejected. Whoever bounds how many queries run (the hunt gate) releases its slot here.
   */
  onSettled?: () => void;
}

export interface SqlEngine {
  /** Runs a statement with `{name:Type}` parameters; returns the rows (JSONEachRow) of a SELECT. */
  query<T = Record<string, unknown>>(sql: string, params?: SqlParams, opts?: QueryOptions): Promise<T[]>;
  /** Inserts newline-separated JSON rows (with JSON_EACH_ROW_INSERT_SETTINGS); durable (written to the table's parts) when it resolves. */
  insertJsonEachRow(table: string, rows: Buffer): Promise<void>;
  close(): Promise<void>;
}
