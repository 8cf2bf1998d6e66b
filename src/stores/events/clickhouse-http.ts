// SqlEngine on a ClickHouse server over HTTP (`@clickhouse/client`): the scale-out event store. The SQL is
// the ClickHouseEventStore's, byte for byte the same as on the in-process engine. Owns the HTTP-side
// choices: results as JSONEachRow through `default_format` (so DDL and SELECT go through one call), and
// inserts of pre-encoded JSONEachRow bytes with an `insert_deduplication_token` derived from the bytes,
// so a retried batch (same bytes) is dropped by the server instead of stored twice.
//
// Insert settings (constructor `insertSettings`): the defaults parse our timestamps and ignore unknown
// fields. Workers already insert large batches; for many small writers set `async_insert: 1` with
// `wait_for_async_insert: 1` (durable before the insert returns, which the pipeline's ack relies on;
// never `wait_for_async_insert: 0`) and `async_insert_deduplicate: 1` to keep the token's effect.
// Plain MergeTree tables honour tokens only with `non_replicated_deduplication_window` > 0; Replicated
// tables always do (docs/scaling.md). Either way ReplacingMergeTree collapses duplicates at read time.
//
// Lanes: hunts (callers' ad-hoc queries) go through a client of their own with `huntConnections` sockets
// (default 2), so they never take the sockets the store's own reads and inserts need. A hunt's limits are in
// its statement (max_execution_time, …), which the server enforces; `timeoutMs` only stops the client waiting.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { JSON_EACH_ROW_INSERT_SETTINGS, type QueryOptions, type SqlEngine, type SqlParams } from './engine.ts';

export interface ClickHouseHttpOptions {
  url: string; // e.g. http://clickhouse:8123
  username?: string;
  password?: string;
  database?: string;
  requestTimeoutMs?: number; // default 60 s
  maxOpenConnections?: number; // keep-alive sockets to the server; default 10
  huntConnections?: number; // sockets of the hunt lane; default 2
  insertSettings?: ClickHouseSettings;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const DEFAULT_INSERT_SETTINGS: ClickHouseSettings = { ...JSON_EACH_ROW_INSERT_SETTINGS };

/** A token identifying one insert's content: the same bytes into the same table give the same token. */
export function insertDeduplicationToken(table: string, rows: Buffer): string {
  return createHash('sha256').update(table).update('\0').update(rows).digest('hex');
}

export class ClickHouseHttpEngine implements SqlEngine {
  private readonly client: ClickHouseClient;
  private readonly huntClient: ClickHouseClient;
  private readonly insertSettings: ClickHouseSettings;

  constructor(o: ClickHouseHttpOptions) {
    const client = (sockets: number) => createClient({
      url: o.url, username: o.username, password: o.password, database: o.database,
      request_timeout: o.requestTimeoutMs ?? 60_000, max_open_connections: sockets,
      compression: { request: false, response: false },
    });
    this.client = client(o.maxOpenConnections ?? 10);
    this.huntClient = client(Math.max(1, o.huntConnections ?? 2));
    this.insertSettings = { ...DEFAULT_INSERT_SETTINGS, ...o.insertSettings };
  }

  async ping(): Promise<boolean> {
    return (await this.client.ping()).success;
  }

  async query<T>(sql: string, params: SqlParams = {}, opts: QueryOptions = {}): Promise<T[]> {
    const hunt = opts.lane === 'hunt';
    const settings: ClickHouseSettings = { default_format: 'JSONEachRow' };
    // A hunt's statement carries its own limits (and readonly = 1, after which no setting may change).
    if (opts.timeoutMs !== undefined && !hunt) settings.max_execution_time = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
    const signal = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs + (hunt ? 0 : 1000));
    try {
      const { stream } = await (hunt ? this.huntClient : this.client).exec({
        query: sql, query_params: params, clickhouse_settings: settings, abort_signal: signal,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8').trimEnd();
      return text ? text.split('\n').map((line) => JSON.parse(line) as T) : [];
    } catch (err) {
      if (signal?.aborted) throw Object.assign(new Error(`the query did not finish within ${opts.timeoutMs} ms`), { timedOut: true });
      throw err;
    } finally {
      opts.onSettled?.();
    }
  }

  async insertJsonEachRow(table: string, rows: Buffer): Promise<void> {
    if (rows.length === 0) return;
    if (!TABLE_NAME.test(table)) throw new Error(`invalid table name '${table}'`);
    // exec, not insert(): the client's insert() re-encodes JSON rows from objects; these bytes are final.
    const { stream } = await this.client.exec({
      query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: Readable.from([rows], { objectMode: false }),
      clickhouse_settings: { ...this.insertSettings, insert_deduplication_token: insertDeduplicationToken(table, rows) },
    });
    stream.resume();
    await finished(stream);
  }

  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.huntClient.close()]);
  }
}
