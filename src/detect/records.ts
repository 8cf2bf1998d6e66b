// Input records → the shape rules are evaluated on: a VigilEvent (nested, Linux) as it is, or a flat
// Windows record (OTRF flattened JSON, evtx_dump `Event.System`/`Event.EventData` with #attributes, or a
// VigilEvent of type `windows` carrying `winlog`), with its logsource, time, host and process entity. Pure.

import { createHash } from 'node:crypto';
import type { EventLogsource } from './logsources.ts';
import { addWindowsAliases, linuxLogsource, windowsLogsource } from './logsources.ts';

export type EventRecord = Record<string, unknown>;

export interface Normalized { record: EventRecord; logsource: EventLogsource }

function unwrap(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v) && '#text' in (v as object)) return (v as Record<string, unknown>)['#text'];
  return v;
}

function attr(v: unknown, name: string): unknown {
  const a = (v as Record<string, unknown> | undefined)?.['#attributes'] as Record<string, unknown> | undefined;
  return a?.[name];
}

/** evtx_dump JSON (`{"Event": {"System": …, "EventData": …}}`) → a flat record with Sigma's Windows names. */
export function flattenEvtx(ev: Record<string, unknown>): EventRecord {
  const sys = (ev.System ?? {}) as Record<string, unknown>;
  const rec: EventRecord = {};
  const data = (ev.EventData ?? ev.UserData) as Record<string, unknown> | null | undefined;
  if (data && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) {
      if (k === '#attributes') continue;
      const u = unwrap(v);
      if (u && typeof u === 'object' && !Array.isArray(u) && k !== 'Data') Object.assign(rec, Object.fromEntries(Object.entries(u as object).map(([a, b]) => [a, unwrap(b)])));
      else rec[k] = u;
    }
  }
  rec.EventID = Number(unwrap(sys.EventID));
  if (sys.Channel !== undefined) rec.Channel = unwrap(sys.Channel);
  if (sys.Computer !== undefined) rec.Computer = unwrap(sys.Computer);
  const provider = attr(sys.Provider, 'Name');
  if (provider !== undefined) rec.Provider_Name = provider;
  const time = attr(sys.TimeCreated, 'SystemTime');
  if (time !== undefined) rec.TimeCreated = time;
  const sid = attr(sys.Security, 'UserID');
  if (sid !== undefined) rec.Security_UserID = sid;
  return rec;
}

/** Common renames of flattened exports (OTRF: SourceName, Hostname) to Sigma's Windows field names. */
function addCommonWindowsNames(rec: EventRecord): void {
  if (rec.Provider_Name === undefined && rec.SourceName !== undefined) rec.Provider_Name = rec.SourceName;
  if (rec.Computer === undefined && rec.Hostname !== undefined) rec.Computer = rec.Hostname;
  if (typeof rec.EventID === 'string' && /^\d+$/.test(rec.EventID)) rec.EventID = Number(rec.EventID);
}

/** Classifies and normalises one input record; undefined when it is not an event Vigil understands. */
export function normalizeRecord(raw: unknown): Normalized | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const o = raw as EventRecord;
  const event = o.event as Record<string, unknown> | undefined;
  if (event && typeof event.type === 'string') {
    if (event.type === 'windows' && o.winlog && typeof o.winlog === 'object') return windowsRecord({ ...(o.winlog as EventRecord) });
    return { record: o, logsource: linuxLogsource(event.type) };
  }
  if (o.Event && typeof o.Event === 'object') return windowsRecord(flattenEvtx(o.Event as EventRecord));
  if (o.EventID !== undefined) return windowsRecord(o);
  return undefined;
}

function windowsRecord(rec: EventRecord): Normalized {
  addCommonWindowsNames(rec);
  const logsource = windowsLogsource(rec);
  addWindowsAliases(rec, logsource);
  return { record: rec, logsource };
}

/** Event time in ms since the epoch; `fallback` when the record carries none. */
export function eventTime(rec: EventRecord, fallback: number): number {
  const v = rec['@timestamp'] ?? rec.TimeCreated ?? rec.UtcTime ?? rec.EventTime ?? rec.timestamp;
  if (typeof v === 'number') return v > 1e12 ? v : v * 1000;
  if (typeof v !== 'string') return fallback;
  let s = v.trim().replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s)) s += 'Z';
  const t = Date.parse(s);
  return Number.isNaN(t) ? fallback : t;
}

export function hostOf(rec: EventRecord): string | undefined {
  const agent = rec.agent as { id?: string } | undefined;
  const host = rec.host as { id?: string; hostname?: string } | undefined;
  const v = host?.id ?? agent?.id ?? rec.Computer ?? rec.Hostname ?? host?.hostname;
  return typeof v === 'string' ? v : undefined;
}

export function processEntityOf(rec: EventRecord): string | undefined {
  const p = rec.process as { entity_id?: string } | undefined;
  const v = p?.entity_id ?? rec.ProcessGuid;
  return typeof v === 'string' ? v : undefined;
}

/**
 * A stable id for an event: a VigilEvent's `event.id`; a Windows record's channel, computer and record id;
 * otherwise a hash of its canonical JSON (computed only for matching events).
 */
export function eventIdOf(rec: EventRecord): string {
  const ev = rec.event as { id?: unknown } | undefined;
  if (typeof ev?.id === 'string') return ev.id;
  if (rec.EventRecordID !== undefined && rec.Computer !== undefined) return `${String(rec.Channel ?? '')}/${String(rec.Computer)}/${String(rec.EventRecordID)}`;
  return createHash('sha256').update(JSON.stringify(rec, Object.keys(rec).sort())).digest('hex').slice(0, 32);
}
