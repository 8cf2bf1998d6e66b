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

const HASH_FIELDS = ['sha256', 'sha1', 'md5'] as const;

function strings(v: unknown): string[] {
  if (typeof v === 'string') return v ? [v] : [];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

const isAddress = (v: string): boolean => ipv4ToNumber(unmapIpv4(v)) !== undefined || ipv6ToBytes(v) !== undefined;

/** The event's observables the lists are matched against (ECS field names). */
export function observablesOf(ev: VigilEvent): Observable[] {
  const out: Observable[] = [];
  const rec = ev as unknown as Record<string, Record<string, unknown> | undefined>;
  for (const owner of ['process', 'file'] as const) {
    const hash = rec[owner]?.hash as Record<string, unknown> | undefined;
    for (const alg of HASH_FIELDS) for (const v of strings(hash?.[alg])) out.push({ kind: 'hash', value: v, field: `${owner}.hash.${alg}` });
  }
  for (const side of ['destination', 'source'] as const) {
    for (const v of strings(rec[side]?.ip)) out.push({ kind: 'ip', value: v, field: `${side}.ip` });
    for (const v of strings(rec[side]?.domain)) out.push({ kind: 'domain', value: v, field: `${side}.domain` });
  }
  const dns = rec.dns;
  if (dns) {
    for (const v of strings((dns.question as Record<string, unknown> | undefined)?.name)) out.push({ kind: 'domain', value: v, field: 'dns.question.name' });
    for (const v of strings(dns.resolved_ip)) out.push({ kind: 'ip', value: v, field: 'dns.resolved_ip' });
    for (const a of Array.isArray(dns.answers) ? dns.answers as Record<string, unknown>[] : []) {
      for (const v of strings(a?.data)) out.push({ kind: isAddress(v) ? 'ip' : 'domain', value: v, field: 'dns.answers.data' });
    }
  }
  return out;
}

export function levelOfConfidence(confidence: number): Level {
  return confidence >= 80 ? 'high' : confidence >= 50 ? 'medium' : 'low';
}

function match(list: LoadedList, o: Observable, now: number): IndicatorHit | undefined {
  switch (o.kind) {
    case 'hash': return list.matcher.matchHash(o.value, now);
    case 'ip': return list.matcher.matchIp(o.value, now);
    case 'domain': return list.matcher.matchDomain(o.value, now);
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
    for (const ev of events) {
      this.counters.events++;
      if (ev.labels?.[VIGIL_SELF_LABEL] === 'true') continue;
      const t = ev.agent?.tenant_id ?? '';
      if (t !== tenant) { tenant = t; lists = [...this.lists.of(t)]; }
      if (lists.length === 0) continue;
      const observables = observablesOf(ev);
      if (observables.length === 0) continue;
      let seen: Set<string> | undefined; // list and indicator already alerted for this event
      for (const list of lists) {
        for (const o of observables) {
          const hit = match(list, o, now);
          if (!hit) continue;
          const key = `${list.id}\u0000${hit.value}`;
          if (seen?.has(key)) continue;
          (seen ??= new Set()).add(key);
          alerts.push(this.withLineage(intelAlert(list, hit, o, ev)));
        }
      }
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
