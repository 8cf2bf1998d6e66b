// The event store on ClickHouse SQL, over any SqlEngine (in-process chdb or a ClickHouse server): row
// encoding for inserts, tenant-scoped parameterised queries with keyset cursors, and the process-node
// merge. The pipeline drops the events of a redelivered message (JetStream after ack_wait, the local log's replay)
// that storedEventIds finds stored; duplicates still come (a batch an agent re-sends as a new message, a redelivery
// racing a slow first delivery) and leave duplicate rows until ReplacingMergeTree merges them, and a merge may never come (rows in
// different monthly partitions, or parts not yet chosen): every read collapses them itself (FINAL, uniqExact,
// GROUP BY entity, or adjacent duplicates in a sorted result), hunts through the `final` setting.

import type { VigilEvent } from '../../schema/event.ts';
import { processNodeFromEvent, type ProcessNode } from '../../tree/process-tree.ts';
import { EXTRACTED_COLUMNS, PROCESS_LIFECYCLE_SELECT, codecMigrations, eventStoreDdl, eventStoreMigrations, type ExtractedColumn } from './ddl.ts';
import { inSlices } from '../../util/event-loop.ts';

/** Events serialised between two yields to the event loop (a few milliseconds of work). */
const SERIALIZE_SLICE = 250;
/**
 * Events whose keys one storedEventIds query carries: ≈ 200 KiB of parameters at most, which travel in the URL over
 * HTTP (a ClickHouse server takes up to http_max_uri_size, 1 MiB by default).
 */
const STORED_IDS_SLICE = 1000;
/**
 * Events per insert statement: the engine's memory for an insert grows with its rows (every extracted column is
 * computed over the block), so a large pipeline batch goes in several statements and never needs more than a bounded
 * share of the engine's memory limit (an insert over the limit would fail again at every retry).
 */
const INSERT_SLICE = 10_000;
import type { SqlEngine, SqlParams } from './engine.ts';
import {
  checkHuntAst, functionCatalogue, HUNT_TABLES, HuntGate, HuntRefusal, parseExplainAst, refusalOf, singleStatement, wrapHuntQuery,
  type FunctionCatalogue, type HuntCatalogue, type HuntLimits, type HuntResult,
} from './hunt.ts';
import type { EventPage, EventQuery, EventStore } from './types.ts';

const CATALOGUE_TTL_MS = 60_000;
const EXPLAIN_PREFIX = 'EXPLAIN AST ';
/** Backfilling process_lifecycle from the events already stored may take this long (one INSERT … SELECT). */
const BACKFILL_TIMEOUT_MS = 3_600_000;

/** The last instant DateTime64(3) holds: an open upper bound (`new Date(8.64e15)` is refused as a parameter). */
const DATETIME64_MAX = new Date('2299-12-31T23:59:59.999Z');

interface Cursor { ts: string; id: string }

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.id])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  try {
    const [ts, id] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof ts === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(ts))) return { ts, id };
  } catch { /* reported below */ }
  throw new Error('invalid cursor');
}

/** ClickHouse DateTime64 text for an ISO timestamp ('2026-02-15 12:34:56.789'). */
const chTime = (iso: string): string => new Date(iso).toISOString().replace('T', ' ').replace('Z', '');

const EMPTY: Record<ExtractedColumn['type'], unknown> = {
  String: '', 'LowCardinality(String)': '', UInt32: 0, UInt16: 0, 'Array(String)': [],
};

function valueAt(e: VigilEvent, c: ExtractedColumn): unknown {
  let v: unknown = e;
  for (const key of c.path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function eventRow(e: VigilEvent): string {
  const row: Record<string, unknown> = {
    tenant_id: e.agent.tenant_id,
    host_id: e.agent.id,
    timestamp: e['@timestamp'],
    event_id: e.event.id,
    event_type: e.event.type,
    ingested: e.event.ingested ?? new Date().toISOString(),
    raw: e, // stored as its JSON text (JSON_EACH_ROW_INSERT_SETTINGS): the event is serialised once, with the row
  };
  // Every column is given (empty when the event has no such field), so the engine never evaluates the
  // DEFAULT expressions, which would parse `raw` once per column.
  for (const c of EXTRACTED_COLUMNS) row[c.name] = valueAt(e, c) ?? EMPTY[c.type];
  return JSON.stringify(row);
}

/**
 * The rows' events without duplicates. Re-deliveries leave duplicate rows until the engine merges them
 * (cheaper than reading with FINAL); in the sorted result a duplicate follows its twin.
 */
function uniqueEvents(rows: { raw: string }[]): VigilEvent[] {
  const out: VigilEvent[] = [];
  let previous = '';
  for (const r of rows) {
    const e = JSON.parse(r.raw) as VigilEvent;
    if (e.event.id !== previous) out.push(e);
    previous = e.event.id;
  }
  return out;
}

export class ClickHouseEventStore implements EventStore {
  private readonly engine: SqlEngine;
  private readonly retentionDays: number;

  constructor(engine: SqlEngine, opts: { retentionDays?: number } = {}) {
    this.engine = engine;
    this.retentionDays = opts.retentionDays ?? 90;
  }

  async init(): Promise<void> {
    const existed = await this.tableExists('process_lifecycle');
    const [view] = await this.engine.query<{ q: string }>(
      "SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = 'process_lifecycle_mv'");
    for (const sql of eventStoreDdl({ retentionDays: this.retentionDays })) await this.engine.query(sql);
    for (const sql of eventStoreMigrations(view?.q)) await this.engine.query(sql);
    const columns = await this.engine.query<{ table: string; name: string; codec: string }>(`SELECT table, name, compression_codec AS codec
      FROM system.columns WHERE database = currentDatabase() AND table IN ('telemetry_events', 'process_lifecycle')`);
    for (const sql of codecMigrations(columns)) await this.engine.query(sql);
    // A store made before process_lifecycle existed: its view fills it from now on, this copies what came before
    // (rows inserted meanwhile are copied twice: the same key, merged, and collapsed at read time like any re-delivery).
    if (!existed && await this.tableExists('telemetry_events')) {
      await this.engine.query(`INSERT INTO process_lifecycle ${PROCESS_LIFECYCLE_SELECT}`, {}, { timeoutMs: BACKFILL_TIMEOUT_MS });
    }
  }

  private async tableExists(name: string): Promise<boolean> {
    const [row] = await this.engine.query<{ n: string | number }>(
      'SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = {name:String}', { name });
    return Number(row?.n ?? 0) > 0;
  }

  async insert(events: VigilEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += INSERT_SLICE) await this.insertSlice(events.slice(i, i + INSERT_SLICE));
  }

  private async insertSlice(events: VigilEvent[]): Promise<void> {
    if (events.length === 0) return;
    const nodes: string[] = [];
    const rows: string[] = [];
    await inSlices(events, SERIALIZE_SLICE, (slice) => {
      for (const e of slice) {
        rows.push(eventRow(e));
        const node = processNodeFromEvent(e);
        if (node) nodes.push(JSON.stringify(node));
      }
    });
    // Process nodes first: an event found in telemetry_events (storedEventIds) has its node stored too, so the
    // pipeline may drop a redelivered event found there. Nodes stored twice collapse at read time (GROUP BY entity).
    if (nodes.length) await this.engine.insertJsonEachRow('process_nodes', Buffer.from(nodes.join('\n')));
    await this.engine.insertJsonEachRow('telemetry_events', Buffer.from(rows.join('\n')));
  }

  async storedEventIds(events: VigilEvent[]): Promise<Set<string>> {
    const stored = new Set<string>();
    // One query per STORED_IDS_SLICE events (bounds the parameters' size, sent in the URL over HTTP); the
    // tuples of the sorting key select granules through the primary index (EXPLAIN indexes: PrimaryKey in set).
    for (let i = 0; i < events.length; i += STORED_IDS_SLICE) {
      const slice = events.slice(i, i + STORED_IDS_SLICE);
      const rows = await this.engine.query<{ id: string }>(
        `SELECT DISTINCT event_id AS id FROM telemetry_events
         WHERE (tenant_id, host_id, timestamp, event_id) IN arrayZip({t:Array(String)}, {h:Array(String)}, {ts:Array(DateTime64(3, 'UTC'))}, {i:Array(String)})`,
        { t: slice.map((e) => e.agent.tenant_id), h: slice.map((e) => e.agent.id), ts: slice.map((e) => chTime(e['@timestamp'])), i: slice.map((e) => e.event.id) });
      for (const r of rows) stored.add(r.id);
    }
    return stored;
  }

  async queryEvents(q: EventQuery): Promise<EventPage> {
    const where = ['tenant_id = {tenant:String}'];
    const params: SqlParams = { tenant: q.tenantId, limit: q.limit };
    if (q.hostId) { where.push('host_id = {host:String}'); params.host = q.hostId; }
    if (q.from) { where.push('timestamp >= {from:DateTime64(3)}'); params.from = chTime(q.from.toISOString()); }
    if (q.to) { where.push('timestamp < {to:DateTime64(3)}'); params.to = chTime(q.to.toISOString()); }
    if (q.types?.length) { where.push('event_type IN {types:Array(String)}'); params.types = q.types; }
    if (q.q) {
      where.push('(positionCaseInsensitive(process_command_line, {q:String}) > 0 OR positionCaseInsensitive(process_executable, {q:String}) > 0 OR positionCaseInsensitive(file_path, {q:String}) > 0)');
      params.q = q.q;
    }
    // Each on an extracted column: the entity id and the file path have skip indexes (bloom filter, n-grams),
    // the user and the addresses are small columns; the hash names the processes whose events carry it.
    if (q.processEntityId) { where.push('process_entity_id = {entity:String}'); params.entity = q.processEntityId; }
    if (q.userName) { where.push('user_name = {user:String}'); params.user = q.userName; }
    if (q.filePath) { where.push('file_path LIKE {file:String}'); params.file = `%${q.filePath.replace(/[\\%_]/g, '\\$&')}%`; }
    if (q.ip) { where.push('(source_ip = {ip:String} OR destination_ip = {ip:String})'); params.ip = q.ip; }
    if (q.sha256) { // the processes whose start or process_hash event named the digest (skip index idx_sha256)
      where.push(`process_entity_id IN (SELECT process_entity_id FROM telemetry_events WHERE tenant_id = {tenant:String}${q.hostId ? ' AND host_id = {host:String}' : ''}
        ${q.to ? 'AND timestamp < {to:DateTime64(3)}' : ''} AND process_hash_sha256 = {sha256:String} AND process_entity_id != '')`);
      params.sha256 = q.sha256;
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      where.push('(timestamp, event_id) < ({cts:DateTime64(3)}, {cid:String})');
      params.cts = chTime(c.ts);
      params.cid = c.id;
    }
    // The page's keys first (sort and filter columns only), then `raw` of exactly those rows by the primary key:
    // ordering the whole selection with `raw` beside it read a granule of it per part (many while the engine
    // merges) or, lazily materialised, sorted every key of the host first.
    const rows = await this.engine.query<{ raw: string }>(
      `SELECT raw FROM telemetry_events WHERE tenant_id = {tenant:String} AND (host_id, timestamp, event_id) IN (
         SELECT host_id, timestamp, event_id FROM telemetry_events WHERE ${where.join(' AND ')}
         ORDER BY timestamp DESC, event_id DESC LIMIT {limit:UInt32})
       ORDER BY timestamp DESC, event_id DESC`, { ...params, limit: q.limit + 1 });
    const events = uniqueEvents(rows).slice(0, q.limit);
    const last = events[events.length - 1];
    const next = rows.length > q.limit && last ? encodeCursor({ ts: last['@timestamp'], id: last.event.id }) : null;
    return { events, next };
  }

  async processNodes(tenantId: string, hostId: string, at: Date, limit: number): Promise<ProcessNode[]> {
    const rows = await this.engine.query<ProcessNode>(
      `SELECT tenant_id, host_id, entity_id, pid, ppid, parent_entity_id, exe, cmdline,
              concat(replaceOne(toString(started), ' ', 'T'), 'Z') AS start_ts,
              if(isNull(exited), NULL, concat(replaceOne(toString(assumeNotNull(exited)), ' ', 'T'), 'Z')) AS exit_ts,
              exit_code, uid, gid, user_name, sha256, mitre, gtfobins, ver
       FROM (
         SELECT tenant_id, host_id, entity_id, any(pid) AS pid, any(ppid) AS ppid,
                anyIf(parent_entity_id, parent_entity_id != '') AS parent_entity_id,
                anyIf(exe, exe != '') AS exe, anyIf(cmdline, cmdline != '') AS cmdline,
                min(start_ts) AS started, maxOrNull(exit_ts) AS exited, maxOrNull(exit_code) AS exit_code,
                any(uid) AS uid, any(gid) AS gid, anyIf(user_name, user_name != '') AS user_name,
                anyIf(sha256, sha256 != '') AS sha256, groupUniqArrayArray(mitre) AS mitre,
                groupUniqArrayArray(gtfobins) AS gtfobins, max(ver) AS ver
         FROM process_nodes
         WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND start_ts <= {at:DateTime64(3)}
         GROUP BY tenant_id, host_id, entity_id
       )
       WHERE isNull(exited) OR assumeNotNull(exited) > {at:DateTime64(3)}
       ORDER BY started LIMIT {limit:UInt32}`,
      { tenant: tenantId, host: hostId, at: chTime(at.toISOString()), limit });
    return rows.map((r) => ({ ...r, pid: Number(r.pid), ppid: Number(r.ppid), uid: Number(r.uid), gid: Number(r.gid) }));
  }

  async processEvents(tenantId: string, hostId: string, entityIds: string[]): Promise<VigilEvent[]> {
    if (entityIds.length === 0) return [];
    const rows = await this.engine.query<{ raw: string }>(
      `SELECT raw FROM process_lifecycle
       WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND entity_id IN {ids:Array(String)}
       ORDER BY timestamp, event_id LIMIT 10000`, { tenant: tenantId, host: hostId, ids: entityIds });
    return uniqueEvents(rows);
  }

  async processLineageEvents(tenantId: string, hostId: string, entityId: string): Promise<VigilEvent[]> {
    // The process's rows and, by the ancestor ids its start recorded, every recorded ancestor's: one read, both by
    // the primary key (tenant, host, entity).
    const rows = await this.engine.query<{ raw: string }>(
      `SELECT raw FROM process_lifecycle
       WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND entity_id IN (
         SELECT arrayJoin(arrayPushFront(ancestor_ids, {entity:String})) FROM process_lifecycle
         WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND entity_id = {entity:String})
       ORDER BY timestamp, event_id LIMIT 10000`, { tenant: tenantId, host: hostId, entity: entityId });
    return uniqueEvents(rows);
  }

  async childProcessEvents(tenantId: string, hostId: string, parentEntityId: string, since: Date, limit: number): Promise<VigilEvent[]> {
    const rows = await this.engine.query<{ raw: string }>(
      `SELECT raw FROM process_lifecycle
       WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND timestamp >= {since:DateTime64(3)} AND parent_entity_id = {parent:String}
       ORDER BY timestamp, event_id LIMIT {limit:UInt32}`,
      { tenant: tenantId, host: hostId, since: chTime(since.toISOString()), parent: parentEntityId, limit });
    return uniqueEvents(rows);
  }

  async processEventCounts(tenantId: string, hostId: string, entityId: string, since: Date, until?: Date): Promise<Record<string, number>> {
    const rows = await this.engine.query<{ type: string; n: string }>(
      `SELECT event_type AS type, uniqExact(event_id) AS n FROM telemetry_events
       WHERE tenant_id = {tenant:String} AND host_id = {host:String} AND timestamp >= {since:DateTime64(3)} AND timestamp <= {until:DateTime64(3)}
         AND process_entity_id = {entity:String}
       GROUP BY event_type ORDER BY event_type`,
      { tenant: tenantId, host: hostId, since: chTime(since.toISOString()), until: chTime((until ?? DATETIME64_MAX).toISOString()), entity: entityId });
    return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
  }

  async countDistinct(tenantId: string): Promise<number> {
    const [row] = await this.engine.query<{ n: string }>(
      'SELECT uniqExact(event_id) AS n FROM telemetry_events WHERE tenant_id = {tenant:String}', { tenant: tenantId });
    return Number(row?.n ?? 0);
  }

  async eventCounts(tenantId: string, from: Date, bucketSeconds: number): Promise<{ t: string; count: number }[]> {
    // Hourly buckets come from the events_hourly rollup: FINAL over telemetry_events took ≈ 1.1 s for 10 million
    // events over 7 days against ≈ 20 ms from the rollup. Its view counts every inserted row: the pipeline drops
    // the events of redelivered messages already stored (storedEventIds), a batch an agent re-sends as a new
    // message still counts twice (docs/scaling.md). Shorter buckets (a short range) read telemetry_events with FINAL, which collapses rows
    // of the same sorting key (tenant, host, timestamp, event id) however the parts were merged.
    const sql = bucketSeconds >= 3600
      ? `SELECT toString(hour) AS t, sum(events) AS n FROM events_hourly
         WHERE tenant_id = {tenant:String} AND hour >= toStartOfHour({from:DateTime64(3)}) GROUP BY hour ORDER BY hour`
      : `SELECT toString(toStartOfInterval(timestamp, INTERVAL {bucket:UInt32} SECOND)) AS t, count() AS n FROM telemetry_events FINAL
         WHERE tenant_id = {tenant:String} AND timestamp >= {from:DateTime64(3)} GROUP BY t ORDER BY t`;
    const rows = await this.engine.query<{ t: string; n: string }>(sql, { tenant: tenantId, from: chTime(from.toISOString()), bucket: bucketSeconds });
    return rows.map((r) => ({ t: `${r.t.replace(' ', 'T')}Z`, count: Number(r.n) }));
  }

  private catalogue: { at: number; value: HuntCatalogue } | undefined;
  /** Hunts running at once in this process, per tenant and in all. */
  readonly huntGate = new HuntGate();

  /** Which allowed tables exist, every table and database name, and the engine's functions (refreshed every minute). */
  private async huntCatalogue(): Promise<HuntCatalogue> {
    if (this.catalogue && Date.now() - this.catalogue.at < CATALOGUE_TTL_MS) return this.catalogue.value;
    const tables = await this.engine.query<{ database: string; name: string; own: number | string }>(
      'SELECT database, name, database = currentDatabase() AS own FROM system.tables');
    const databases = await this.engine.query<{ name: string }>('SELECT name FROM system.databases');
    const own = new Set(tables.filter((t) => Number(t.own) === 1).map((t) => t.name));
    const dbNames = [...databases.map((d) => d.name), 'system', 'information_schema', 'INFORMATION_SCHEMA'];
    const value: HuntCatalogue = {
      allowed: new Set(HUNT_TABLES.filter((t) => own.has(t))),
      names: new Set([...own, ...dbNames]),
      reserved: new Set([...tables.map((t) => t.name), ...dbNames, ...HUNT_TABLES].map((n) => n.toLowerCase())),
      functions: await this.functions(),
    };
    this.catalogue = { at: Date.now(), value };
    return value;
  }

  /** The engine's functions with their categories; a server without categories (older ClickHouse) gives none. */
  private async functions(): Promise<FunctionCatalogue> {
    const columns = 'name, is_aggregate, case_insensitive, alias_to';
    try {
      return functionCatalogue(await this.engine.query(`SELECT ${columns}, categories FROM system.functions`));
    } catch {
      return functionCatalogue(await this.engine.query(`SELECT ${columns} FROM system.functions`));
    }
  }

  /**
   * Checks the query on the engine's parse tree (interactive lane: parse only), waits for a slot of the hunt
   * gate, then runs it on the engine's hunt lane, so it never holds searches, process trees or inserts behind it.
   */
  async hunt(tenantId: string, sql: string, limits: HuntLimits): Promise<HuntResult> {
    const statement = singleStatement(sql, limits);
    let ast: { explain: string }[];
    try {
      ast = await this.engine.query<{ explain: string }>(`${EXPLAIN_PREFIX}${statement}`);
    } catch (err) {
      // Positions on the first line count from the statement, not from the `EXPLAIN AST ` before it.
      const shift = (n: string) => String(Math.max(1, Number(n) - EXPLAIN_PREFIX.length));
      throw new HuntRefusal('syntax', refusalOf(err).message.replace(/position (\d+)/, (_, n: string) => `position ${shift(n)}`)
        .replace(/\(line 1, col (\d+)\)/, (_, n: string) => `(line 1, col ${shift(n)})`));
    }
    const catalogue = await this.huntCatalogue();
    checkHuntAst(parseExplainAst(ast.map((r) => r.explain)), catalogue, statement);
    const release = await this.huntGate.acquire(tenantId, limits);
    const started = performance.now();
    let rows: Record<string, unknown>[];
    try {
      rows = await this.engine.query(wrapHuntQuery(statement, tenantId, catalogue.allowed, limits), {},
        { lane: 'hunt', timeoutMs: (limits.maxExecutionSeconds + 5) * 1000, onSettled: release });
    } catch (err) {
      // A query the caller stopped waiting for still runs on the engine: its slot is released by onSettled.
      if (!(err as { timedOut?: boolean }).timedOut) release();
      throw refusalOf(err);
    }
    release();
    const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
    return {
      columns, rows: rows.slice(0, limits.maxRows).map((r) => columns.map((c) => r[c])),
      elapsed_ms: Math.round(performance.now() - started), truncated: rows.length > limits.maxRows,
    };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
