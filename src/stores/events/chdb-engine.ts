// SqlEngine on chdb, ClickHouse in-process: the embedded event store. One data directory per process
// (a libchdb limit), so one ChdbEngine per process.

import { Session } from 'chdb';
import { JSON_EACH_ROW_INSERT_SETTINGS, type SqlEngine, type SqlParams } from './engine.ts';

export class ChdbEngine implements SqlEngine {
  private readonly session: Session;

  constructor(dataDir: string) {
    this.session = new Session(dataDir);
  }

  async query<T>(sql: string, params: SqlParams = {}, opts: { timeoutMs?: number } = {}): Promise<T[]> {
    const r = await this.session.queryBindAsync(sql, params, { format: 'JSONEachRow', timeout: opts.timeoutMs });
    const text = r.text();
    if (!text) return [];
    return text.trimEnd().split('\n').map((line) => JSON.parse(line) as T);
  }

  async insertJsonEachRow(table: string, rows: Buffer): Promise<void> {
    if (rows.length === 0) return;
    await this.session.insert({ table, values: rows, format: 'JSONEachRow', settings: JSON_EACH_ROW_INSERT_SETTINGS });
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
