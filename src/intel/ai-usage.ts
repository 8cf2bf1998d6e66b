// AI-service usage (seed 001): a finding when a process resolves a generative-AI service's name (a DNS event whose
// question is a catalogued domain) or connects to one (a destination address in a service's published ranges, or
// an address the same host resolved for a service's name within the last hour). A finding names the service, the
// host, the user, the process (executable and entity) and the bytes where the event counts them. Findings are
// aggregated per batch and recorded (per host, user, service and executable); where the tenant's policy is
// `alert`, each also raises an alert (one per process and service within an hour, as single-event alerts are).
// Pure: recording and the policy are the AiUsageStore's, the alerts go to an AlertSink.

import { singleEventAlertId, type Alert, type AlertSink } from '../detect/alerts.ts';
import type { EventRecord } from '../detect/records.ts';
import { VIGIL_SELF_LABEL, type VigilEvent } from '../schema/event.ts';
import type { AiService, AiServiceCatalog } from './ai-services.ts';

export const AI_POLICIES = ['record', 'alert'] as const;
export type AiPolicy = (typeof AI_POLICIES)[number];

/** Aggregated findings of one host, user, service and executable. */
export interface AiUsageRecord {
  tenantId: string;
  hostId: string;
  userName: string;
  serviceId: string;
  executable: string;
  firstSeen: number;
  lastSeen: number;
  connections: number;
  resolutions: number;
  bytes: number;
}

/** Where findings are recorded and the tenants' policies are read (src/stores/intel/ai-usage-store.ts). */
export interface AiUsageStore {
  record(rows: AiUsageRecord[]): Promise<void>;
  policy(tenantId: string): Promise<AiPolicy>;
}

interface Finding { service: AiService; how: 'connection' | 'resolution'; field: string; observed: string; ev: VigilEvent; bytes: number }

/** Addresses a host resolved for a service's name, remembered this long, at most this many. */
const RESOLVED_TTL_MS = 3_600_000;
const MAX_RESOLVED = 100_000;
const POLICY_TTL_MS = 10_000;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/** Bytes the event counts (ECS network.bytes, else source.bytes + destination.bytes), 0 when it counts none. */
function bytesOf(ev: VigilEvent): number {
  const r = ev as unknown as Record<string, Record<string, unknown> | undefined>;
  return num(r.network?.bytes) || num(r.source?.bytes) + num(r.destination?.bytes);
}

function dnsOf(ev: VigilEvent): { name?: string; addresses: string[] } | undefined {
  const dns = (ev as unknown as { dns?: { question?: { name?: unknown }; resolved_ip?: unknown; answers?: unknown } }).dns;
  if (!dns) return undefined;
  const name = typeof dns.question?.name === 'string' ? dns.question.name : undefined;
  const addresses = Array.isArray(dns.resolved_ip) ? dns.resolved_ip.filter((x): x is string => typeof x === 'string') : [];
  return { name, addresses };
}

export class AiUsageStage {
  readonly name = 'ai-usage';
  private readonly catalog: AiServiceCatalog;
  private readonly store: AiUsageStore;
  private readonly sink: AlertSink;
  private readonly now: () => number;
  private readonly resolved = new Map<string, { service: AiService; at: number }>();
  private readonly policies = new Map<string, { policy: AiPolicy; at: number }>();

  constructor(o: { catalog: AiServiceCatalog; store: AiUsageStore; sink: AlertSink; now?: () => number }) {
    this.catalog = o.catalog;
    this.store = o.store;
    this.sink = o.sink;
    this.now = o.now ?? Date.now;
  }

  private remember(key: string, service: AiService, at: number): void {
    this.resolved.delete(key);
    this.resolved.set(key, { service, at });
    if (this.resolved.size > MAX_RESOLVED) this.resolved.delete(this.resolved.keys().next().value!);
  }

  private resolvedService(key: string, at: number): AiService | undefined {
    const r = this.resolved.get(key);
    return r && at - r.at < RESOLVED_TTL_MS ? r.service : undefined;
  }

  /** The findings of a batch, in event order. */
  findings(events: readonly VigilEvent[]): Finding[] {
    const out: Finding[] = [];
    for (const ev of events) {
      if (ev.labels?.[VIGIL_SELF_LABEL] === 'true') continue;
      const at = Date.parse(ev['@timestamp']) || this.now();
      const hostKey = `${ev.agent?.tenant_id}\u0000${ev.agent?.id}\u0000`;
      const dns = dnsOf(ev);
      const named = dns?.name ? this.catalog.byName(dns.name) : undefined;
      if (named && dns?.name) {
        for (const a of dns.addresses) this.remember(hostKey + a, named, at);
        out.push({ service: named, how: 'resolution', field: 'dns.question.name', observed: dns.name, ev, bytes: 0 });
        continue;
      }
      const dest = ev.destination?.ip;
      if (!dest || ev.event.type === 'network_accept' || ev.destination?.port === 53) continue;
      const byRange = this.catalog.byAddress(dest);
      const service = byRange ?? this.resolvedService(hostKey + dest, at);
      if (service) out.push({ service, how: 'connection', field: 'destination.ip', observed: dest, ev, bytes: bytesOf(ev) });
    }
    return out;
  }

  private async policy(tenantId: string): Promise<AiPolicy> {
    const c = this.policies.get(tenantId);
    if (c && this.now() - c.at < POLICY_TTL_MS) return c.policy;
    const policy = await this.store.policy(tenantId);
    this.policies.set(tenantId, { policy, at: this.now() });
    return policy;
  }

  async process(events: VigilEvent[]): Promise<void> {
    const found = this.findings(events);
    if (found.length === 0) return;
    await this.store.record(aggregate(found));
    const alerts: Alert[] = [];
    for (const f of found) if (await this.policy(f.ev.agent.tenant_id) === 'alert') alerts.push(aiUsageAlert(f));
    if (alerts.length) await this.sink.write(alerts);
  }
}

function aggregate(found: Finding[]): AiUsageRecord[] {
  const rows = new Map<string, AiUsageRecord>();
  for (const f of found) {
    const ev = f.ev;
    const at = Date.parse(ev['@timestamp']) || 0;
    const r = {
      tenantId: ev.agent.tenant_id, hostId: ev.agent.id, userName: ev.user?.name ?? ev.user?.id ?? '', serviceId: f.service.id,
      executable: ev.process?.executable ?? '',
    };
    const key = [r.tenantId, r.hostId, r.userName, r.serviceId, r.executable].join('\u0000');
    const row = rows.get(key) ?? { ...r, firstSeen: at, lastSeen: at, connections: 0, resolutions: 0, bytes: 0 };
    row.firstSeen = Math.min(row.firstSeen, at);
    row.lastSeen = Math.max(row.lastSeen, at);
    if (f.how === 'connection') row.connections++;
    else row.resolutions++;
    row.bytes += f.bytes;
    rows.set(key, row);
  }
  return [...rows.values()];
}

function aiUsageAlert(f: Finding): Alert {
  const ev = f.ev;
  const time = Date.parse(ev['@timestamp']) || 0;
  const ctx = { tenant: ev.agent.tenant_id, host: ev.agent.id, processEntity: ev.process?.entity_id, eventId: ev.event.id, time };
  const at = new Date(time).toISOString();
  const s = f.service;
  return {
    id: singleEventAlertId(`ai-usage:${s.id}`, ctx), occurrences: 1, tenant_id: ctx.tenant, host_id: ctx.host, process_entity_id: ctx.processEntity,
    rule: {
      id: `ai-usage:${s.id}`, title: `Generative AI service used: ${s.name}`, author: 'Vigil', level: 'medium', type: 'single', references: [],
      description: `${ev.process?.executable ?? 'A process'} ${f.how === 'resolution' ? 'resolved' : 'connected to'} ${f.observed} (${s.name}); the tenant's AI-usage policy alerts.`,
    },
    mitre: [], events: [ev as unknown as EventRecord], event_ids: [ev.event.id],
    group_by: { service: s.id, service_name: s.name, vendor: s.vendor, how: f.how, field: f.field, observed: f.observed, ...(f.bytes ? { bytes: String(f.bytes) } : {}) },
    first_seen: at, last_seen: at,
  };
}
