// SqlEngine on chdb, ClickHouse in-process: the embedded event store. One data directory per process
// (a libchdb limit), so one ChdbEngine per process.
//
// How chdb runs queries (chdb 3.x): each Session is a native connection that runs one query at a time on a
// libuv worker thread (a second query on the same connection waits for the first), and every parameterised
// query of the process (`queryBindAsync`, any session) goes through one process-wide chain, one at a time
// (libchdb's parameter state is not isolated per connection). Sessions at the same path share the engine and
// its data and run in parallel. So there are two lanes:
// - interactive: the store's reads (parameterised), DDL and inserts, on the main session;
// - hunt: callers' ad-hoc queries (POST /hunt) on sessions of their own (`huntConnections`, default 2; a hunt
//   waits for a free one), without parameters so never on the process-wide chain. A hunt therefore never
//   holds an interactive read behind it; it only shares the CPU (hunts run with max_threads = 1).
// A native query cannot be interrupted: its statement's own limits (max_execution_time, …) stop it. A hunt
// lane session stays busy until the engine has finished, even when the caller stopped waiting (`timeoutMs`).

import { Session } from 'chdb';
import { JSON_EACH_ROW_INSERT_SETTINGS, type QueryOptions, type SqlEngine, type SqlParams } from './engine.ts';

export interface ChdbEngineOptions {
  /** Sessions of the hunt lane: hunts that run at once on the engine (default 2). */
  huntConnections?: number;
  /** ClickHouse server settings for the engine (default: engineSettings(), the memory bounds below). */
  settings?: Readonly<Record<string, string>>;
}

const MiB = 1024 * 1024;

/**
 * The in-process engine's cache bounds (ClickHouse server settings, fixed when the engine starts): without them
 * ClickHouse sizes its caches for a server of its own (5 GiB each). The engine's total memory limit stays
 * ClickHouse's (90 % of the RAM): a 256 MiB limit made the pipeline's inserts of 128,000 events fail with
 * MEMORY_LIMIT_EXCEEDED and retry forever, and saved nothing measurable (docs/deployment.md lists the settings).
 */
export const EMBEDDED_ENGINE_SETTINGS: Readonly<Record<string, string>> = {
  mark_cache_size: String(32 * MiB),
  primary_index_cache_size: String(32 * MiB),
  index_mark_cache_size: String(16 * MiB),
  index_uncompressed_cache_size: '0',
  uncompressed_cache_size: '0',
  compiled_expression_cache_size: String(8 * MiB),
  query_condition_cache_size: String(8 * MiB),
  mmap_cache_size: '64',
};

const SETTING = /^([a-z_][a-z0-9_.]*)=(\S+)$/;

/** EMBEDDED_ENGINE_SETTINGS with `overrides` ("name=value name=value", env VIGIL_EVENT_ENGINE_SETTINGS) applied. */
export function engineSettings(overrides = process.env.VIGIL_EVENT_ENGINE_SETTINGS ?? ''): Record<string, string> {
  const out: Record<string, string> = { ...EMBEDDED_ENGINE_SETTINGS };
  for (const word of overrides.split(/\s+/).filter(Boolean)) {
    const m = SETTING.exec(word);
    if (!m) throw new Error(`VIGIL_EVENT_ENGINE_SETTINGS: '${word}' is not name=value`);
    out[m[1]] = m[2];
  }
  return out;
}

/** The caller stopped waiting: the query may still be running on the engine. */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
  readonly timedOut = true;
}

const rowsOf = <T>(text: string): T[] => (text ? text.trimEnd().split('\n').map((line) => JSON.parse(line) as T) : []);

export class ChdbEngine implements SqlEngine {
  private readonly dataDir: string;
  private readonly connectionArgs: string[];
  private readonly session: Session;
  private readonly huntConnections: number;
  private readonly idleHuntSessions: Session[] = [];
  private readonly huntSessions: Session[] = [];
  private readonly huntWaiters: { resolve(s: Session): void; reject(e: Error): void }[] = [];
  private closed = false;

  constructor(dataDir: string, o: ChdbEngineOptions = {}) {
    this.dataDir = dataDir;
    this.connectionArgs = Object.entries(o.settings ?? engineSettings()).map(([k, v]) => `--${k}=${v}`);
    this.session = new Session(dataDir, { connectionArgs: this.connectionArgs });
    this.huntConnections = Math.max(1, o.huntConnections ?? 2);
  }

  async query<T>(sql: string, params: SqlParams = {}, opts: QueryOptions = {}): Promise<T[]> {
    if (opts.lane === 'hunt') return this.huntQuery<T>(sql, params, opts);
    try {
      const r = await this.session.queryBindAsync(sql, params, { format: 'JSONEachRow', timeout: opts.timeoutMs });
      return rowsOf<T>(r.text());
    } finally {
      opts.onSettled?.();
    }
  }

  private async huntQuery<T>(sql: string, params: SqlParams, opts: QueryOptions): Promise<T[]> {
    let session: Session;
    try {
      if (Object.keys(params).length > 0) throw new Error('a hunt lane query takes no parameters (they would wait on the process-wide chain)');
      session = await this.takeHuntSession();
    } catch (err) {
      opts.onSettled?.();
      throw err;
    }
    // No `timeout` here: the promise settles when the engine is done, and only then is the session free again.
    const native = session.queryAsync(sql, { format: 'JSONEachRow' }).finally(() => {
      this.giveBack(session);
      opts.onSettled?.();
    });
    if (opts.timeoutMs === undefined) return rowsOf<T>((await native).text());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueryTimeoutError(`the query did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    native.catch(() => {}); // settled after the deadline: already reported as a timeout
    try {
      return rowsOf<T>((await Promise.race([native, deadline])).text());
    } finally {
      clearTimeout(timer);
    }
  }

  private takeHuntSession(): Promise<Session> {
    if (this.closed) return Promise.reject(new Error('the event store is closed'));
    const idle = this.idleHuntSessions.pop();
    if (idle) return Promise.resolve(idle);
    if (this.huntSessions.length < this.huntConnections) {
      const s = new Session(this.dataDir, { connectionArgs: this.connectionArgs });
      this.huntSessions.push(s);
      return Promise.resolve(s);
    }
    return new Promise((resolve, reject) => this.huntWaiters.push({ resolve, reject }));
  }

  private giveBack(s: Session): void {
    if (this.closed) return;
    const waiter = this.huntWaiters.shift();
    if (waiter) waiter.resolve(s);
    else this.idleHuntSessions.push(s);
  }

  async insertJsonEachRow(table: string, rows: Buffer): Promise<void> {
    if (rows.length === 0) return;
    await this.session.insert({ table, values: rows, format: 'JSONEachRow', settings: JSON_EACH_ROW_INSERT_SETTINGS });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.huntWaiters.splice(0)) w.reject(new Error('the event store is closed'));
    // Session.close() defers the native teardown until the session's running queries are done.
    for (const s of this.huntSessions) s.close();
    this.session.close();
  }
}
