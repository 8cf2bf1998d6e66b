// The threat-intelligence stage of the pipeline: each event's observables (process and file hashes, connection
// source and destination addresses, DNS question names and answer addresses: ECS `dns.question.name`,
// `dns.resolved_ip`, `dns.answers[].data`) against the indicator lists of the event's tenant; a match is an alert
// shaped like a rule's (one per indicator and process entity per hour, as single-event alerts are), naming the
// indicator, its list, the list's source and the confidence (`group_by`), with the process lineage when the
// process index knows it. Events of Vigil's own processes are skipped. Pure: the alerts go to an AlertSink.

import { singleEventAlertId, type Alert, type AlertSink } from '../detect/alerts.ts';
import type { EventRecord } from '../detect/records.ts';
import { VIGIL_SELF_LABEL, type VigilEvent } from '../schema/event.ts';
import type { Level } from '../sigma/ir.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import { ipv4ToNumber, ipv6ToBytes, unmapIpv4 } from './indicators.ts';
import type { IntelLists, LoadedList } from './lists.ts';
import type { IndicatorHit } from './matcher.ts';

export type ObservableKind = 'hash' | 'ip' | 'domain';
export interface Observable { kind: ObservableKind; value: string; field: string }

type Visit = (kind: ObservableKind, value: string, field: string) => void;

const isAddress = (v: string): boolean => ipv4ToNumber(unmapIpv4(v)) !== undefined || ipv6ToBytes(v) !== undefined;
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

function visitHashes(hash: Record<string, unknown> | undefined, owner: 'process' | 'file', visit: Visit): void {
  if (!hash) return;
  if (nonEmpty(hash.sha256)) visit('hash', hash.sha256, `${owner}.hash.sha256`);
  if (nonEmpty(hash.sha1)) visit('hash', hash.sha1, `${owner}.hash.sha1`);
  if (nonEmpty(hash.md5)) visit('hash', hash.md5, `${owner}.hash.md5`);
}

function visitEndpoint(e: Record<string, unknown> | undefined, side: 'destination' | 'source', visit: Visit): void {
  if (!e) return;
  if (nonEmpty(e.ip)) visit('ip', e.ip, `${side}.ip`);
  if (nonEmpty(e.domain)) visit('domain', e.domain, `${side}.domain`);
}

/**
 * Each observable of the event the lists are matched against (ECS field names), without building a list of them
 * (this runs on every event). A DNS answer's data already among `dns.resolved_ip` is not visited twice.
 */
export function visitObservables(ev: VigilEvent, visit: Visit): void {
  const rec = ev as unknown as Record<string, Record<string, unknown> | undefined>;
  visitHashes(rec.process?.hash as Record<string, unknown> | undefined, 'process', visit);
  visitHashes(rec.file?.hash as Record<string, unknown> | undefined, 'file', visit);
  visitEndpoint(rec.destination, 'destination', visit);
  visitEndpoint(rec.source, 'source', visit);
  const dns = rec.dns;
  if (!dns) return;
  const name = (dns.question as Record<string, unknown> | undefined)?.name;
  if (nonEmpty(name)) visit('domain', name, 'dns.question.name');
  const resolved = Array.isArray(dns.resolved_ip) ? dns.resolved_ip as unknown[] : [];
  for (const v of resolved) if (nonEmpty(v)) visit('ip', v, 'dns.resolved_ip');
  if (!Array.isArray(dns.answers)) return;
  for (const a of dns.answers as Record<string, unknown>[]) {
    const v = a?.data;
    if (nonEmpty(v) && !resolved.includes(v)) visit(isAddress(v) ? 'ip' : 'domain', v, 'dns.answers.data');
  }
}

/** The event's observables as a list (tests, tools; the stage visits them). */
export function observablesOf(ev: VigilEvent): Observable[] {
  const out: Observable[] = [];
  visitObservables(ev, (kind, value, field) => out.push({ kind, value, field }));
  return out;
}

export function levelOfConfidence(confidence: number): Level {
  return confidence >= 80 ? 'high' : confidence >= 50 ? 'medium' : 'low';
}

function match(list: LoadedList, kind: ObservableKind, value: string, now: number): IndicatorHit | undefined {
  switch (kind) {
    case 'hash': return list.matcher.matchHash(value, now);
    case 'ip': return list.matcher.matchIp(value, now);
    case 'domain': return list.matcher.matchDomain(value, now);
  }
}

/** The alert of one indicator match on one event. */
export function intelAlert(list: LoadedList, hit: IndicatorHit, o: Observable, ev: VigilEvent): Alert {
  const time = Date.parse(ev['@timestamp']);
  const host = ev.agent?.id;
  const ctx = { tenant: list.tenantId, host, processEntity: ev.process?.entity_id, eventId: ev.event.id, time: Number.isFinite(time) ? time : 0 };
  const at = new Date(ctx.time).toISOString();
  return {
    id: singleEventAlertId(`intel:${list.id}:${hit.type}:${hit.value}`, ctx), occurrences: 1, tenant_id: list.tenantId, host_id: host,
    process_entity_id: ctx.processEntity,
    rule: {
      id: `intel:${list.id}`, title: `Threat intelligence match: ${hit.value} (${list.name})`, author: list.source,
      level: levelOfConfidence(hit.confidence), type: 'single', references: /^https?:/.test(list.source) ? [list.source] : [],
      description: `${o.field} ${o.value} matched ${hit.type} indicator ${hit.value} of list '${list.name}' (source ${list.source}), confidence ${hit.confidence}.`,
    },
    mitre: [], events: [ev as unknown as EventRecord], event_ids: [ev.event.id],
    group_by: { indicator: hit.value, indicator_type: hit.type, list: list.name, list_id: list.id, source: list.source, confidence: String(hit.confidence), field: o.field, observed: o.value },
    first_seen: at, last_seen: at,
  };
}

export interface IntelCounters { events: number; matches: number }

export class IntelStage {
  readonly name = 'intel';
  readonly counters: IntelCounters = { events: 0, matches: 0 };
  private readonly lists: IntelLists;
  private readonly sink: AlertSink;
  private readonly processes: LiveProcessIndex | undefined;
  private readonly now: () => number;

  constructor(o: { lists: IntelLists; sink: AlertSink; processes?: LiveProcessIndex; now?: () => number }) {
    this.lists = o.lists;
    this.sink = o.sink;
    this.processes = o.processes;
    this.now = o.now ?? Date.now;
  }

  /** The alerts of the events' matches (one per event, list and indicator). */
  matches(events: readonly VigilEvent[]): Alert[] {
    const alerts: Alert[] = [];
    const now = this.now();
    let tenant: string | undefined;
    let lists: LoadedList[] = [];
    let ev: VigilEvent;
    let seen: Set<string> | undefined; // list and indicator already alerted for the event
    const visit: Visit = (kind, value, field) => {
      for (const list of lists) {
        const hit = match(list, kind, value, now);
        if (!hit) continue;
        const key = `${list.id}\u0000${hit.value}`;
        if (seen?.has(key)) continue;
        (seen ??= new Set()).add(key);
        alerts.push(this.withLineage(intelAlert(list, hit, { kind, value, field }, ev)));
      }
    };
    for (const e of events) {
      this.counters.events++;
      if (e.labels?.[VIGIL_SELF_LABEL] === 'true') continue;
      const t = e.agent?.tenant_id ?? '';
      if (t !== tenant) { tenant = t; lists = [...this.lists.of(t)]; }
      if (lists.length === 0) continue;
      ev = e;
      seen = undefined;
      visitObservables(e, visit);
    }
    this.counters.matches += alerts.length;
    return alerts;
  }

  async process(events: VigilEvent[]): Promise<void> {
    const alerts = this.matches(events);
    if (alerts.length) await this.sink.write(alerts);
  }

  private withLineage(a: Alert): Alert {
    if (!this.processes || !a.host_id || !a.process_entity_id) return a;
    const lineage = this.processes.lineage(a.tenant_id, a.host_id, a.process_entity_id);
    return lineage ? Object.assign(a, lineage) : a;
  }
}
